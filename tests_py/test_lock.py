"""One writer per warehouse: a second refresh is refused with a clear message (or waits)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from loyalty.lock import WarehouseBusy, holding
from loyalty.settings import load_settings

from conftest import PROJECT_DIR, run_refresh

HOLD = """
import sys, time
from loyalty.lock import acquire
from loyalty.settings import load_settings
acquire(load_settings({"LOYALTY_WAREHOUSE": sys.argv[1]}))
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(warehouse: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse), str(seconds)],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_second_refresh_is_refused_while_another_writes(tmp_path: Path) -> None:
    warehouse = tmp_path / "loyalty.duckdb"
    holder = hold_lock(warehouse, 60)
    try:
        started = time.monotonic()
        result = run_refresh(tmp_path / "landing", warehouse)
        assert result.returncode == 2
        assert "another refresh is writing" in result.stderr
        assert f"pid {holder.pid}" in result.stderr
        assert time.monotonic() - started < 60
        assert not warehouse.exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_writer_gets_the_lock_when_the_first_finishes(tmp_path: Path) -> None:
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "loyalty.duckdb")})
    holder = hold_lock(settings.warehouse, 2)
    try:
        with pytest.raises(WarehouseBusy, match="refused after waiting 0 s"), holding(settings, 0):
            pass
        started = time.monotonic()
        with holding(settings, 30):
            assert time.monotonic() - started >= 0.5
    finally:
        holder.kill()
        holder.wait()


def test_a_crashed_writer_releases_the_lock(tmp_path: Path) -> None:
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "loyalty.duckdb")})
    holder = hold_lock(settings.warehouse, 60)
    holder.kill()
    holder.wait()
    with holding(settings, 5):
        pass
