"""Fault campaign, personal data (docs/reliability.md#personal-data): no member email leaves the
build database. The contract (docs/operations.md#write-audit-publish, docs/landing.md#personal-data: email
is personal data) says the published DuckDB file holds no personal data in any table; the same
holds for what a refresh leaves for people to read: the alert queue, the refresh log and the
dbt logs and artifacts in the state folder, and the HTML report.

Two cases: the clean reference refresh, and a members file the loader refuses whose lines carry
emails (a failed refresh writes its error to the terminal, the logs, Dagster's event log and the
alert queue, which the next publish loads into ``audit.alerts``).

Every email delivered in the landing folder (the `email` column of every `members` file, CSV or
Parquet) is looked for, as a substring, in every value of every column of every table of the
published file (each value cast to text), and in those files; so is the generic shape
local@domain, except in dbt's project artifacts (manifest, parse cache, graph), which carry
the project's documentation with its made-up examples and no row of data.
"""

from __future__ import annotations

import csv
import re
import shutil
import time
from pathlib import Path

import duckdb

from tools.faults import Result
from tools.faults.workspace import clean_landing, copy_warehouse, reference, run_refresh

PART = "personal data"
# local@domain.tld: a masked address (***@example.net) has no local part of this shape
EMAIL_SHAPE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# dbt's project artifacts: the parsed project (docs and SQL), never a row of data
PROJECT_ARTIFACTS = ("manifest.json", "partial_parse.msgpack", "graph.gpickle", "graph_summary.json")


def delivered_emails(landing: Path) -> set[str]:
    """Every non-empty email of every members file of a landing folder (Parquet read by DuckDB,
    CSV by the csv module, so that a file the loader refuses is read too)."""
    emails: set[str] = set()
    for path in sorted((landing / "members").glob("*")):
        if path.suffix == ".parquet":
            with duckdb.connect() as connection:
                values = [
                    value
                    for (value,) in connection.execute(
                        f"select cast(email as varchar) from read_parquet('{path}')"
                    ).fetchall()
                ]
        elif path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8", errors="replace") as handle:
                rows = list(csv.reader(handle))
            column = [name.strip().lstrip("\ufeff") for name in rows[0]].index("email") if rows else 0
            values = [row[column] for row in rows[1:] if len(row) > column]
        else:
            continue
        emails |= {value.strip() for value in values if value and value.strip()}
    return emails


def _leaks(text: str, emails: set[str], *, shape: bool) -> list[str]:
    found = sorted(email for email in emails if email in text)
    if shape and not found:
        found = sorted(set(EMAIL_SHAPE.findall(text)))
    return found


def scan_published(warehouse: Path, emails: set[str]) -> list[str]:
    """One line per table column of a published DuckDB file holding a delivered email or a value
    of the shape local@domain (every table, every column cast to text)."""
    lines = []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        columns = connection.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " order by table_schema, table_name, ordinal_position"
        ).fetchall()
        for schema, table, column in columns:
            values = connection.execute(
                f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" where "{column}" is not null'
            ).fetchall()
            text = "\n".join(value for (value,) in values)
            found = _leaks(text, emails, shape=True)
            if found:
                lines.append(f"{warehouse.name}: {schema}.{table}.{column} holds {found[:3]}")
    return lines


def state_files(warehouse: Path) -> list[Path]:
    """What a refresh leaves for people to read besides the published file: the alert queue,
    the incentive journal, every file under the dbt folder (refresh.log, dbt logs, run results),
    Dagster's storage (event logs, compute logs) and the HTML report."""
    state = warehouse.parent
    files = [state / f"{warehouse.name}.alerts.jsonl", state / "reconciliation_report.html"]
    files += [state / f"{warehouse.name}.incentive_actions.jsonl"]
    for folder in (state / f"{warehouse.name}.dbt", state / f"{warehouse.name}.dagster"):
        files += sorted(path for path in folder.rglob("*") if path.is_file())
    return [path for path in files if path.exists()]


def scan_files(warehouse: Path, emails: set[str]) -> list[str]:
    """One line per state file (``state_files``) holding a delivered email, or the shape
    local@domain outside dbt's project artifacts."""
    lines = []
    for path in state_files(warehouse):
        text = path.read_bytes().decode("utf-8", errors="replace")
        found = _leaks(text, emails, shape=path.name not in PROJECT_ARTIFACTS)
        if found:
            lines.append(f"{path.relative_to(warehouse.parent.parent)} holds {found[:3]}")
    return lines


