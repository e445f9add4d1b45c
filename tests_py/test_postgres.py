"""The same warehouse on PostgreSQL (LOYALTY_TARGET=postgres): the whole refresh through the
real command, marts identical to DuckDB's, finance-only access, write-audit-publish."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import psycopg
import pytest
from openpyxl import load_workbook

from loyalty import docs_site
from loyalty.settings import load_settings
from loyalty.warehouse import BUILD_SUFFIX, PgQueries, pg_conninfo
from tools.compare_engines import checksums, compare

from conftest import (
    METRIC_CASES,
    Refresh,
    closed_month_materializations,
    mf_rows,
    run_pg_refresh,
    semantic_project,
    sql_rows,
    workbook_mismatches,
)

pytestmark = pytest.mark.e2e


def pg(pg_env: dict[str, str], **overrides: str) -> psycopg.Connection:
    return psycopg.connect(**{**pg_conninfo(pg_env), **overrides}, autocommit=True)


def finance_user(pg_env: dict[str, str]) -> psycopg.Connection:
    """A login role that is a member of finance_reader, as a BI user would be."""
    with pg(pg_env) as admin:
        admin.execute("drop role if exists fiona")
        admin.execute("create role fiona login in role finance_reader")
    return pg(pg_env, user="fiona")


def checks_line(stdout: str) -> str:
    match = re.search(r"^Checks: .*$", stdout, re.MULTILINE)
    assert match, stdout[-3000:]
    return match.group(0)


def mart_checksums(pg_env: dict[str, str]) -> dict[str, tuple[int, str]]:
    with pg(pg_env) as connection:
        return checksums(PgQueries(connection))


def test_postgres_refresh_runs_every_check_and_publishes(pg_refreshed: tuple[dict, Path, Refresh]) -> None:
    pg_env, state, result = pg_refreshed
    # the small data carries injected faults: findings fail, the marts are published anyway
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "(NOT published" not in result.stdout
    assert "integrity FAILED" not in result.stdout and "model ERROR" not in result.stdout
    assert "postgresql://" in result.stdout
    with pg(pg_env) as connection:
        schemas = {name for (name,) in connection.execute("select schema_name from information_schema.schemata")}
        loaded = connection.execute("select count(*) from raw.load_log where outcome = 'loaded'").fetchone()[0]
    assert {"raw", "staging", "intermediate", "marts", "audit", "findings", "program"} <= schemas
    assert not {name for name in schemas if name.endswith(BUILD_SUFFIX)}, "build schemas are renamed at publish"
    assert loaded > 0
    assert (state.parent / "reconciliation_report.html").exists()
    # the roll-forwards workbook holds the published PostgreSQL marts, cell for cell
    workbook = state.parent / "month_end_rollforwards.xlsx"
    with pg(pg_env) as connection:
        assert workbook_mismatches(workbook, PgQueries(connection)) == []
    cover = {row[0].value: row[1].value for row in load_workbook(workbook)["Cover"].iter_rows(max_col=2)}
    assert cover["Source"].startswith("postgresql://")


def test_marts_are_identical_on_duckdb_and_postgres(
    refreshed: tuple[Path, Refresh], pg_refreshed: tuple[dict, Path, Refresh]
) -> None:
    warehouse, duck_result = refreshed
    pg_env, _, pg_result = pg_refreshed
    with duckdb.connect(str(warehouse), read_only=True) as left, pg(pg_env) as right:
        results = compare(left, PgQueries(right))
    assert len(results) >= 16
    different = {
        r.mart: (r.left_rows, r.right_rows, r.only_left, r.only_right, r.columns_differ) for r in results if not r.equal
    }
    assert not different
    # nothing was published or restated in the small data; every other mart has rows to compare
    empty_by_design = {"fct_store_incentive_published", "fct_store_incentive_restatements"}
    assert all(result.left_rows > 0 for result in results if result.mart not in empty_by_design)
    # the same rows were quarantined for the same reasons
    rejects = "select source_file, source_row_number, reason from audit.rejected_source_rows order by 1, 2"
    with duckdb.connect(str(warehouse), read_only=True) as left, pg(pg_env) as right:
        assert left.execute(rejects).fetchall() == right.execute(rejects).fetchall()
    # the same dbt tests ran with the same verdicts
    assert checks_line(pg_result.stdout) == checks_line(duck_result.stdout)
    assert duck_result.returncode == pg_result.returncode


def test_the_docs_site_reads_the_catalog_of_the_published_schemas(
    pg_refreshed: tuple[dict, Path, Refresh], monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_env, state, _ = pg_refreshed
    for name, value in pg_env.items():  # dbt reads the connection from the PG* variables
        monkeypatch.setenv(name, value)
    settings = load_settings({"LOYALTY_WAREHOUSE": str(state), "LOYALTY_TARGET": "postgres"})
    before = mart_checksums(pg_env)
    page = docs_site.build(settings)
    assert docs_site.remote_loads(page.read_text(encoding="utf-8")) == []
    catalog = json.loads((settings.docs_site_dir / "catalog.json").read_text(encoding="utf-8"))
    mart = catalog["nodes"]["model.loyalty.fct_points_liability_monthly"]
    assert mart["metadata"]["schema"] == "marts" and mart["columns"]["closing_points"]["type"] == "bigint"
    assert "model.loyalty.stg_loyalty__ledger_events" in catalog["nodes"]
    # it only read: the published marts are as they were and no build schema was made
    assert mart_checksums(pg_env) == before
    with pg(pg_env) as connection:
        schemas = {name for (name,) in connection.execute("select schema_name from information_schema.schemata")}
    assert not {name for name in schemas if name.endswith(BUILD_SUFFIX)}


def test_finance_reader_reads_the_marts_and_nothing_else(pg_refreshed: tuple[dict, Path, Refresh]) -> None:
    pg_env, _, _ = pg_refreshed
    with finance_user(pg_env) as fiona:
        points = fiona.execute(
            "select count(*), sum(closing_liability) from marts.fct_points_liability_monthly"
        ).fetchone()
        wallet = fiona.execute("select count(*) from marts.fct_wallet_liability_monthly").fetchone()
        assert points[0] > 0 and points[1] is not None and wallet[0] > 0
        for forbidden in (
            "raw.load_log",
            "raw.members",
            "staging.stg_loyalty__members",
            "intermediate.int_balance_movements",
            "audit.rejected_source_rows",
            "audit.alerts",
            "program.program_tiers",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                fiona.execute(f"select count(*) from {forbidden}")


def test_a_second_refresh_loads_nothing_and_changes_no_mart(
    pg_refreshed: tuple[dict, Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    pg_env, state, _ = pg_refreshed
    history_sql = "select count(*), min(evaluated_at), max(evaluated_at) from marts.fct_store_incentive_evaluations"
    with pg(pg_env) as connection:
        history = connection.execute(history_sql).fetchone()
    before = mart_checksums(pg_env)
    # a dbt var set to its default changes what the build depends on: a rebuild with no new file
    same_vars = {"LOYALTY_DBT_VARS": json.dumps({"points_tolerance_minor": 50})}
    again = run_pg_refresh(small_data[0], state, pg_env, env=same_vars)
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
    assert "files:     0 loaded" in again.stdout
    assert mart_checksums(pg_env) == before
    unchanged = run_pg_refresh(small_data[0], state, pg_env, env=same_vars)
    assert unchanged.returncode == 1, unchanged.stdout[-3000:]
    assert "nothing new" in unchanged.stdout
    # the append-only evaluation history survives the rebuild: same rows, first evaluation's time
    with pg(pg_env) as connection:
        assert connection.execute(history_sql).fetchone() == history


def test_integrity_failure_leaves_the_published_schemas_as_they_were(
    pg_refreshed: tuple[dict, Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    pg_env, state, _ = pg_refreshed
    before = mart_checksums(pg_env)
    broken = json.dumps({"wallet_tolerance_overrides": {"EUR": {"in_balance": "'x'", "minor": 10}}})
    result = run_pg_refresh(small_data[0], state, pg_env, env={"LOYALTY_DBT_VARS": broken})
    assert result.returncode == 2, result.stdout[-3000:]
    assert "NOT published" in result.stdout
    assert mart_checksums(pg_env) == before
    with finance_user(pg_env) as fiona:  # finance still reads the last good marts
        assert fiona.execute("select count(*) from marts.fct_points_liability_monthly").fetchone()[0] > 0


def test_spark_target_is_refused_by_refresh_with_a_clear_message(tmp_path: Path, small_data: tuple[Path, Path]) -> None:
    from conftest import run_refresh

    result = run_refresh(small_data[0], tmp_path / "w.duckdb", env={"LOYALTY_TARGET": "spark"})
    assert result.returncode == 2
    assert "make test-spark" in result.stderr


def test_closing_an_incentive_month_on_postgres_publishes_it_and_keeps_the_history(
    pg_refreshed: tuple[dict, Path, Refresh], small_data: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv

    import dagster as dg

    pg_env, state, _ = pg_refreshed
    for name, value in {**pg_env, "LOYALTY_TARGET": "postgres", "LOYALTY_WAREHOUSE": str(state)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOYALTY_LANDING_DIR", str(small_data[0]))
    history_sql = "select count(*), min(evaluated_at) from marts.fct_store_incentive_evaluations"
    with pg(pg_env) as connection:
        history = connection.execute(history_sql).fetchone()
    from loyalty.settings import load_settings
    from orchestration.definitions import build_defs

    month = "2025-06-01"
    job = build_defs(load_settings()).resolve_job_def("incentive_close")
    result = job.execute_in_process(partition_key=month, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    (materialization,) = closed_month_materializations(result)
    with (small_data[1] / "store_eligibility.csv").open(newline="") as handle:
        expected = [row for row in csv.DictReader(handle) if row["period_month"] == month]
    assert materialization.metadata["stores"].value == len(expected)
    assert materialization.metadata["eligible_stores"].value == sum(row["eligible"] == "true" for row in expected)
    with pg(pg_env) as connection:
        published = connection.execute(
            "select distinct cast(period_month as text) from marts.fct_store_incentive_published"
        ).fetchall()
        assert published == [(month,)]
        assert connection.execute(history_sql).fetchone() == history
    # the close published a whole warehouse (a failing finding skips no mart) that finance still reads
    with finance_user(pg_env) as fiona:
        for mart in ("rpt_reconciliation_summary", "rpt_warehouse_summary", "fct_points_liability_monthly"):
            assert fiona.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart


# the cases of the brief's finance and operations questions; test_metrics.py runs all of them on DuckDB
PG_METRIC_CASES = (
    "closing_liability_by_month",
    "closing_liability_by_quarter_is_its_last_month",
    "points_movements_by_month",
    "balances_out_of_balance_by_drift_status_and_cause",
    "eligible_stores_by_month",
)


def test_metrics_equal_the_marts_for_a_finance_reader(pg_refreshed: tuple[dict, Path, Refresh], tmp_path: Path) -> None:
    """`mf query` on PostgreSQL as a member of finance_reader (README: Metrics): the metrics
    read the published `marts` schema with that role's rights and equal its rows."""
    pg_env, _, _ = pg_refreshed
    env = {**pg_env, "LOYALTY_TARGET": "postgres"}
    project = semantic_project(tmp_path / "project", env)
    with pg(pg_env) as admin:
        admin.execute("drop role if exists mf_finance_user")
        admin.execute("create role mf_finance_user login in role finance_reader")
    reader_env = {**env, "PGUSER": "mf_finance_user"}
    cases = [case for case in METRIC_CASES if case.name in PG_METRIC_CASES]
    assert len(cases) == len(PG_METRIC_CASES)
    with pg(pg_env, user="mf_finance_user") as reader:
        for case in cases:
            expected = sql_rows(reader.execute(case.sql).fetchall(), case)
            assert expected, f"the marts hold no rows for {case.name}: nothing would be compared"
            assert mf_rows(project, reader_env, case, tmp_path / f"{case.name}.csv") == expected, case.name
