"""The dbt documentation site (`make docs`, loyalty/docs_site.py): built from a refreshed
warehouse's build database without writing to it, one page that loads nothing from the network,
which a browser with every host unreachable renders (lineage, columns, doc blocks, exposures)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

from loyalty import docs_site
from loyalty.docs_site import DocsError, make_offline, remote_loads
from loyalty.settings import load_settings

from conftest import Refresh, copy_warehouse

CHROMIUM = Path("/usr/bin/chromium")


def dbt_page() -> str:
    """dbt-core's docs page as shipped (before --static inlines the manifest and catalog)."""
    from dbt.task.docs import DOCS_INDEX_FILE_PATH

    return Path(DOCS_INDEX_FILE_PATH).read_text(encoding="utf-8")


def test_the_check_finds_what_a_page_would_load_and_nothing_else() -> None:
    loads = [
        '<script src="https://cdn.example.org/app.js"></script>',
        "<link rel='stylesheet' href='//fonts.googleapis.com/css?family=Lato'>",
        "<style>.a { background: url( https://img.example.org/x.png ) }</style>",
        '<style>@import url("https://fonts.googleapis.com/css2");</style>',
        '<script>i.src="//d1.cloudfront.net/sp.js"</script>',
        "<img SRC=http://example.org/pixel.gif>",
    ]
    for html in loads:
        assert remote_loads(html), html
    harmless = [
        '<a href="https://docs.getdbt.com">a link a reader clicks</a>',
        '<script>var manifest = {"url": "https://superset.example.org/dashboard/1"}</script>',
        '<link rel="stylesheet" href="style.css"><img src="data:image/png;base64,AAAA">',
        "/* see http://jqueryui.com */",
    ]
    for html in harmless:
        assert remote_loads(html) == [], html


def test_dbt_page_loads_its_tracker_from_a_cdn_and_the_offline_page_does_not() -> None:
    page = dbt_page()
    found = remote_loads(page)
    assert len(found) == 1 and "cloudfront.net" in found[0], found  # what make_offline exists for
    offline = make_offline(page)
    assert remote_loads(offline) == []
    assert "cloudfront" not in offline and docs_site.TRACKER_SWITCH not in offline
    with pytest.raises(DocsError, match="no longer holds the usage tracker's switch and script"):
        make_offline("<html>another dbt version</html>")
    with pytest.raises(DocsError, match="would still load 1 resource"):
        make_offline(page.replace("</head>", '<link rel="stylesheet" href="https://fonts.example/x.css"></head>', 1))


def test_no_build_database_says_to_refresh_first(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(tmp_path / "nowhere" / "loyalty.duckdb"))
    monkeypatch.setenv("LOYALTY_TARGET", "duckdb")
    assert docs_site.main(["--no-serve"]) == 2
    error = capsys.readouterr().err
    assert "no build database at" in error and "run `make demo` (or `make refresh`) first" in error
    assert not (tmp_path / "nowhere").exists(), "nothing is written for a warehouse that does not exist"
    with pytest.raises(DocsError, match="LOYALTY_TARGET=spark"):
        docs_site.dbt_command(load_settings({"LOYALTY_TARGET": "spark", "LOYALTY_WAREHOUSE": str(tmp_path / "w")}))
    for argv, detail in ((["--port", "0"], "argument --port"), (["--wait", "-1"], "argument --wait")):
        with pytest.raises(SystemExit) as exited:
            docs_site.main(argv)
        assert exited.value.code == 2 and detail in capsys.readouterr().err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rendered_text(page: Path, fragment: str) -> str:
    """The text Chromium renders for ``page#!/fragment`` with every host name unresolvable
    (scripts and styles left out; whitespace removed, as dbt breaks long names with <wbr>)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        dom = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--virtual-time-budget=15000",
                f"--user-data-dir={profile}",
                "--dump-dom",
                f"{page.resolve().as_uri()}#!/{fragment}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", " ", body))


@pytest.mark.e2e
def test_the_site_of_a_refreshed_warehouse_reads_its_build_database_and_works_offline(
    refreshed: tuple[Path, Refresh], tmp_path: Path
) -> None:
    warehouse = copy_warehouse(refreshed[0], tmp_path / "state")
    settings = load_settings({"LOYALTY_WAREHOUSE": str(warehouse), "LOYALTY_TARGET": "duckdb"})
    before = {path.name: digest(path) for path in (warehouse, settings.build_database)}
    listing = {path.name for path in warehouse.parent.iterdir()}

    page = docs_site.build(settings)

    # read-only: the build database and the published file are as they were; only the docs
    # folder (under the dbt artifacts folder) and the lock's owner note are new
    assert {path.name: digest(path) for path in (warehouse, settings.build_database)} == before
    new = {path.name for path in warehouse.parent.iterdir()} - listing
    assert new <= {"loyalty.duckdb.lock", "loyalty.duckdb.lock.owner"}, new
    assert page == settings.docs_site_dir / "index.html"
    html = page.read_text(encoding="utf-8")
    assert remote_loads(html) == [] and "cloudfront" not in html
    # the page holds the manifest (exposures, doc blocks) and the catalog read from the build database
    catalog = json.loads((settings.docs_site_dir / "catalog.json").read_text(encoding="utf-8"))
    columns = catalog["nodes"]["model.loyalty.fct_points_liability_monthly"]["columns"]
    assert columns["closing_points"]["type"] == "BIGINT" and columns["closing_liability"]["type"] == "DECIMAL(18,2)"
    assert "model.loyalty.stg_loyalty__ledger_events" in catalog["nodes"], "the layers BI never sees are documented too"
    manifest = json.loads((settings.docs_site_dir / "manifest.json").read_text(encoding="utf-8"))
    exposures = manifest["exposures"]
    assert sorted(exposures["exposure.loyalty.month_end_rollforwards_workbook"]["depends_on"]["nodes"]) == [
        "model.loyalty.fct_points_liability_monthly",
        "model.loyalty.fct_wallet_liability_monthly",
        "model.loyalty.rpt_warehouse_as_of",
    ]
    assert "exposure.loyalty.reconciliation_report" in exposures
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False

    if CHROMIUM.exists():
        # rendered with no host reachable: the exposures in the sidebar, a model's columns with
        # their catalog types and an enum's doc block
        sidebar = rendered_text(page, "exposure/exposure.loyalty.month_end_rollforwards_workbook")
        assert "Month-endroll-forwardsworkbook(.xlsx,eachpublish)" in sidebar
        assert "Reconciliationreport(HTML,eachpublish)" in sidebar
        model = rendered_text(page, "model/model.loyalty.fct_balance_reconciliation")
        assert "snapshot_balanceDECIMAL(18,2)" in model
        assert "nevercomparedwithanassumedzero" in model  # the drift_status doc block

    server = docs_site.serve(page.parent, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=30) as response:
            assert response.status == 200 and response.read() == page.read_bytes()
    finally:
        server.shutdown()
        server.server_close()
