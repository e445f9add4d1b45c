"""Incremental refresh on PostgreSQL (docs/operations.md#incremental-refresh): the batches of
test_incremental.py (months out of order, a re-delivered file, a conflicting row, new month
ends in between) give, row for row, the marts a ``--full-refresh`` of the same raw tables gives."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from test_incremental import deliver, ok

from loyalty.warehouse import PgQueries, pg_conninfo
from tools.compare_engines import checksums

from conftest import run_pg_refresh

pytestmark = pytest.mark.e2e


def test_batches_on_postgres_give_the_marts_of_a_full_rebuild(
    small_data: tuple[Path, Path], pg_database: dict[str, str], tmp_path: Path
) -> None:
    source = small_data[0]
    landing, state = tmp_path / "landing", tmp_path / "state" / "loyalty.duckdb"
    for batch in (1, 2, 3):
        deliver(source, landing, batch)
        ok(run_pg_refresh(landing, state, pg_database))

    def marts() -> dict:
        with psycopg.connect(**pg_conninfo(pg_database), autocommit=True) as connection:
            return checksums(PgQueries(connection))

    incremental = marts()
    ok(run_pg_refresh(landing, state, pg_database, "--full-refresh"))
    full = marts()
    differing = [mart for mart in full if full[mart] != incremental.get(mart)]
    assert not differing, f"incremental and full builds differ on PostgreSQL in {differing}"
