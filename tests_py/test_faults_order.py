"""The fault campaign's bounded re-delivery, determinism and personal-data parts
(docs/reliability.md): what `make test` runs of `make faults`. One work folder for the module:
one generated landing folder, its clean reference refresh (two threads) shared by the parts."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tools.faults import determinism, personal_data, redelivery
from tools.faults.workspace import reference, shared_folder

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def campaign_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `python -m tools.faults` makes: one folder, a work folder per part inside."""
    return tmp_path_factory.mktemp("faults-order")


def report(results) -> str:
    return "\n".join(
        f"{r.what}: {r.survived}/{r.tried}, {r.delivered} = {r.staged} + {r.rejected} + {r.duplicates},"
        f" {r.seconds:.0f} s {r.mismatches}"
        for r in results
    )


def test_redelivery_and_order_give_the_marts_of_one_clean_delivery(campaign_folder: Path) -> None:
    workdir = campaign_folder / "redelivery"
    results = redelivery.campaign(workdir, full=False)
    print("\n" + report(results))
    assert [r.what.split(" (")[0] for r in results[1:]] == [s.what for s in redelivery.scenarios(*_folders(workdir))]
    assert all(r.part == "re-delivery" for r in results)
    assert not [line for r in results for line in r.mismatches], report(results)
    assert all(r.conserved and r.survived == r.tried == 1 for r in results)
    by_what = {r.what.split(" (")[0]: r for r in results}
    # every scenario delivered rows, and the re-deliveries were counted as exact duplicates
    assert all(r.delivered > 0 for r in results), report(results)
    assert by_what["the same file twice"].duplicates == by_what["the same file twice"].delivered
    assert by_what["the same rows under a new name"].staged == 0


def _folders(workdir: Path) -> tuple[Path, Path]:
    shared = shared_folder(workdir, full=False)
    return shared / "landing", shared / "truth"


def test_one_or_two_threads_give_the_same_marts(campaign_folder: Path) -> None:
    results = determinism.campaign(campaign_folder / "determinism", full=False)
    print("\n" + report(results))
    assert [r.part for r in results] == ["determinism"]
    assert not results[0].mismatches and results[0].survived == 1


def test_no_member_email_in_the_published_file_alerts_logs_or_report(campaign_folder: Path, tmp_path: Path) -> None:
    workdir = campaign_folder / "personal_data"
    results = personal_data.campaign(workdir, full=False)
    print("\n" + report(results))
    assert not [line for r in results for line in r.mismatches], report(results)

    # the scan finds an email planted in any table (here a number-free mart column) and log
    warehouse, _ = reference(workdir, full=False)
    emails = personal_data.delivered_emails(_folders(workdir)[0])
    email = sorted(emails)[0]
    copy = tmp_path / "copy" / warehouse.name
    copy.parent.mkdir()
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            "update marts.dim_stores set region = ? where store_id = (select min(store_id) from marts.dim_stores)",
            [f"see {email}"],
        )
    assert [line for line in personal_data.scan_published(copy, emails) if "marts.dim_stores.region" in line]
    assert personal_data.scan_published(copy, set()), "the generic shape local@domain is found too"
    (copy.parent / f"{copy.name}.alerts.jsonl").write_text(f'{{"note": "{email}"}}\n', encoding="utf-8")
    assert [line for line in personal_data.scan_files(copy, emails) if "alerts.jsonl" in line]
