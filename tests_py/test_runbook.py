"""The runbook (docs/runbook.md) names every alert the warehouse can raise, and only those:
each dbt test's section (its meta.runbook, or integrity-failure), the alerts raised outside dbt
(stale source, run failure, refused lock), and every section says what to do."""

from __future__ import annotations

import re

import pytest
from test_drift_cause_registry import parse_manifest

from loyalty import alerts
from loyalty.outcome import FINDING_TAG, INTEGRITY_FAILURE, runbook_section

from conftest import PROJECT_DIR

RUNBOOK = PROJECT_DIR / "docs" / "runbook.md"
# raised by Python code, not by a dbt test: the load step, the run sensors and the command line
RAISED_OUTSIDE_DBT = {alerts.STALE_SOURCE, alerts.RUN_FAILURE, alerts.REFUSED_LOCK}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The project's manifest, parsed once for this file."""
    return parse_manifest(PROJECT_DIR, tmp_path_factory.mktemp("runbook_parse"))


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule: lower case, punctuation
    dropped, spaces to hyphens)."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def runbook_alert_sections(text: str) -> dict[str, str]:
    """The ``###`` sections under ``## Alerts``: anchor -> body."""
    alerts_part = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    sections = re.split(r"^### (.+)$", alerts_part, flags=re.MULTILINE)[1:]
    return {slug(title): body for title, body in zip(sections[::2], sections[1::2], strict=True)}


def test_runbook_lists_exactly_the_alerts_the_checks_can_raise(manifest: dict) -> None:
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    raised = {runbook_section(node) for node in tests} | RAISED_OUTSIDE_DBT
    documented = runbook_alert_sections(RUNBOOK.read_text(encoding="utf-8"))
    assert raised - set(documented) == set(), "alerts without a runbook section"
    assert set(documented) - raised == set(), "runbook sections no check or alert raises"
    # every row-alert section is a section of a test that exists
    assert set(alerts.ROW_ALERT_SECTIONS) <= {runbook_section(node) for node in tests}


def test_every_finding_and_warning_names_its_own_runbook_section(manifest: dict) -> None:
    """Only error-severity integrity tests share the generic section: a finding or a warning
    means something specific and needs its own advice."""
    alerting = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and (FINDING_TAG in node["tags"] or str(node["config"].get("severity", "")).lower() == "warn")
    ]
    assert len(alerting) >= 11
    generic = [node["name"] for node in alerting if runbook_section(node) == INTEGRITY_FAILURE]
    assert not generic, f"findings or warnings without meta.runbook: {generic}"


def test_every_runbook_alert_says_what_it_is_and_what_to_do() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    for anchor, body in runbook_alert_sections(text).items():
        assert len(body.split()) >= 40, f"#{anchor} is too short to say what to do"
    # every link inside the runbook to one of its own sections resolves
    anchors = {slug(title) for title in re.findall(r"^#{2,3} (.+)$", text, flags=re.MULTILINE)}
    local = set(re.findall(r"\]\(#([a-z0-9-]+)\)", text))
    assert local - anchors == set(), "links to sections that do not exist"


def test_alert_links_resolve_to_runbook_sections() -> None:
    """The links the Python alerts carry lead to sections that exist."""
    documented = runbook_alert_sections(RUNBOOK.read_text(encoding="utf-8"))
    stale = alerts.stale_source_alerts("r1", [("orders", "warn", 30.5)])[0]
    refused = alerts.run_failure_alert("r2", "load_landing: another refresh is writing /w (pid 1); refused")
    failed = alerts.run_failure_alert("r3", "load_landing: orders/x.csv is not UTF-8")
    for alert, section in ((stale, alerts.STALE_SOURCE), (refused, alerts.REFUSED_LOCK), (failed, alerts.RUN_FAILURE)):
        assert alert.runbook == f"docs/runbook.md#{section}"
        assert section in documented
