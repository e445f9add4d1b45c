"""Turn the ledger-reconciliation sandbox's sample files into a landing folder.

The sandbox (../shared/peer-cases/ledger-reconciliation-sandbox/) ships two JSON files:
``sample-ledger.json`` (events: account_id, timestamp, type, points_delta, description) and
``sample-balances.json`` (account_id, snapshot_balance). It compares every account's sum of
events with its snapshot; the snapshot has no as_of, so it is dated one day after the last
event, and every event is recorded when it occurred.

    python -m tools.peer_sandbox --sandbox DIR --out LANDING_DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from loyalty.landing.contract import SOURCES


class SandboxError(ValueError):
    """The sandbox files are not what the converter expects; the message names file and entry."""


def _timestamp(value: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError) as error:
        raise SandboxError(f"{where}: timestamp {value!r} is not ISO 8601") from error


def _read(path: Path) -> list[dict]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SandboxError(f"{path}: cannot read JSON ({error})") from error
    if not isinstance(entries, list):
        raise SandboxError(f"{path}: expected a JSON list of objects")
    return entries


def convert(sandbox: Path, out: Path) -> None:
    ledger_path, balances_path = sandbox / "sample-ledger.json", sandbox / "sample-balances.json"
    events = _read(ledger_path)
    balances = _read(balances_path)
    for index, event in enumerate(events):
        for field in ("account_id", "timestamp", "type", "points_delta"):
            if field not in event:
                raise SandboxError(f"{ledger_path} entry {index}: missing {field!r}")
    moments = [_timestamp(event["timestamp"], f"{ledger_path} entry {index}") for index, event in enumerate(events)]
    as_of = (max(moments) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    accounts = sorted({event["account_id"] for event in events} | {balance["account_id"] for balance in balances})
    first_seen = min(moments).strftime("%Y-%m-%dT%H:%M:%SZ")

    def write(source: str, rows: list[list[object]]) -> None:
        folder = out / source
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "sandbox.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(SOURCES[source].columns)
            writer.writerows(rows)

    write(
        "members", [[account, f"{account.lower()}@sandbox.invalid", first_seen, "", "active"] for account in accounts]
    )
    ordered = sorted(zip(moments, range(len(events)), events, strict=True))
    write(
        "ledger_events",
        [
            [
                f"SBX{number:04d}",
                event["account_id"],
                event["type"],
                int(event["points_delta"]),
                event["timestamp"],
                event["timestamp"],
                "",
                "",
                "sandbox",
            ]
            for number, (_, _, event) in enumerate(ordered, start=1)
        ],
    )
    write(
        "balance_snapshots",
        [[balance["account_id"], "points", "", int(balance["snapshot_balance"]), as_of] for balance in balances],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.peer_sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sandbox", type=Path, required=True, help="folder with sample-ledger.json and sample-balances.json"
    )
    parser.add_argument("--out", type=Path, required=True, help="landing folder to write")
    args = parser.parse_args(argv)
    try:
        convert(args.sandbox, args.out)
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
