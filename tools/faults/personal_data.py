"""Fault campaign, personal data (docs/reliability.md#personal-data): no member email leaves the
build database. The contract (../shared/CONTRACT.md §1 "Publishing", §2 `members`: email is
personal data) says the published DuckDB file holds no personal data in any table; the same
holds for what a refresh leaves for people to read: the alert queue, the refresh log and the
dbt logs and artifacts in the state folder, and the HTML report.

Every email delivered in the landing folder (the `email` column of every `members` file, CSV or
Parquet) is looked for, as a substring, in every value of every column of every table of the
published file (each value cast to text), and in those files; so is the generic shape
local@domain, except in dbt's project artifacts (manifest, parse cache, graph), which carry
the project's documentation with its made-up examples and no row of data.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from tools.faults import Result
from tools.faults.workspace import clean_landing, reference

PART = "personal data"
# local@domain.tld: a masked address (***@example.net) has no local part of this shape
EMAIL_SHAPE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# dbt's project artifacts: the parsed project (docs and SQL), never a row of data
PROJECT_ARTIFACTS = ("manifest.json", "partial_parse.msgpack", "graph.gpickle", "graph_summary.json")


def delivered_emails(landing: Path) -> set[str]:
    """Every non-empty email of every members file of a landing folder (CSV read as text)."""
    emails: set[str] = set()
    with duckdb.connect() as connection:
        for path in sorted((landing / "members").glob("*")):
            if path.suffix == ".parquet":
                relation = f"read_parquet('{path}')"
            elif path.suffix == ".csv":
                relation = f"read_csv('{path}', all_varchar = true, header = true)"
            else:
                continue
            rows = connection.execute(f"select cast(email as varchar) from {relation}").fetchall()
            emails |= {value.strip() for (value,) in rows if value and value.strip()}
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
    the Dagster compute logs and the HTML report."""
    state = warehouse.parent
    files = [state / f"{warehouse.name}.alerts.jsonl", state / "reconciliation_report.html"]
    files += [state / f"{warehouse.name}.incentive_actions.jsonl"]
    for folder in (state / f"{warehouse.name}.dbt", state / f"{warehouse.name}.dagster" / "storage"):
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
    ``landing``; a Result whose mismatches name every leak. Raises CampaignError-free: a warehouse
    that was never published is reported as a mismatch."""
    started = time.monotonic()
    emails = delivered_emails(landing)
    mismatches = [] if emails else [f"{landing}: no email delivered, the scan would prove nothing"]
    if not warehouse.exists():
        mismatches.append(f"{warehouse}: no published file to scan")
    else:
        mismatches += scan_published(warehouse, emails) + scan_files(warehouse, emails)
    return Result(
        part=PART,
        what=f"{warehouse.parent.name}: published file, alerts, logs, report ({len(emails)} emails)",
        tried=1,
        survived=int(not mismatches),
        mismatches=mismatches,
        seconds=time.monotonic() - started,
    )


def campaign(workdir: Path, *, full: bool) -> list[Result]:
    """Scan the shared clean reference warehouse (made if missing, tools.faults.workspace) and,
    in full mode, the other DuckDB warehouses the determinism and re-delivery parts left beside
    ``workdir`` (the one-thread run; each re-delivery scenario's warehouse against its own
    landing folder, re-deliveries included).

    Returns one Result per warehouse; raises CampaignError when the reference cannot be made."""
    landing, _ = clean_landing(workdir, full=full)
    warehouse, _ = reference(workdir, full=full)
    results = [scan(warehouse, landing)]
    if full:
        campaign_folder = workdir.parent
        for other in sorted(campaign_folder.glob("*/threads-1/loyalty.duckdb")):
            results.append(scan(other, landing))
        for other in sorted(campaign_folder.glob("*/redelivery-*/warehouse/loyalty.duckdb")):
            results.append(scan(other, other.parent.parent / "landing"))
    return results
