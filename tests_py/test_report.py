"""The HTML reconciliation report: page logic on a hand-made warehouse (no refresh), the empty
warehouse, the CLI, and what a person sees in headless Chromium (skipped without it)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
import yaml

from loyalty.reporting.report import main, nice_ticks, write_report
from loyalty.reporting.summary import jsonable, render, warehouse_figures

from conftest import Refresh

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless browser check needs /usr/bin/chromium (Debian package: chromium)"
)

# --------------------------------------------------------------------------------------------
# A tiny hand-made warehouse: the five marts the page reads, a few balances and movements
# --------------------------------------------------------------------------------------------

T0 = datetime(2025, 1, 1, 9, 0, 0)
SNAPSHOT_AT = datetime(2025, 8, 31, 12, 0, 0)
AS_OF = datetime(2025, 8, 31, 23, 59, 58)  # one second before August ends: evaluated through July
NASTY = 'Snapshot is 405 points above the ledger <script>alert("x")</script> & more.'


def _create_marts(connection: duckdb.DuckDBPyConnection, *, timeline: bool = True, others: bool = True) -> None:
    connection.execute("create schema marts")
    connection.execute(
        """
        create table marts.fct_balance_reconciliation (
            account_id varchar, balance_type varchar, currency varchar, snapshot_as_of timestamp,
            snapshot_balance decimal(18, 2), computed_balance decimal(18, 2), drift decimal(18, 2),
            drift_status varchar, likely_cause varchar, explanation varchar, evidence_movement_id varchar,
            movements_count bigint, movements_before_snapshot bigint, late_recorded_movements bigint,
            snapshots_count bigint, in_balance_tolerance decimal(18, 2), minor_drift_tolerance decimal(18, 2))
        """
    )
    if timeline:
        connection.execute(
            """
            create table marts.fct_account_ledger_timeline (
                account_id varchar, balance_type varchar, currency varchar, movement_id varchar,
                movement_type varchar, amount decimal(18, 2), occurred_at timestamp, recorded_at timestamp,
                order_id varchar, movement_sequence bigint, running_balance decimal(18, 2))
            """
        )
    if others:
        connection.execute(
            "create table marts.fct_order_accrual_reconciliation (order_id varchar, accrual_status varchar)"
        )
        connection.execute(
            "create table marts.fct_expiry_reconciliation"
            " (account_id varchar, due_month date, expiry_status varchar, expiry_difference bigint)"
        )


def _balance(
    connection, account, balance_type, currency, snapshot, computed, status, cause, explanation, evidence=None
):
    drift = None if snapshot is None else Decimal(snapshot) - Decimal(computed)
    as_of = None if snapshot is None else SNAPSHOT_AT
    in_balance, minor = (5, 50) if balance_type == "points" else (0.01, 10)
    row = [account, balance_type, currency, as_of, snapshot, computed, drift, status, cause, explanation, evidence]
    connection.execute(
        "insert into marts.fct_balance_reconciliation values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 1, ?, ?)",
        [*row, in_balance, minor],
    )


def _movements(connection, account, balance_type, currency, amounts: list[str], prefix: str) -> None:
    running = Decimal(0)
    for index, value in enumerate(amounts, start=1):
        running += Decimal(value)
        at = T0 + timedelta(days=10 * index)
        kind = "earn" if Decimal(value) > 0 else "redeem"
        connection.execute(
            "insert into marts.fct_account_ledger_timeline values (?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?)",
            [account, balance_type, currency, f"{prefix}{index:03}", kind, value, at, at, index, running],
        )


def make_warehouse(path: Path, *, timeline: bool = True, others: bool = True) -> Path:
    with duckdb.connect(str(path)) as connection:
        _create_marts(connection, timeline=timeline, others=others)
        # P1: 15 movements summing to 59, snapshot 464: +405, evidence is the 2nd (not among the last 10)
        _balance(
            connection, "P1", "points", None, "464", "59", "material_mismatch", "missing_ledger_event", NASTY, "E002"
        )
        # W2: wallet EUR, 3 movements to 23.50, snapshot 20.00: -3.50
        _balance(connection, "W2", "wallet", "EUR", "20.00", "23.50", "minor_drift", "stale_snapshot", "Stale, W2.")
        _balance(connection, "P3", "points", None, "100", "100", "in_balance", "none", "In balance: P3.")
        _balance(connection, "W2", "points", None, "5", "5", "in_balance", "none", "In balance: W2 points.")
        _balance(connection, "P4", "points", None, None, "30", "missing_snapshot", "none", "No snapshot for P4.")
        _balance(connection, "W5", "wallet", "GBP", "7.25", "0.00", "minor_drift", "unexplained", "Unexplained W5.")
        _create_summary(connection)
        if timeline:
            _movements(connection, "P1", "points", None, ["10", "10", *["3"] * 13], "E")
            _movements(connection, "W2", "wallet", "EUR", ["10.00", "20.00", "-6.50"], "T")
            _movements(connection, "P3", "points", None, ["100"], "Q")
            _movements(connection, "W2", "points", None, ["5"], "U")
            _movements(connection, "P4", "points", None, ["30"], "R")
        if others:
            connection.execute(
                "insert into marts.fct_order_accrual_reconciliation values"
                " ('O1', 'ok'), ('O2', 'ok'), ('O3', 'ok'), ('O4', 'missing_earn')"
            )
            connection.execute(
                "insert into marts.fct_expiry_reconciliation values ('P1', '2025-07-01', 'ok', 0),"
                " ('P3', '2025-07-01', 'ok', 0), ('P4', '2025-08-01', 'over_expired', 30)"
            )
        _create_figures(connection)
    return path


def _create_summary(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(
        """
        create table marts.rpt_reconciliation_summary as
        select balance_type, currency, count(*)::bigint as accounts_checked,
            count(*) filter (where drift_status = 'in_balance')::bigint as accounts_in_balance,
            count(*) filter (where drift_status = 'minor_drift')::bigint as accounts_minor_drift,
            count(*) filter (where drift_status = 'material_mismatch')::bigint as accounts_material_mismatch,
            count(*) filter (where drift_status = 'missing_snapshot')::bigint as accounts_missing_snapshot,
            coalesce(max(drift) filter (where drift > 0), 0)::decimal(18, 2) as largest_positive_drift,
            coalesce(min(drift) filter (where drift < 0), 0)::decimal(18, 2) as largest_negative_drift,
            coalesce(sum(drift), 0)::decimal(18, 2) as net_drift,
            coalesce(sum(abs(drift)), 0)::decimal(18, 2) as total_abs_drift
        from marts.fct_balance_reconciliation group by all
        """
    )


def _create_figures(connection: duckdb.DuckDBPyConnection, *, as_of: datetime | None = AS_OF) -> None:
    """marts.rpt_warehouse_summary as dbt builds it (its contract's columns, from the YAML),
    filled from the hand-made marts; causes ranked by the real seed (seeds/drift_causes.csv);
    the warehouse's as-of `as_of` (from the data, last ended month July 2025), none when None."""
    models = yaml.safe_load((ROOT / "models/marts/reconciliation/_reconciliation__models.yml").read_text())
    model = next(model for model in models["models"] if model["name"] == "rpt_warehouse_summary")
    columns = ", ".join(
        f"{column['name']} {'varchar' if '{{' in column['data_type'] else column['data_type']}"
        for column in model["columns"]
    )
    connection.execute(f"create table marts.rpt_warehouse_summary ({columns})")
    connection.execute(
        """
        insert into marts.rpt_warehouse_summary by name
        select 'balances' as figure_set, summary.*, snapshots.latest_snapshot_at,
            row_number() over (order by summary.balance_type, summary.currency nulls first) as figure_order
        from marts.rpt_reconciliation_summary as summary
        left join (
            select balance_type, currency, max(snapshot_as_of) as latest_snapshot_at
            from marts.fct_balance_reconciliation group by all
        ) as snapshots
            on summary.balance_type = snapshots.balance_type
            and summary.currency is not distinct from snapshots.currency
        """
    )
    connection.execute(
        f"""
        insert into marts.rpt_warehouse_summary by name
        select 'drift_by_cause' as figure_set, drift.*, causes.precedence as cause_precedence,
            causes.meaning as cause_meaning,
            row_number() over (
                order by drift.balance_type, drift.currency nulls first, causes.precedence nulls last,
                    drift.likely_cause, drift.category
            ) as figure_order
        from (
            select balance_type, currency, drift_status as category, likely_cause, count(*) as item_count,
                sum(abs(drift)) as total_abs_drift
            from marts.fct_balance_reconciliation
            where drift_status in ('minor_drift', 'material_mismatch')
            group by all
        ) as drift
        left join read_csv('{ROOT / "seeds/drift_causes.csv"}') as causes on drift.likely_cause = causes.likely_cause
        """
    )
    if as_of is not None:
        connection.execute(
            "insert into marts.rpt_warehouse_summary by name"
            " select 'warehouse_as_of' as figure_set, 1 as figure_order, 'data' as category,"
            " date '2025-07-01' as period_month, ? as as_of",
            [as_of],
        )
    tables = connection.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
    marts = {name for (name,) in tables}
    for figure_set, mart, status, extra in (
        ("order_accruals", "fct_order_accrual_reconciliation", "accrual_status", ""),
        ("points_expiry", "fct_expiry_reconciliation", "expiry_status", ", sum(expiry_difference)"),
    ):
        if mart in marts:
            connection.execute(
                f"""
                insert into marts.rpt_warehouse_summary by name
                select '{figure_set}' as figure_set, {status} as category, count(*) as item_count
                    {extra + " as expiry_difference_points" if extra else ""},
                    row_number() over (order by {status} = 'ok' desc, count(*) desc, {status}) as figure_order
                from marts.{mart} group by {status}
                """
            )


# --------------------------------------------------------------------------------------------
# Reading a page: tables by id, visible text, SVG elements per chart
# --------------------------------------------------------------------------------------------

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base"}


class Page(HTMLParser):
    """The page as a person reads it: text outside <style>/<title>, tables (by id) as rows of
    cell texts, and per element id the SVG elements inside it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.svg_elements: dict[str, list[str]] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)
        self.visible = " ".join(" ".join(self.text).split())

    def _ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.stack if "id" in attrs]

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        attrs = {name: value or "" for name, value in attributes}
        self.tags.append((tag, attrs))
        if any(name == "svg" for name, _ in self.stack) or tag == "svg":
            for element_id in self._ids() + ([attrs["id"]] if "id" in attrs else []):
                self.svg_elements.setdefault(element_id, []).append(tag)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append((tag, attrs))

    def handle_startendtag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attributes)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            # a table by its own id, else by the id of the nearest element around it
            table = next((attrs["id"] for _, attrs in reversed(self.stack) if "id" in attrs), "")
            self.tables.setdefault(table, []).append(self._row)
            self._row = None
        while self.stack:
            name, _ = self.stack.pop()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        names = [name for name, _ in self.stack]
        if "style" in names or "title" in names:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[list[str]]:
        return self.tables.get(table_id, [])[1:]


def chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def rendered(page: Path) -> Page:
    """The DOM Chromium built from the file (what it renders), parsed."""
    return Page(chromium("--dump-dom", page.resolve().as_uri()).stdout)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def fmt(value: Decimal | int | None, balance_type: str, signed: bool = False) -> str:
    """Independent of the report's own formatting: points whole, money with two decimals."""
    if value is None:
        return "—"
    text = f"{int(value):,}" if balance_type == "points" else f"{Decimal(value):,.2f}"
    return ("+" + text) if signed and value > 0 else text


# --------------------------------------------------------------------------------------------
# Page logic without a browser
# --------------------------------------------------------------------------------------------


@pytest.fixture
def hand_made(tmp_path: Path) -> Path:
    return make_warehouse(tmp_path / "hand.duckdb")


def test_page_shows_summary_top_balances_and_timelines(hand_made: Path, tmp_path: Path) -> None:
    out = write_report(hand_made, tmp_path / "report" / "page.html")
    html = out.read_text(encoding="utf-8")
    page = Page(html)

    assert "Loyalty reconciliation report" in page.visible
    assert str(hand_made.resolve()) in page.visible
    assert "4 of 6 balances are out of balance" in page.visible
    assert (
        "Data as of 2025-08-31 23:59:58 UTC (the latest staged moment): tiers, expiry and store incentives"
        " evaluated through the end of 2025-07." in page.visible
    )

    summary = {(row[0], row[1]): row[2:] for row in page.rows("summary")}
    assert summary[("points", "—")] == ["4", "2", "0", "1", "1", "+405", "0", "+405", "405"]
    assert summary[("wallet", "EUR")] == ["1", "0", "1", "0", "0", "0.00", "-3.50", "-3.50", "3.50"]
    assert summary[("wallet", "GBP")] == ["1", "0", "1", "0", "0", "+7.25", "0.00", "+7.25", "7.25"]

    assert "missing earn" in page.visible and "1 of 4 member orders did not accrue" in page.visible
    assert "over expired" in page.visible and "+30" in page.visible

    top = page.rows("top-accounts")
    assert [row[0] for row in top] == ["P1", "W5", "W2", "P4"]  # |drift| 405, 7.25, 3.50, then no snapshot
    assert top[0][1:8] == ["points", "—", "464", "59", "+405", "material mismatch", "missing ledger event"]
    assert top[2][1:6] == ["wallet", "EUR", "20.00", "23.50", "-3.50"]
    assert top[3][3:6] == ["—", "30", "—"]
    assert top[0][8] == NASTY
    assert "P3" not in [row[0] for row in top]

    # text is escaped: the explanation's markup is text, never an element
    assert "<script" not in html and "&lt;script&gt;" in html

    # charts: one bar segment per non-empty status per balance; cause bars; one timeline per balance shown
    assert page.svg_elements["status-chart"].count("rect") >= 4 + 5
    assert page.svg_elements["cause-chart"].count("rect") >= 3
    for anchor in ("balance-P1-points", "balance-W2-wallet-EUR", "balance-W5-wallet-GBP", "balance-P4-points"):
        assert anchor in page.svg_elements, anchor
    for anchor in ("balance-P1-points", "balance-W5-wallet-GBP"):  # W5 has no movement: a flat ledger line
        assert page.svg_elements[anchor].count("path") == 1, anchor
    assert "no ledger movement: the ledger balance is 0" in page.visible
    assert "No ledger movements for this balance." in page.visible
    # snapshot, ledger at the snapshot time, evidence movement
    assert page.svg_elements["balance-P1-points"].count("circle") == 3
    assert "circle" not in page.svg_elements["balance-P4-points"]  # no snapshot, no marker

    # the last 10 movements, with the evidence movement (older) first; only the balance's own
    p1 = [row for row in page.tables["balance-P1-points"] if row[0] != "movement"]
    assert [row[0].split()[0] for row in p1] == ["E002", *[f"E{n:03}" for n in range(6, 16)]]
    assert p1[0][0] == "E002 evidence" and p1[-1][5] == "59"
    assert "Last 10 of 15 movements, with the evidence movement first" in page.visible
    w2 = [row for row in page.tables["balance-W2-wallet-EUR"] if row[0] != "movement"]
    assert w2 == [
        ["T001", "earn", "+10.00", "2025-01-11 09:00:00", "2025-01-11 09:00:00", "10.00"],
        ["T002", "earn", "+20.00", "2025-01-21 09:00:00", "2025-01-21 09:00:00", "30.00"],
        ["T003", "redeem", "-6.50", "2025-01-31 09:00:00", "2025-01-31 09:00:00", "23.50"],
    ]

    # self-contained: no scripts, stylesheets, images or anything fetched
    assert not [tag for tag, attrs in page.tags if tag in ("script", "link", "img", "iframe", "object")]
    assert not [attrs for _, attrs in page.tags if "src" in attrs or ("href" in attrs and "//" in attrs["href"])]
    assert html.count("http") == html.count('xmlns="http://www.w3.org/2000/svg"')


def test_the_warehouse_is_opened_read_only_and_closed(hand_made: Path, tmp_path: Path) -> None:
    before = hand_made.stat().st_mtime_ns, hand_made.read_bytes()
    write_report(hand_made, tmp_path / "page.html")
    assert (hand_made.stat().st_mtime_ns, hand_made.read_bytes()) == before
    with duckdb.connect(str(hand_made)) as connection:  # a read-write open fails while one is still open
        assert connection.execute("select count(*) from marts.fct_balance_reconciliation").fetchone() == (6,)


def test_top_limits_the_balances_detailed(hand_made: Path, tmp_path: Path) -> None:
    page = Page(write_report(hand_made, tmp_path / "page.html", top=1).read_text(encoding="utf-8"))
    assert [row[0] for row in page.rows("top-accounts")] == ["P1"]
    assert "The 1 of 4 balances out of balance" in page.visible
    assert "balance-P1-points" in page.svg_elements and "balance-W2-wallet-EUR" not in page.svg_elements


def test_optional_marts_missing(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "partial.duckdb", timeline=False, others=False)
    page = Page(write_report(warehouse, tmp_path / "page.html").read_text(encoding="utf-8"))
    assert [row[0] for row in page.rows("top-accounts")] == ["P1", "W5", "W2", "P4"]
    assert "fct_account_ledger_timeline is not in this warehouse" in page.visible
    assert "Order accruals" not in page.visible and "Points expiry" not in page.visible


@pytest.mark.parametrize("content", ["nothing", "raw only"])
def test_empty_warehouse_gets_a_no_reconciliation_page(tmp_path: Path, content: str) -> None:
    warehouse = tmp_path / "empty.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        if content == "raw only":
            connection.execute("create schema raw; create table raw.ledger_events (id varchar)")
        else:
            connection.execute("select 1")
    page = Page(write_report(warehouse, tmp_path / "page.html").read_text(encoding="utf-8"))
    assert "No reconciliation yet" in page.visible
    assert str(warehouse.resolve()) in page.visible
    assert "summary" not in page.tables and "top-accounts" not in page.tables


def test_no_drift_at_all(tmp_path: Path) -> None:
    warehouse = tmp_path / "clean.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        _create_marts(connection)
        _balance(connection, "P3", "points", None, "100", "100", "in_balance", "none", "In balance: P3.")
        _create_summary(connection)
        _create_figures(connection)
    page = Page(write_report(warehouse, tmp_path / "page.html").read_text(encoding="utf-8"))
    assert "All 1 balances are in balance." in page.visible
    assert "No balance is out of balance." in page.visible


def test_cli_writes_the_page_and_names_bad_arguments(
    hand_made: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.html"
    assert main(["--warehouse", str(hand_made), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and out.exists()

    not_duckdb = tmp_path / "not.duckdb"
    not_duckdb.write_text("hello")
    cases = [
        (["--warehouse", str(tmp_path / "missing.duckdb"), "--out", str(out)], "--warehouse", "missing.duckdb"),
        (["--warehouse", str(not_duckdb), "--out", str(out)], "--warehouse", "not.duckdb"),
        (["--warehouse", str(hand_made), "--out", str(tmp_path)], "--out", str(tmp_path)),
        (["--warehouse", str(hand_made), "--out", str(out), "--top", "-1"], "--top", "-1"),
        (["--out", str(out)], "--warehouse", "required"),
    ]
    for argv, argument, detail in cases:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
        error = capsys.readouterr().err
        assert argument in error and detail in error, error


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(0, 464) == [0, 100, 200, 300, 400, 500]
    assert nice_ticks(-78.35, 13.91) == [-80, -60, -40, -20, 0, 20]
    assert nice_ticks(0, 0.3) == [0, 0.1, 0.2, 0.3]
    assert nice_ticks(5, 5) == [5, 5.2, 5.4, 5.6, 5.8, 6]


# --------------------------------------------------------------------------------------------
# In a browser
# --------------------------------------------------------------------------------------------


@needs_chromium
def test_browser_shows_the_hand_made_page(hand_made: Path, tmp_path: Path) -> None:
    page = rendered(write_report(hand_made, tmp_path / "page.html"))
    assert "4 of 6 balances are out of balance" in page.visible
    assert [row[0] for row in page.rows("top-accounts")] == ["P1", "W5", "W2", "P4"]
    assert NASTY in page.visible
    assert not [tag for tag, _ in page.tags if tag == "script"]
    assert page.svg_elements["balance-P1-points"].count("path") == 1


@needs_chromium
def test_browser_shows_the_empty_page(tmp_path: Path) -> None:
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    page = rendered(write_report(warehouse, tmp_path / "page.html"))
    assert "No reconciliation yet" in page.visible


@pytest.mark.e2e
@needs_chromium
def test_browser_shows_the_refreshed_warehouse(refreshed: tuple[Path, Refresh], tmp_path: Path) -> None:
    warehouse, result = refreshed
    assert warehouse.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    out = write_report(warehouse, tmp_path / "reconciliation.html", top=10)
    page = rendered(out)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        summary = connection.execute(
            "select * from marts.rpt_reconciliation_summary order by balance_type, currency nulls first"
        ).fetchall()
        top = connection.execute(
            """
            select account_id, balance_type, currency, drift, explanation from marts.fct_balance_reconciliation
            where drift_status <> 'in_balance'
            order by abs(drift) desc nulls last, drift_status = 'material_mismatch' desc, account_id, balance_type,
                currency nulls first
            limit 10
            """
        ).fetchall()
        accruals = connection.execute(
            "select count(*), count(*) filter (where accrual_status <> 'ok')"
            " from marts.fct_order_accrual_reconciliation"
        ).fetchone()

    shown = {(row[0], row[1]): row[2:] for row in page.rows("summary")}
    assert len(shown) == len(summary)
    for bt, currency, checked, ok, minor, material, missing, largest, smallest, net, total in summary:
        assert shown[(bt, currency or "—")] == [
            f"{checked:,}",
            f"{ok:,}",
            f"{minor:,}",
            f"{material:,}",
            f"{missing:,}",
            fmt(largest, bt, signed=True),
            fmt(smallest, bt, signed=True),
            fmt(net, bt, signed=True),
            fmt(total, bt),
        ], bt
    checked = sum(row[2] for row in summary)
    out_of_balance = checked - sum(row[3] for row in summary)
    assert f"{out_of_balance:,} of {checked:,} balances are out of balance" in page.visible
    assert f"{accruals[1]:,} of {accruals[0]:,} member orders" in page.visible

    rows = page.rows("top-accounts")
    assert [(row[0], row[1], row[2], row[5]) for row in rows] == [
        (account, bt, currency or "—", fmt(drift, bt, signed=True)) for account, bt, currency, drift, _ in top
    ]
    for account, bt, currency, _, explanation in top:
        assert explanation and explanation in page.visible
        anchor = "-".join(part for part in ("balance", account, bt, currency) if part)
        assert page.svg_elements[anchor].count("path") == 1, anchor  # the ledger's step line
    assert page.svg_elements["status-chart"].count("rect") >= len(summary) * 2
    assert page.svg_elements["cause-chart"].count("rect") >= 5

    screenshot = tmp_path / "reconciliation.png"
    chromium(f"--screenshot={screenshot}", "--window-size=1280,2000", out.resolve().as_uri())
    assert png_size(screenshot) == (1280, 2000)
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one


def test_terminal_summary_shows_the_as_of(hand_made: Path, tmp_path: Path) -> None:
    figures = warehouse_figures(hand_made)
    assert figures["as_of"] == [(AS_OF, "data", date(2025, 7, 1))]
    text = render(
        landing_dir=tmp_path / "landing",
        warehouse=str(hand_made),
        report=tmp_path / "page.html",
        published=True,
        load=None,
        outcome=None,
        figures=jsonable(figures),
        error=None,
    )
    assert "as of:     2025-08-31 23:59:58 UTC (latest staged moment); month ends evaluated through 2025-07" in text
    assert "Reconciliation (marts.rpt_reconciliation_summary)" in text


def test_a_warehouse_without_an_as_of_shows_none(tmp_path: Path) -> None:
    warehouse = tmp_path / "no_as_of.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        _create_marts(connection)
        _balance(connection, "P3", "points", None, "100", "100", "in_balance", "none", "In balance: P3.")
        _create_summary(connection)
        _create_figures(connection, as_of=None)
    assert warehouse_figures(warehouse)["as_of"] == []
    page = Page(write_report(warehouse, tmp_path / "page.html").read_text(encoding="utf-8"))
    assert "Data as of" not in page.visible and "All 1 balances are in balance." in page.visible
