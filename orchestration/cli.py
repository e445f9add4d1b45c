"""Command line: `python -m orchestration.cli refresh` runs the Dagster `refresh` job once;
`ui` starts the Dagster UI on this warehouse's instance; `incentives` journals an action.

Exit status (docs/operations.md#exit-codes): 0 when every check passed (warnings allowed), 1
when only reconciliation findings failed (the warehouse is published), 2 on an integrity
failure or any other error (the published warehouse is left as it was).

The environment is read once, here (loyalty/settings.py), and handed on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from loyalty import alerts, failpoints, incentive_actions
from loyalty.lock import WarehouseBusy, holding
from loyalty.outcome import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from loyalty.settings import REFRESH_TARGETS, Settings, SettingsError, load_settings
from orchestration.instance import dagster_instance, shared_storage


def _step_errors(result) -> list[str]:
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            message = error.message.strip()
            # dagster wraps Failure(description) as "Failure: description"
            errors.append(f"{event.step_key}: {message}")
    return errors


def refresh(settings: Settings, demo: bool = False, wait_seconds: float = 0, full_refresh: bool = False) -> int:
    if settings.target not in REFRESH_TARGETS:
        print(
            f"error: LOYALTY_TARGET={settings.target}: `refresh` runs on {' and '.join(REFRESH_TARGETS)}; "
            "the spark target is built and tested by dbt alone (`make test-spark`)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        with holding(settings, wait_seconds):
            return _refresh(settings, demo, full_refresh)
    except WarehouseBusy as error:
        # a scheduled refresh that could not run alerts (docs/runbook.md#refused-lock)
        refused_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        alerts.record(settings, [alerts.run_failure_alert(f"refused-{refused_at}-{os.getpid()}", str(error))])
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _refresh(settings: Settings, demo: bool, full_refresh: bool = False) -> int:
    import dagster as dg

    from loyalty.reporting.summary import render, warehouse_figures
    from loyalty.warehouse import BuildJournal, open_warehouse
    from orchestration.definitions import build_defs
    from orchestration.defs.dbt.assets import OUTCOME_FILE
    from orchestration.defs.resources import FULL_REFRESH_TAG

    outcome_path = settings.dbt_target_dir / OUTCOME_FILE
    outcome_path.unlink(missing_ok=True)
    instance = dagster_instance(settings)
    job = build_defs(settings).resolve_job_def("refresh")
    # dbt's and Dagster's step-by-step output goes to a log file; the terminal gets the summary.
    log_path = settings.refresh_log
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
                tags={FULL_REFRESH_TAG: "true"} if full_refresh else None,
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
    journal = BuildJournal.read(settings)
    if result.success and journal is not None and journal.status == "unchanged":
        code = journal.exit_code if journal.exit_code is not None else EXIT_OK
        print(
            f"nothing new in {settings.landing_dir} and nothing changed since the last publish: "
            f"{where} stands as published, with its checks (report: {settings.report_path})"
        )
        if demo:
            print(next_steps(settings))
            return EXIT_OK if code == EXIT_FINDINGS else code
        print(EXIT_MEANINGS[code])
        return code
    if not result.success:
        # a run that failed (unreadable file, integrity failure, ...) alerts like a failed check
        alerts.record(settings, [alerts.run_failure_alert(result.run_id, "; ".join(errors) or "run failed")])
    if journal is not None and journal.full_refresh and not full_refresh:
        # the landing step rebuilt in full: the build state came from another project version
        print("the dbt project changed since the last build: every incremental model was rebuilt in full")
    figures: dict = {}
    for materialization in result.asset_materializations_for_node("published_warehouse"):
        figures = materialization.metadata["figures"].value
    if not published and settings.target == "duckdb":
        figures = warehouse_figures(settings.build_database)
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
        print(
            f"exit {EXIT_ERROR}: the warehouse was NOT published; BI users keep the last good one (see the log above)"
        )
        return EXIT_ERROR
    code = outcome["exit_code"]
    if demo:
        print(next_steps(settings))
    if demo and code == EXIT_FINDINGS:
        print("The demo data carries injected faults on purpose: the findings above are expected.")
        return EXIT_OK
    print(EXIT_MEANINGS[code])
    return code


EXIT_MEANINGS = {
    EXIT_OK: f"exit {EXIT_OK}: published; every check passed (warnings allowed)",
    EXIT_FINDINGS: (
        f"exit {EXIT_FINDINGS}: published; reconciliation findings failed (upstream systems drifted): "
        "investigate them in the marts and the report"
    ),
}


def next_steps(settings: Settings) -> str:
    """Where to look after a refresh: the UI, the report, the warehouse."""
    return "\n".join(
        [
            "",
            "Next:",
            "  make ui        # Dagster UI on http://127.0.0.1:3000: assets, checks, runs (this one included)",
            f"  report:        {settings.report_path} (open in a browser, works offline)",
            f"  roll-forwards: {settings.workbook_path} (month-end workbook for finance)",
            f"  warehouse:     {settings.warehouse} (open read-only, e.g. harlequin --read-only FILE)",
            f"  state:         {settings.state_dir} (lock, alert queue, journals, dbt logs, Dagster storage)",
        ]
    )


def alert_command(settings: Settings, action: str, since: str | None) -> int:
    """``alerts list``: one line per queued alert (raised at, severity, message, runbook);
    ``alerts resend --since``: POST them to the webhook again."""
    try:
        if action == "resend":
            if since is None:
                raise alerts.AlertError("alerts resend needs --since (e.g. the moment the old webhook failed)")
            count = alerts.resend(settings, since)
            print(f"sent {count} alert(s) raised since {since} to {settings.alert_webhook}")
            return EXIT_OK
        rows = alerts.queued_since(settings, since)
    except alerts.AlertError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    for row in rows:
        print(f"{row['raised_at']}  {row['severity']:<5}  {row['message']}  [{row.get('runbook') or '-'}]")
    print(f"{len(rows)} alert(s) in {settings.alert_queue}")
    return EXIT_OK


def ui(settings: Settings, host: str, port: int) -> int:
    """Replace this process with `dagster dev` on this warehouse's instance (``DAGSTER_HOME``'s
    when set). Refused on an instance with shared storage: the deployed services serve it, and
    a second daemon would tick its schedules and sensors again (deploy/README.md)."""
    shared = shared_storage(settings.dagster_home)
    if shared is not None:
        print(
            f"error: DAGSTER_HOME={settings.dagster_home} is a deployed instance ({shared}): its UI is the "
            "loyalty-dagster-webserver service and its daemon loyalty-dagster-daemon (deploy/README.md); "
            "unset DAGSTER_HOME for this warehouse's own instance",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        dagster_instance(settings)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-h", host, "-p", str(port), "-m", "orchestration.definitions"]
    print(f"Dagster UI on http://{host}:{port} (instance: {settings.dagster_home})", flush=True)
    os.execve(command[0], command, {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)})
    return EXIT_OK  # pragma: no cover - execve does not return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("refresh", help="load, build, test and publish once (the Dagster refresh job)")
    run.add_argument("--demo", action="store_true", help="findings are expected (demo data): exit 0 on findings")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every incremental model from the raw tables instead of continuing from its state",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="when another refresh is writing the warehouse, wait this long for it (default: refuse at once)",
    )
    dev = commands.add_parser("ui", help="the Dagster UI (and its daemon) on this warehouse's Dagster instance")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    incentives = commands.add_parser("incentives", help="publish or reopen a store incentive month")
    incentives.add_argument("action", choices=incentive_actions.ACTIONS)
    incentives.add_argument("--month", required=True, help="the incentive month, YYYY-MM")
    incentives.add_argument("--by", required=True, help="who takes the action")
    incentives.add_argument("--note", default="", help="why")
    alert_commands = commands.add_parser(
        "alerts", help="list the queued alerts, or send them to the webhook again (docs/runbook.md)"
    )
    alert_commands.add_argument("action", choices=("list", "resend"))
    alert_commands.add_argument(
        "--since", help="only alerts raised at or after this moment, ISO 8601 (required by resend)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    failpoints.arm(settings.failpoint)  # the crash-safety campaign only (docs/reliability.md#crash-safety)
    if args.command == "ui":
        return ui(settings, args.host, args.port)
    if args.command == "incentives":
        try:
            entry = incentive_actions.record(settings, args.action, args.month, args.by, args.note)
        except incentive_actions.ActionError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_ERROR
        print(f"recorded: {entry['action']} {args.month} by {entry['acted_by']}; it takes effect at the next refresh")
        return EXIT_OK
    if args.command == "alerts":
        return alert_command(settings, args.action, args.since)
    if args.command == "refresh":
        try:
            return refresh(settings, demo=args.demo, wait_seconds=args.wait, full_refresh=args.full_refresh)
        except SettingsError as error:  # e.g. DAGSTER_HOME without an instance file
            print(f"error: {error}", file=sys.stderr)
            return EXIT_ERROR
        except Exception as error:  # an unexpected error must never look like exit 1 (findings)
            print(f"error: refresh failed: {type(error).__name__}: {error}", file=sys.stderr)
            return EXIT_ERROR
    return EXIT_OK  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
