"""A refresh writes nothing inside the project checkout (docs/operations.md#state): with
LOYALTY_WAREHOUSE and LOYALTY_STATE_DIR pointed elsewhere, the project runs from a read-only
folder, and everything it keeps lands in the state folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR

pytestmark = pytest.mark.e2e


def checkout_files() -> list[str]:
    """The files a clone of this checkout has (tracked, plus new files not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_DIR,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (PROJECT_DIR / name).is_file()]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (ns)."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(root.rglob("*"))
    }


def set_writable(root: Path, writable: bool) -> None:
    write_bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~write_bits)


def test_a_refresh_from_a_read_only_checkout_writes_only_to_the_state_folder(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    checkout, published, state = tmp_path / "checkout", tmp_path / "published", tmp_path / "state"
    for name in checkout_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((PROJECT_DIR / name).read_bytes())
    set_writable(checkout, False)
    before = snapshot(checkout)
    environment = {
        **os.environ,
        "LOYALTY_LANDING_DIR": str(small_data[0]),
        "LOYALTY_WAREHOUSE": str(published / "loyalty.duckdb"),
        "LOYALTY_STATE_DIR": str(state),
        "LOYALTY_TARGET": "duckdb",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "refresh"],
            cwd=checkout,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        after = snapshot(checkout)
    finally:
        set_writable(checkout, True)
    assert completed.returncode in (0, 1), completed.stdout[-3000:] + completed.stderr[-3000:]
    assert after == before, f"the refresh wrote inside the checkout: {sorted(set(after) ^ set(before))[:20]}"
    # it ran the copy (not the checkout the venv was installed from)
    manifest = (state / "loyalty.duckdb.dbt" / "parse" / "manifest.json").read_text()
    assert str(checkout) in manifest
    # the published folder holds the warehouse only; the rest is in the state folder
    assert sorted(path.name for path in published.iterdir()) == ["loyalty.duckdb"]
    kept = {path.name for path in state.iterdir()}
    assert {
        "loyalty.duckdb.lock",
        "loyalty.duckdb.alerts.jsonl",
        "loyalty.duckdb.dbt",
        "loyalty.duckdb.dagster",
        "reconciliation_report.html",
    } <= kept
    with duckdb.connect(str(published / "loyalty.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.fct_balance_reconciliation").fetchone()[0] > 0