def scan(warehouse: Path, landing: Path) -> Result:
    """Scan one refreshed DuckDB warehouse (published file and state folder) for the emails of
    ``landing``; a Result whose mismatches name every leak. Raises nothing for a leak or a
    missing published file (both are mismatches); only for a file it cannot read."""
    started = time.monotonic()
    emails = delivered_emails(landing)
    mismatches = [] if emails else [f"{landing}: no email delivered, the scan would prove nothing"]
    if not warehouse.exists():
        mismatches.append(f"{warehouse}: no published file to scan")
    else:
        mismatches += scan_published(warehouse, emails) + scan_files(warehouse, emails)
    label = f"{warehouse.parent.parent.name}/{warehouse.parent.name}"
    return Result(
        part=PART,
        what=f"{label}: published file, alerts, logs, report ({len(emails)} emails)",
        tried=1,
        survived=int(not mismatches),
        mismatches=mismatches,
        seconds=time.monotonic() - started,
    )


UNREADABLE = "members/zz-unreadable.csv"
PLANTED = ("planted.unreadable@example.org", "planted.valid-row@example.org")


def unreadable_members_file(workdir: Path, *, full: bool) -> Result:
    """A members file the loader refuses (a line with one field too many) whose rows carry
    emails, delivered to a copy of the reference: the refresh fails naming the file (exit 2,
    docs/landing.md#file-level-errors) and neither its output, the state folder (alert queue,
    logs, Dagster's event log) nor the published file (kept as it was) holds an email."""
    started = time.monotonic()
    landing, _ = clean_landing(workdir, full=full)
    clean, _ = reference(workdir, full=full)
    folder = workdir / "unreadable-members-file"
    shutil.rmtree(folder, ignore_errors=True)
    warehouse = copy_warehouse(clean, folder / "warehouse")
    shutil.copytree(landing, folder / "landing")
    (folder / "landing" / UNREADABLE).write_text(
        "account_id,email,enrolled_at,home_store_id,status\n"
        f"A9999998,{PLANTED[1]},2024-01-01T00:00:00Z,,active\n"
        f"A9999999,{PLANTED[0]},2024-01-01T00:00:00Z,,active,one field too many\n",
        encoding="utf-8",
    )
    refresh = run_refresh(folder / "landing", warehouse)
    emails = delivered_emails(folder / "landing")
    mismatches = []
    if refresh.returncode != 2 or UNREADABLE not in refresh.stdout + refresh.stderr:
        mismatches.append(f"expected exit 2 naming {UNREADABLE}, got {refresh.returncode}: {refresh.tail(300)}")
    output = refresh.stdout + refresh.stderr
    found = _leaks(output, emails, shape=True)
    if found:
        mismatches.append(f"the refresh's output holds {found[:3]}")
    mismatches += scan_published(warehouse, emails) + scan_files(warehouse, emails)
    return Result(
        part=PART,
        what="an unreadable members file carrying emails: output, state folder, published file",
        tried=1,
        survived=int(not mismatches),
        mismatches=mismatches,
        seconds=time.monotonic() - started,
    )


def campaign(workdir: Path, *, full: bool) -> list[Result]:
    """Scan the shared clean reference warehouse (made if missing, tools.faults.workspace), then
    deliver an unreadable members file carrying emails to a copy of it and scan again
    (``unreadable_members_file``); in full mode, also scan the other DuckDB warehouses the
    determinism and re-delivery parts left beside ``workdir`` (the one-thread run; each
    re-delivery scenario's warehouse against its own landing folder, re-deliveries included).

    Returns one Result per scan; raises CampaignError when the reference cannot be made."""
    landing, _ = clean_landing(workdir, full=full)
    warehouse, _ = reference(workdir, full=full)
    results = [scan(warehouse, landing), unreadable_members_file(workdir, full=full)]
    if full:
        campaign_folder = workdir.parent
        for other in sorted(campaign_folder.glob("*/threads-1/loyalty.duckdb")):
            results.append(scan(other, landing))
        for other in sorted(campaign_folder.glob("*/redelivery-*/warehouse/loyalty.duckdb")):
            results.append(scan(other, other.parent.parent / "landing"))
    return results
