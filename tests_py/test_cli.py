"""The command line names what is wrong with its arguments and exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_DIR


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def test_unknown_target_is_named(tmp_path: Path) -> None:
    result = cli("refresh", env={"LOYALTY_TARGET": "oracle", "LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb")})
    assert result.returncode == 2
    assert "LOYALTY_TARGET='oracle'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["publish", "--month", "2025-13", "--by", "alice"], "--month must be YYYY-MM, got '2025-13'"),
        (["publish", "--month", "2025-08", "--by", " "], "--by must name who acts"),
    ],
)
def test_incentive_action_arguments_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("incentives", *args, env={"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb")})
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "w.duckdb.incentive_actions.jsonl").exists()


def test_incentive_actions_are_journaled_beside_the_warehouse(tmp_path: Path) -> None:
    env = {"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb")}
    assert (
        cli("incentives", "publish", "--month", "2025-08", "--by", "alice", "--note", "paid", env=env).returncode == 0
    )
    assert cli("incentives", "reopen", "--month", "2025-08", "--by", "bob", env=env).returncode == 0
    lines = (tmp_path / "w.duckdb.incentive_actions.jsonl").read_text().splitlines()
    assert [(json.loads(line)["action"], json.loads(line)["period_month"]) for line in lines] == [
        ("publish", "2025-08-01"),
        ("reopen", "2025-08-01"),
    ]


def test_alerts_command_lists_the_queue_and_names_a_bad_since(tmp_path: Path) -> None:
    env = {"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb")}
    from loyalty import alerts
    from loyalty.settings import load_settings

    settings = load_settings(env)
    alerts.record(settings, [alerts.run_failure_alert("run-9", "dbt build failed", raised_at="2026-03-02T06:00:00Z")])
    listed = cli("alerts", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "refresh run failed: dbt build failed  [docs/runbook.md#run-failure]" in listed.stdout
    assert "1 alert(s) in" in listed.stdout
    assert "0 alert(s)" in cli("alerts", "list", "--since", "2026-03-03", env=env).stdout
    bad = cli("alerts", "list", "--since", "last tuesday", env=env)
    assert bad.returncode == 2 and "--since 'last tuesday'" in bad.stderr
    no_since = cli("alerts", "resend", env=env)
    assert no_since.returncode == 2 and "alerts resend needs --since" in no_since.stderr
