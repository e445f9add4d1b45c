"""Explicit actions on store incentive months: publish (freeze the month's evaluation as the
one paid on) and reopen (withdraw it). People take them with

    python -m orchestration.cli incentives publish --month 2025-08 --by alice --note "paid"

Actions are appended to a journal in the state folder (``<warehouse>.incentive_actions.jsonl``)
rather than written into the published file, which BI readers may hold open and which each
refresh replaces; every refresh rebuilds ``raw.incentive_period_actions`` of the warehouse it
builds from the journal, so an action takes effect at the next refresh and is never lost.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from loyalty.failpoints import failpoint
from loyalty.settings import Settings
from loyalty.warehouse import execute

ACTIONS = ("publish", "reopen")


class ActionError(ValueError):
    """A bad argument; the message names it."""


def journal_path(settings: Settings) -> Path:
    return settings.incentive_journal


def record(settings: Settings, action: str, month: str, acted_by: str, note: str = "") -> dict[str, str]:
    """Journal ``action`` on ``month`` (YYYY-MM) by ``acted_by``; returns the entry. Raises
    ActionError naming a bad argument (docs/operations.md#incentive-months)."""
    if action not in ACTIONS:
        raise ActionError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ActionError(f"--month must be YYYY-MM, got {month!r}")
    if not acted_by.strip():
        raise ActionError("--by must name who acts")
    entry = {
        "period_month": f"{month}-01",
        "action": action,
        "acted_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "acted_by": acted_by.strip(),
        "note": note,
    }
    path = journal_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the whole journal rewritten to a draft and put in place with os.replace: a kill leaves
    # the old journal or the new one, never a torn line every later refresh would trip on
    # (docs/reliability.md#crash-safety)
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    draft = path.with_name(path.name + ".draft")
    with draft.open("w", encoding="utf-8") as handle:
        handle.write(before + json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    failpoint("incentives.journal")
    os.replace(draft, path)
    return entry


def load_into(connection, settings: Settings) -> int:
    """(Re)build raw.incentive_period_actions of a warehouse being built from the journal
    (a DuckDB or psycopg connection)."""
    execute(connection, "create schema if not exists raw")
    execute(connection, "drop table if exists raw.incentive_period_actions")
    execute(
        connection,
        "create table raw.incentive_period_actions ("
        "period_month date, action varchar, acted_at timestamp, acted_by varchar, note varchar)",
    )
    path = journal_path(settings)
    if not path.exists():
        return 0
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for entry in entries:
        execute(
            connection,
            "insert into raw.incentive_period_actions values (cast(? as date), ?, cast(? as timestamp), ?, ?)",
            [entry["period_month"], entry["action"], entry["acted_at"], entry["acted_by"], entry["note"]],
        )
    return len(entries)
