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
