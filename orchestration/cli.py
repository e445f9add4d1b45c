"""Command line: `python -m orchestration.cli refresh` runs the Dagster `refresh` job once.

Exit status (CONTRACT §1): 0 when every check passed (warnings allowed), 1 when only
reconciliation findings failed (the warehouse is published), 2 on an integrity failure or any
other error (the published warehouse is left as it was).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys

from orchestration import alerts, incentive_actions
from orchestration.lock import WarehouseBusy, holding
from orchestration.outcome import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from orchestration.settings import Settings, load_settings

REFRESH_TARGETS = ("duckdb", "postgres")


def _step_errors(result) -> list[str]:
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            message = error.message.strip()
            # dagster wraps Failure(description) as "Failure: description"
            errors.append(f"{event.step_key}: {message}")
    return errors


def refresh(demo: bool = False, wait_seconds: float = 0) -> int:
    settings = load_settings()
    if settings.target not in REFRESH_TARGETS:
        print(
            f"error: LOYALTY_TARGET={settings.target}: `refresh` runs on {' and '.join(REFRESH_TARGETS)}; "
            "the spark target is built and tested by dbt alone (`make test-spark`)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        with holding(settings, wait_seconds):
            return _refresh(settings, demo)
    except WarehouseBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _refresh(settings: Settings, demo: bool) -> int:
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.dbt import OUTCOME_FILE
    from orchestration.summary import render, warehouse_figures
    from orchestration.warehouse import open_warehouse

    outcome_path = settings.dbt_target_dir / OUTCOME_FILE
    outcome_path.unlink(missing_ok=True)
    instance = dg.DagsterInstance.get() if _dagster_home_set() else dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("refresh")
    # dbt's and Dagster's step-by-step output goes to a log file; the terminal gets the summary.
    log_path = settings.dbt_target_dir / "refresh.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    where = open_warehouse(settings).describe()
    print(f"refreshing {where} from {settings.landing_dir} (full log: {log_path}) ...", flush=True)
    with log_path.open("w", encoding="utf-8") as log_file, contextlib.redirect_stdout(log_file):
        handler = logging.StreamHandler(log_file)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
        finally:
            root.removeHandler(handler)

    outcome = json.loads(outcome_path.read_text()) if outcome_path.exists() else None
    published = any(event.is_step_success and event.step_key == "published_warehouse" for event in result.all_events)
    load = None
    for materialization in result.asset_materializations_for_node("load_landing"):
        if materialization.asset_key == dg.AssetKey(["raw", "load_log"]):
            load = {key: value.value for key, value in materialization.metadata.items()}
    freshness = [
        evaluation for evaluation in result.get_asset_check_evaluations() if evaluation.check_name == "source_freshness"
    ]
    stale = sorted(evaluation.asset_key.path[-1] for evaluation in freshness if not evaluation.passed)
    errors = _step_errors(result)
    if not result.success:
        # a run that failed (unreadable file, integrity failure, ...) alerts like a failed check
        alerts.record(settings, [alerts.run_failure_alert(result.run_id, "; ".join(errors) or "run failed")])
    figures: dict = {}
    for materialization in result.asset_materializations_for_node("published_warehouse"):
        figures = materialization.metadata["figures"].value
    if not published and settings.target == "duckdb":
        figures = warehouse_figures(settings.work_copy)
    print(
        render(
            landing_dir=settings.landing_dir,
            warehouse=where,
            report=settings.report_path,
            published=published,
            load=load,
            outcome=outcome,
            figures=figures,
            error="; ".join(errors) if errors else None,
        )
    )
    if freshness:
        print(
            f"Source freshness: {len(freshness) - len(stale)} of {len(freshness)} sources received a file recently"
            + (f"; stale: {', '.join(stale)}" if stale else "")
        )
    if not result.success or not published or outcome is None:
        return EXIT_ERROR
    code = outcome["exit_code"]
    if demo and code == EXIT_FINDINGS:
        print("The demo data carries injected faults on purpose: the findings above are expected.")
        return EXIT_OK
    return code


def _dagster_home_set() -> bool:
    import os

    return bool(os.environ.get("DAGSTER_HOME"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("refresh", help="load, build, test and publish once (the Dagster refresh job)")
    run.add_argument("--demo", action="store_true", help="findings are expected (demo data): exit 0 on findings")
    run.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="when another refresh is writing the warehouse, wait this long for it (default: refuse at once)",
    )
    incentives = commands.add_parser("incentives", help="publish or reopen a store incentive month")
    incentives.add_argument("action", choices=incentive_actions.ACTIONS)
    incentives.add_argument("--month", required=True, help="the incentive month, YYYY-MM")
    incentives.add_argument("--by", required=True, help="who takes the action")
    incentives.add_argument("--note", default="", help="why")
    args = parser.parse_args(argv)
    try:
        load_settings()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.command == "incentives":
        try:
            entry = incentive_actions.record(load_settings(), args.action, args.month, args.by, args.note)
        except incentive_actions.ActionError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_ERROR
        print(f"recorded: {entry['action']} {args.month} by {entry['acted_by']}; it takes effect at the next refresh")
        return EXIT_OK
    if args.command == "refresh":
        try:
            return refresh(demo=args.demo, wait_seconds=args.wait)
        except Exception as error:  # an unexpected error must never look like exit 1 (findings)
            print(f"error: refresh failed: {type(error).__name__}: {error}", file=sys.stderr)
            return EXIT_ERROR
    return EXIT_OK  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
