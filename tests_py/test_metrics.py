"""The metrics of the semantic layer (README: Metrics) give the marts' own figures: `mf query`
run as a finance user runs it after a refresh — dbt target `published`, the published file
opened read-only while a BI client holds it open — against direct SQL on that file. Each case
(conftest.METRIC_CASES) compares every row; the PostgreSQL run is in test_postgres.py."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import METRIC_CASES, MetricCase, Refresh, mf_rows, run_mf, semantic_project, sql_rows

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def published(refreshed: tuple[Path, Refresh], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """The refreshed warehouse as mf reads it: its environment (target `published`) and a
    project folder parsed for it."""
    warehouse, result = refreshed
    assert result.returncode in (0, 1), result.stdout[-3000:]
    env = {"LOYALTY_TARGET": "published", "LOYALTY_WAREHOUSE": str(warehouse)}
    return env, semantic_project(tmp_path_factory.mktemp("mf-duckdb") / "project", env)


@pytest.fixture
def bi_reader(refreshed: tuple[Path, Refresh]) -> duckdb.DuckDBPyConnection:
    """A BI client holding the published file open, read-only (as `harlequin --read-only`
    does), for the whole test: mf must read beside it."""
    warehouse, _ = refreshed
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


@pytest.mark.parametrize("case", METRIC_CASES, ids=lambda case: case.name)
def test_metric_equals_the_marts(
    published: tuple[dict[str, str], Path], bi_reader: duckdb.DuckDBPyConnection, case: MetricCase, tmp_path: Path
) -> None:
    env, project = published
    expected = sql_rows(bi_reader.execute(case.sql).fetchall(), case)
    assert expected, f"the marts hold no rows for {case.name}: nothing would be compared"
    assert mf_rows(project, env, case, tmp_path / "result.csv") == expected


def test_a_quarter_closing_is_not_the_sum_of_its_month_ends(bi_reader: duckdb.DuckDBPyConnection) -> None:
    """The quarter case tells a semi-additive closing from a summed one only if some quarter's
    month ends add up to something else than its last month's closing: the data must have one."""
    quarters = bi_reader.execute(
        "select date_trunc('quarter', month) as quarter, count(*), sum(closing_liability),"
        " arg_max(closing_liability, month) from marts.fct_points_liability_monthly group by quarter"
    ).fetchall()
    assert any(months > 1 and summed != last for _, months, summed, last in quarters), quarters


def test_mf_validates_the_metrics_against_the_published_marts(
    published: tuple[dict[str, str], Path], bi_reader: duckdb.DuckDBPyConnection
) -> None:
    """The data-warehouse validations make test's metrics-check skips (it has no built
    warehouse): every semantic model, dimension, entity, measure and metric queried."""
    env, project = published
    completed = run_mf(project, env, "validate-configs")
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert "Successfully validated metrics against data warehouse" in completed.stdout


def test_the_read_write_target_is_refused_while_a_bi_client_has_the_file_open(
    published: tuple[dict[str, str], Path], bi_reader: duckdb.DuckDBPyConnection
) -> None:
    """Why mf reads through `published`: the `duckdb` target opens the file read-write, which
    DuckDB refuses while another process holds it (and which would lock BI readers out)."""
    env, project = published
    completed = run_mf(project, {**env, "LOYALTY_TARGET": "duckdb"}, "query", "--metrics", "closing_liability")
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "conflicting lock" in output.lower(), output[-3000:]
