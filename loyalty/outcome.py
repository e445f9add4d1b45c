"""What a refresh's dbt results mean for the people who run it (docs/operations.md#exit-codes).

Pure functions over dbt's artifacts (run_results.json, manifest.json), so the exit-code
policy is tested without a warehouse.

* integrity failure — a failed or erroring test that is not a reconciliation finding, a
  failing unit test, a model that did not build: the pipeline is wrong; do not publish.
* finding — a failed test tagged ``finding``: an upstream system drifted. Published anyway;
  an error-severity finding makes the refresh exit 1 (warn-severity ones only show).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINDING_TAG = "finding"
# docs/runbook.md section of a test without its own meta.runbook (tests_py/test_runbook.py)
INTEGRITY_FAILURE = "integrity-failure"

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def stored_failures_at(node: dict[str, Any]) -> str | None:
    """Where dbt stores a test's failing rows (``store_failures``), as ``<schema>.<table>`` under
    the schema's published name; None when it does not store them."""
    config = node.get("config", {})
    if not config.get("store_failures"):
        return None
    return f"{config.get('schema') or 'dbt_test__audit'}.{node.get('alias') or node.get('name')}"


def runbook_section(node: dict[str, Any]) -> str:
    """The docs/runbook.md section of a dbt test node: its ``meta.runbook``, else
    ``integrity-failure`` (a test that guards the pipeline's own rules)."""
    meta = {**(node.get("meta") or {}), **(node.get("config", {}).get("meta") or {})}
    return str(meta.get("runbook") or INTEGRITY_FAILURE)


@dataclass(frozen=True)
class CheckResult:
    unique_id: str
    name: str
    model: str | None
    status: str  # pass / warn / fail / error / skipped / success
    failures: int
    is_finding: bool
    message: str | None
    failing_rows_at: str | None = None  # the table dbt stored the failing rows in, if it did
    runbook: str = INTEGRITY_FAILURE  # docs/runbook.md section (runbook_section)
    relation_name: str | None = None  # where the stored failing rows are in the build, as dbt names it


@dataclass
class RefreshOutcome:
    checks: list[CheckResult] = field(default_factory=list)
    node_errors: list[CheckResult] = field(default_factory=list)

    @property
    def tests(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.unique_id.startswith("unit_test.")]

    @property
    def integrity_failures(self) -> list[CheckResult]:
        return [
            check
            for check in self.checks
            if check.status == "error" or (check.status == "fail" and not check.is_finding)
        ]

    @property
    def failed_findings(self) -> list[CheckResult]:
        return [check for check in self.checks if check.is_finding and check.status == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status == "warn"]

    @property
    def passed(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status == "pass"]

    @property
    def publishable(self) -> bool:
        return not self.integrity_failures and not self.node_errors

    @property
    def exit_code(self) -> int:
        if not self.publishable:
            return EXIT_ERROR
        if self.failed_findings:
            return EXIT_FINDINGS
        return EXIT_OK

    def extend(self, run_results: dict[str, Any], manifest: dict[str, Any]) -> None:
        nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
        for result in run_results.get("results", []):
            unique_id = result["unique_id"]
            node = nodes.get(unique_id, {})
            status = str(result.get("status"))
            resource_type = unique_id.split(".", 1)[0]
            if resource_type in ("test", "unit_test"):
                depends_on = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), None)
                self.checks.append(
                    CheckResult(
                        unique_id=unique_id,
                        name=node.get("name", unique_id),
                        model=depends_on.split(".")[-1] if depends_on else None,
                        status=status,
                        failures=int(result.get("failures") or 0),
                        is_finding=FINDING_TAG in node.get("tags", []),
                        message=result.get("message"),
                        failing_rows_at=stored_failures_at(node),
                        runbook=runbook_section(node),
                        relation_name=node.get("relation_name") if stored_failures_at(node) else None,
                    )
                )
            elif status == "error":
                self.node_errors.append(
                    CheckResult(unique_id, node.get("name", unique_id), None, status, 0, False, result.get("message"))
                )

    def to_dict(self) -> dict[str, Any]:
        def rows(checks: list[CheckResult]) -> list[dict[str, Any]]:
            return [check.__dict__ for check in checks]

        return {
            "exit_code": self.exit_code,
            "publishable": self.publishable,
            "tests_passed": len([c for c in self.tests if c.status == "pass"]),
            "tests_warned": len([c for c in self.tests if c.status == "warn"]),
            "tests_failed": len([c for c in self.tests if c.status in ("fail", "error")]),
            "unit_tests": len([c for c in self.checks if c.unique_id.startswith("unit_test.")]),
            "integrity_failures": rows(self.integrity_failures),
            "failed_findings": rows(self.failed_findings),
            "warnings": rows(self.warnings),
            "node_errors": rows(self.node_errors),
        }
