"""A peer's data: the ledger-reconciliation sandbox's own sample files, run through the
warehouse, reach the sandbox's verdicts (sum of events vs snapshot; |drift| <= 5 in balance,
<= 50 minor drift, above material mismatch)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tools.peer_sandbox import SandboxError, convert

from conftest import run_refresh

# A verbatim copy of ../shared/peer-cases/ledger-reconciliation-sandbox/, so CI runs it too.
SANDBOX = Path(__file__).resolve().parent / "fixtures" / "ledger-reconciliation-sandbox"


def sandbox_verdicts(sandbox: Path) -> dict[str, tuple[int, str]]:
    """The sandbox's own rule, written down independently of the warehouse."""
    events = json.loads((sandbox / "sample-ledger.json").read_text())
    balances = json.loads((sandbox / "sample-balances.json").read_text())
    totals: dict[str, int] = {}
    for event in events:
        totals[event["account_id"]] = totals.get(event["account_id"], 0) + event["points_delta"]
    verdicts = {}
    for balance in balances:
        drift = balance["snapshot_balance"] - totals.get(balance["account_id"], 0)
        status = "in_balance" if abs(drift) <= 5 else "minor_drift" if abs(drift) <= 50 else "material_mismatch"
        verdicts[balance["account_id"]] = (drift, status)
    return verdicts


@pytest.mark.e2e
def test_warehouse_reaches_the_sandbox_verdicts(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    convert(SANDBOX, landing)
    warehouse = tmp_path / "loyalty.duckdb"
    result = run_refresh(landing, warehouse)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select account_id, drift, drift_status, likely_cause, explanation from marts.fct_balance_reconciliation"
            " where balance_type = 'points'"
        ).fetchall()
    warehouse_verdicts = {account: (int(drift), status) for account, drift, status, _, _ in rows}
    expected = sandbox_verdicts(SANDBOX)
    assert warehouse_verdicts == expected
    # the sandbox prints one fixed sentence; the warehouse explains each mismatch
    for account, _, status, cause, explanation in rows:
        print(f"{account}: {status} / {cause}: {explanation}")
        if status != "in_balance":
            assert cause != "none"
            assert "ledger" in explanation
    assert result.returncode == 1  # the sandbox data holds material mismatches: findings


def test_sandbox_converter_names_a_bad_entry(tmp_path: Path) -> None:
    (tmp_path / "sample-ledger.json").write_text(
        '[{"account_id": "A1", "timestamp": "yesterday", "type": "earn", "points_delta": 1}]'
    )
    (tmp_path / "sample-balances.json").write_text("[]")
    with pytest.raises(SandboxError, match="sample-ledger.json entry 0: timestamp 'yesterday'"):
        convert(tmp_path, tmp_path / "out")
