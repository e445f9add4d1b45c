"""Crash safety (docs/reliability.md#crash-safety): the failpoint registry and its arming, and one
refresh killed with SIGKILL inside the dbt build then run again (tools/faults/crashes.py; the
other points run in `make faults`)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loyalty import alerts, failpoints
from loyalty.settings import SettingsError, load_settings
from loyalty.warehouse import BuildJournal, open_warehouse
from orchestration.defs.dbt.assets import NODE_FAILPOINTS
from tools.faults import crashes

from conftest import PROJECT_DIR


def test_an_unknown_failpoint_is_a_settings_error_and_a_known_one_is_kept() -> None:
    with pytest.raises(SettingsError, match="LOYALTY_FAILPOINT: 'dbt.nope' is not a failpoint"):
        load_settings({"LOYALTY_FAILPOINT": "dbt.nope"})
    assert load_settings({"LOYALTY_FAILPOINT": "pg.swap"}).failpoint == "pg.swap"
    assert load_settings({}).failpoint is None
    with pytest.raises(ValueError, match="not a failpoint"):
        failpoints.failpoint("publish.nowhere")
    failpoints.failpoint("publish.after_swap")  # not armed: nothing happens


def test_every_point_is_fired_by_the_code_and_run_by_the_campaign() -> None:
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("loyalty", "orchestration")
        for path in (PROJECT_DIR / folder).rglob("*.py")
    )
    fired = set(re.findall(r"failpoint\(\"([a-z_.]+)\"\)", code)) | set(NODE_FAILPOINTS.values())
    assert fired == set(failpoints.FAILPOINTS), f"registry vs code: {fired ^ set(failpoints.FAILPOINTS)}"
    campaign = set(crashes.DUCKDB_POINTS) | set(crashes.SPECIAL_POINTS) | set(crashes.POSTGRES_POINTS)
    assert campaign == set(failpoints.FAILPOINTS), (
        f"points the campaign never runs: {set(failpoints.FAILPOINTS) - campaign}"
    )


def test_an_armed_point_kills_its_process_group_and_only_it() -> None:
    # started in the test's own process group: arming must move the command into its own
    script = (
        "import subprocess\n"
        "from loyalty import failpoints\n"
        "failpoints.arm('load.after')\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(child.pid, flush=True)\n"
        "failpoints.failpoint('dbt.mart')\n"
        "print('other points pass', flush=True)\n"
        "failpoints.failpoint('load.after')\n"
        "print('survived', flush=True)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == -9, completed.stderr
    lines = completed.stdout.split()
    assert lines[1:] == ["other", "points", "pass"]
    child = Path(f"/proc/{lines[0]}/status")
    deadline = time.monotonic() + 10
    while child.exists() and "zombie" not in child.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not child.exists() or "zombie" in child.read_text(), "the kill takes the command's children (dbt) too"


def test_a_torn_alert_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "loyalty.duckdb")})
    alert = alerts.run_failure_alert("run-1", "boom", raised_at="2026-01-01T00:00:00Z")
    alerts.queue_path(settings).write_text('{"alert_key": "torn', encoding="utf-8")  # a kill mid-line
    assert alerts.record(settings, [alert]) == [alert]
    assert [row["alert_key"] for row in alerts.queued(settings)] == [alert.alert_key]
    assert alerts.record(settings, [alert]) == []


@pytest.mark.e2e
def test_a_refresh_killed_inside_the_dbt_build_then_run_again_gives_the_clean_marts(tmp_path: Path) -> None:
    (result,) = crashes.campaign(tmp_path, full=False)
    assert result.part == "crash"
    assert result.mismatches == [], "\n".join(result.mismatches)
    assert (result.tried, result.survived) == (1, 1)
    assert result.delivered > 0 and result.conserved
    # the point's state folder is a copy (a new build path in the dbt vars): its first refresh
    # parses the project once (orchestration/defs/dbt/project.py), and no dbt command of either
    # refresh parses it again in full
    copied = tmp_path / "points" / crashes.BOUNDED_POINTS[0] / "loyalty.duckdb.dbt"
    logs = [copied / phase / "dbt.log" for phase in ("build", "findings")]
    assert all(log.exists() for log in logs)
    assert not [log for log in logs if "Unable to do partial parsing" in log.read_text(encoding="utf-8")]


def test_a_refresh_killed_after_its_swap_is_finished_not_rolled_back(tmp_path: Path) -> None:
    # docs/operations.md#rollback: the journal notes the new file's inode just before the swap
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "loyalty.duckdb")})
    settings.warehouse.write_bytes(b"the file the swap put in place")
    report_draft = settings.report_path.with_name(settings.report_path.name + ".work")
    report_draft.write_text("the dead refresh's report", encoding="utf-8")
    settings.workbook_draft_path.write_bytes(b"the dead refresh's workbook")
    inode = settings.warehouse.stat().st_ino
    swapped = BuildJournal(status="building", load_ids=["b1"], exit_code=0, swap_inode=inode, pending_exit_code=1)
    not_swapped = BuildJournal(status="building", swap_inode=inode + 1)
    warehouse = open_warehouse(settings)
    assert not warehouse.swapped_before_kill(not_swapped)
    assert not warehouse.swapped_before_kill(BuildJournal(status="building"))
    assert warehouse.swapped_before_kill(swapped)
    warehouse.finish_killed_publish(swapped)
    journal = BuildJournal.read(settings)
    assert journal is not None
    assert (journal.status, journal.exit_code, journal.load_ids) == ("published", 1, ["b1"])
    assert (journal.swap_inode, journal.pending_exit_code) == (None, None)
    assert settings.report_path.read_text(encoding="utf-8") == "the dead refresh's report"
    assert not report_draft.exists()
    assert settings.workbook_path.read_bytes() == b"the dead refresh's workbook"
    assert not settings.workbook_draft_path.exists()
