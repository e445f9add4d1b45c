"""`make deploy-check`: the production recipe of deploy/ run for real, on this machine.

    python -m tools.deploy_check [--keep] [--landing DIR] [--timeout SECONDS]

Everything in a temp folder: a throwaway PostgreSQL on 127.0.0.1 (tools/throwaway_postgres.py)
holding Dagster's storage through deploy/dagster.yaml, a small generated landing folder (or a copy
of ``--landing``), a webhook receiver (a thread recording every POST), and the two services started
with the commands of the systemd units in deploy/systemd/ and the variables of
deploy/loyalty.env.example, pointed into the temp folder. The daemon does the work, as in
production: the check turns the ``new_landing_files`` sensor on through the webserver's GraphQL
API, waits for the refresh run the sensor's tick requests, follows it to its end, reads its asset
materializations and check evaluations from GraphQL, and requires: the run succeeded, every mart
and the published warehouse were materialized, the integrity (blocking) checks all passed, the run
is stored in PostgreSQL, and the alerts of the demo data's injected faults reached the webhook.
It stops everything it started (also on a failure or Ctrl-C), removes the temp folder unless
``--keep``, prints one line per check and exits 0 when all pass, 1 otherwise (2 when it could not
start). The services' logs are files in the temp folder; their last lines are printed on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import throwaway_postgres

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEPLOY_DIR = PROJECT_DIR / "deploy"
INSTANCE_FILE = DEPLOY_DIR / "dagster.yaml"
ENV_EXAMPLE = DEPLOY_DIR / "loyalty.env.example"
UNITS = {
    "webserver": DEPLOY_DIR / "systemd" / "loyalty-dagster-webserver.service",
    "daemon": DEPLOY_DIR / "systemd" / "loyalty-dagster-daemon.service",
}
SENSOR = "new_landing_files"
ALERT_SENSOR = "alert_on_failed_checks"
MARTS_GROUP = "marts"
PUBLISHED_ASSET = "published_warehouse"
DAGSTER_DATABASE = "dagster"
# the PATH systemd gives a service: nothing may depend on an activated virtual environment
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SAMPLE_ARGS = ["--accounts", "300", "--months", "14", "--seed", "7"]
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
LOG_TAIL_LINES = 40


class DeployCheckError(RuntimeError):
    """A step of the check could not be done; the message says which and why."""


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


# --- the recipe's files ----------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """The ``NAME=value`` assignments of a systemd ``EnvironmentFile`` (comments and blank lines
    skipped, one level of surrounding quotes removed). Raises ``DeployCheckError`` naming the file
    and line for a line that is neither."""
    assignments = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(("#", ";")):
            continue
        name, equals, value = text.partition("=")
        if not equals or not name.strip().isidentifier():
            raise DeployCheckError(f"{path}:{number}: not a NAME=value line: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        assignments[name.strip()] = value
    return assignments


def unit_command(unit: Path, bin_dir: Path, options: dict[str, str] | None = None) -> list[str]:
    """The ``ExecStart=`` command of a systemd unit file, its program taken from ``bin_dir`` (the
    unit names the installed checkout's) and the values of ``options`` (e.g. ``{"-p": "3001"}``)
    replaced. Raises ``DeployCheckError`` naming the unit when it has no ``ExecStart=`` or lacks
    an option to replace."""
    lines = [line for line in unit.read_text(encoding="utf-8").splitlines() if line.startswith("ExecStart=")]
    if len(lines) != 1:
        raise DeployCheckError(f"{unit}: expected one ExecStart= line, found {len(lines)}")
    command = shlex.split(lines[0].removeprefix("ExecStart="))
    command[0] = str(bin_dir / Path(command[0]).name)
    for option, value in (options or {}).items():
        if option not in command[:-1]:
            raise DeployCheckError(f"{unit}: ExecStart= has no {option} option to set")
        command[command.index(option) + 1] = value
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the webhook receiver ----------------------------------------------------------------------


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 in a thread that answers every POST with 204 and keeps its
    body (parsed JSON, or the text when it is not JSON)."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        received = self.posts
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
                try:
                    parsed: Any = json.loads(body)
                except json.JSONDecodeError:
                    parsed = body
                with lock:
                    received.append(parsed)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet: the check prints what it received
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/loyalty-alerts"

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every ``{"alerts": [...]}`` body received so far."""
        return [
            alert
            for body in list(self.posts)
            if isinstance(body, dict)
            for alert in body.get("alerts", [])
            if isinstance(alert, dict)
        ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- the webserver's GraphQL API ------------------------------------------------------------------

WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message } } }
"""
REPOSITORIES_QUERY = """
{ repositoriesOrError { __typename
    ... on RepositoryConnection { nodes { name location { name } sensors { name sensorState { status } } } }
    ... on PythonError { message } } }
"""
START_SENSOR = """
mutation ($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) { __typename
    ... on Sensor { name sensorState { status } }
    ... on SensorNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message } } }
"""
RUNS_OF_SENSOR = """
query ($filter: RunsFilter) {
  runsOrError(filter: $filter) { __typename
    ... on Runs { results { runId status creationTime } }
    ... on PythonError { message } } }
"""
RUN_QUERY = """
query ($runId: ID!) {
  runOrError(runId: $runId) { __typename
    ... on Run { runId status jobName startTime endTime tags { key value }
                 assetMaterializations { assetKey { path } } }
    ... on RunNotFoundError { message }
    ... on PythonError { message } } }
"""
RUN_EVENTS = """
query ($runId: ID!, $cursor: String) {
  runOrError(runId: $runId) { __typename
    ... on Run { eventConnection(afterCursor: $cursor, limit: 1000) { cursor hasMore
        events { __typename
          ... on AssetCheckEvaluationEvent { evaluation { checkName success severity assetKey { path } } }
          ... on ExecutionStepFailureEvent { stepKey error { message } }
          ... on RunFailureEvent { message } } } } } }
"""
SENSOR_TICKS = """
query ($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { __typename
    ... on Sensor { sensorState { status ticks(limit: 10) { status timestamp skipReason error { message } } } }
    ... on SensorNotFoundError { message }
    ... on PythonError { message } } }
"""
SELECTED_EVENTS = {"AssetCheckEvaluationEvent", "ExecutionStepFailureEvent", "RunFailureEvent"}
ASSET_NODES = """
{ assetNodes { assetKey { path } groupName
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }
"""


class GraphQL:
    """The webserver's GraphQL endpoint."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def __call__(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 120) -> dict[str, Any]:
        """The ``data`` of a query; raises ``DeployCheckError`` with the errors GraphQL answered."""
        request = urllib.request.Request(
            f"{self.base_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise DeployCheckError(f"GraphQL error: {json.dumps(answer['errors'])[:1000]}")
        return answer["data"]

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/server_info", timeout=3):
                return True
        except (OSError, urllib.error.URLError):
            return False


def asset_key(node: dict[str, Any]) -> str:
    return "/".join(node["assetKey"]["path"])


# --- the deployment under test ---------------------------------------------------------------------


@dataclass
class Deployment:
    """What the check started, so that :meth:`stop` can end all of it."""

    root: Path
    keep: bool = False
    postgres: throwaway_postgres.Server | None = None
    webhook: WebhookReceiver | None = None
    services: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start_service(self, name: str, command: list[str], environ: dict[str, str]) -> None:
        """Start one service in a process group of its own (its code server and run workers
        join it), its output into ``<root>/logs/<name>.log``."""
        log_path = self.root / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.logs[name] = log_path
        with log_path.open("wb") as log_file:
            self.services[name] = subprocess.Popen(
                command,
                cwd=PROJECT_DIR,  # the units' WorkingDirectory=: the checkout
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> list[str]:
        return [f"{name} (exit {process.returncode})" for name, process in self.services.items() if process.poll()]

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []
            parts.append(f"--- last {min(lines, len(text))} lines of {name}: {path}")
            parts.extend(text[-lines:])
        return "\n".join(parts)

    def stop(self) -> list[str]:
        """Stop the services (SIGTERM to each process group, SIGKILL after 30 s), the webhook
        receiver and PostgreSQL; remove the temp folder unless ``keep``. Returns what did not go
        cleanly."""
        problems = []
        for process in self.services.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for name, process in self.services.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                problems.append(f"{name} ignored SIGTERM for 30 s: killed")
            # whatever is left of its group: the code server and run workers it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self.webhook is not None:
            self.webhook.stop()
        if self.postgres is not None:
            try:
                throwaway_postgres.stop(self.postgres.data_dir, self.postgres.bin_dir, remove=not self.keep)
            except RuntimeError as error:
                problems.append(f"PostgreSQL: {error}")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems


def service_environment(deployment: Deployment, landing: Path, dagster_home: Path, webhook_url: str) -> dict[str, str]:
    """The services' environment: deploy/loyalty.env.example's variables, those naming places
    pointed into the temp folder and PostgreSQL, on the PATH systemd gives a service. Nothing
    of the caller's own LOYALTY_*, DAGSTER_* or PG* settings leaks in."""
    server = deployment.postgres
    assert server is not None
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LOYALTY_", "DAGSTER_", "PG")) and name != "PATH"
    }
    environ["PATH"] = SYSTEMD_PATH
    environ.update(read_env_file(ENV_EXAMPLE))
    environ.update(
        {
            "LOYALTY_LANDING_DIR": str(landing),
            "LOYALTY_WAREHOUSE": str(deployment.root / "warehouse" / "loyalty.duckdb"),
            "LOYALTY_STATE_DIR": str(deployment.root / "state"),
            "LOYALTY_TARGET": "duckdb",
            "LOYALTY_ALERT_WEBHOOK": webhook_url,
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_HOST": server.host,
            "DAGSTER_PG_PORT": str(server.port),
            "DAGSTER_PG_USER": server.user,
            "DAGSTER_PG_PASSWORD": "",  # trust authentication on 127.0.0.1
            "DAGSTER_PG_DB": DAGSTER_DATABASE,
        }
    )
    return environ


def wait_for(what: str, probe, timeout: float, deployment: Deployment, interval: float = 1.0):
    """Call ``probe`` until it returns something other than None; raises ``DeployCheckError``
    naming ``what`` after ``timeout`` seconds or when a service exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if deployment.exited():
            raise DeployCheckError(f"{what}: a service exited: {', '.join(deployment.exited())}")
        if time.monotonic() > deadline:
            raise DeployCheckError(f"{what}: nothing after {timeout:.0f} s")
        time.sleep(interval)


def prepare(deployment: Deployment, landing_source: Path | None) -> Path:
    """The landing folder in the temp folder: generated small (``SAMPLE_ARGS``; its injected
    faults give findings and so alerts), or a copy of ``landing_source``. Returns its path."""
    landing = deployment.root / "landing"
    if landing_source is not None:
        if not landing_source.is_dir():
            raise DeployCheckError(f"--landing {landing_source} is not a folder")
        shutil.copytree(landing_source, landing)
    else:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.sample_data",
                "--out",
                str(landing),
                "--truth",
                str(deployment.root / "truth"),
                *SAMPLE_ARGS,
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise DeployCheckError(f"tools.sample_data failed: {completed.stderr.strip()[-1000:]}")
    return landing


def start_postgres(deployment: Deployment) -> None:
    """A throwaway PostgreSQL with an empty database for Dagster's storage (``DAGSTER_DATABASE``)."""
    import psycopg

    deployment.postgres = throwaway_postgres.start()
    server = deployment.postgres
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as connection:
        connection.execute(f'create database "{DAGSTER_DATABASE}"')


def runs_in_postgres(deployment: Deployment, run_id: str) -> int:
    """How many rows of Dagster's ``runs`` table in PostgreSQL hold ``run_id``."""
    import psycopg

    server = deployment.postgres
    assert server is not None
    with psycopg.connect(host=server.host, port=server.port, user=server.user, dbname=DAGSTER_DATABASE) as connection:
        return connection.execute("select count(*) from runs where run_id = %s", [run_id]).fetchone()[0]


# --- the check ------------------------------------------------------------------------------------


def run_check(deployment: Deployment, landing_source: Path | None, timeout: float, say, checks: list[Check]) -> None:
    """Start the deployment and append each check's result to ``checks`` as it is known (so a
    failure or an interruption midway still reports the ones before it)."""
    landing = prepare(deployment, landing_source)
    say(f"landing folder ready: {landing}")
    start_postgres(deployment)
    say(f"PostgreSQL on 127.0.0.1:{deployment.postgres.port}, database {DAGSTER_DATABASE}")
    dagster_home = deployment.root / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(INSTANCE_FILE, dagster_home / "dagster.yaml")
    deployment.webhook = WebhookReceiver()
    environ = service_environment(deployment, landing, dagster_home, deployment.webhook.url)

    port = free_port()
    bin_dir = Path(sys.executable).parent
    deployment.start_service("webserver", unit_command(UNITS["webserver"], bin_dir, {"-p": str(port)}), environ)
    deployment.start_service("daemon", unit_command(UNITS["daemon"], bin_dir), environ)
    say(f"started dagster-webserver (port {port}) and dagster-daemon, logs in {deployment.root / 'logs'}")

    graphql = GraphQL(f"http://127.0.0.1:{port}")
    wait_for("the webserver's /server_info", lambda: True if graphql.answers() else None, 180, deployment)

    def location_loaded() -> dict[str, Any] | None:
        answer = graphql(WORKSPACE_QUERY)["workspaceOrError"]
        if answer["__typename"] != "Workspace":
            raise DeployCheckError(f"workspace: {answer.get('message')}")
        for entry in answer["locationEntries"]:
            if entry["loadStatus"] == "LOADED":
                loaded = entry["locationOrLoadError"] or {}
                if loaded.get("__typename") == "PythonError":
                    raise DeployCheckError(f"code location {entry['name']} failed to load: {loaded['message']}")
                return entry
        return None

    location = wait_for("the code location", location_loaded, 300, deployment)
    repositories = graphql(REPOSITORIES_QUERY)["repositoriesOrError"]
    if repositories["__typename"] != "RepositoryConnection":
        raise DeployCheckError(f"repositories: {repositories.get('message')}")
    repository = next(
        (node for node in repositories["nodes"] if any(sensor["name"] == SENSOR for sensor in node["sensors"])), None
    )
    if repository is None:
        raise DeployCheckError(f"no repository of the workspace has the sensor {SENSOR}")
    checks.append(Check("services up, code location loaded", True, f"location {location['name']}"))
    say(f"code location {location['name']} loaded")

    selector = {
        "repositoryName": repository["name"],
        "repositoryLocationName": repository["location"]["name"],
        "sensorName": SENSOR,
    }
    started = graphql(START_SENSOR, {"selector": selector})["startSensor"]
    sensor_on = started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING"
    checks.append(
        Check(f"sensor {SENSOR} started (GraphQL startSensor)", sensor_on, started.get("message") or "RUNNING")
    )
    if not sensor_on:
        return
    say(f"sensor {SENSOR} started; waiting for the daemon's tick to request a run")

    def sensor_run() -> dict[str, Any] | None:
        answer = graphql(RUNS_OF_SENSOR, {"filter": {"tags": [{"key": "dagster/sensor_name", "value": SENSOR}]}})
        results = answer["runsOrError"].get("results") or []
        return results[0] if results else None

    requested_at = time.monotonic()
    run = wait_for(f"a run requested by {SENSOR}", sensor_run, 240, deployment, interval=2)
    run_id = run["runId"]
    checks.append(
        Check("the sensor's tick requested a run", True, f"run {run_id} after {time.monotonic() - requested_at:.0f} s")
    )
    say(f"run {run_id} requested by the sensor; following it to its end")

    def finished() -> dict[str, Any] | None:
        answer = graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        return answer if answer.get("status") in TERMINAL_RUN_STATUSES else None

    run = wait_for(f"run {run_id} to end", finished, timeout, deployment, interval=3)
    duration = (run["endTime"] or 0) - (run["startTime"] or 0)
    events = run_events(graphql, run_id)
    failures = [
        f"{event.get('stepKey') or 'run'}: {(event.get('error') or {}).get('message') or event.get('message')}"
        for event in events
        if event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")
    ]
    checks.append(
        Check(
            f"run {run['jobName']} succeeded",
            run["status"] == "SUCCESS",
            f"{run['status']} in {duration:.0f} s" + (f"; {' | '.join(failures)[:1500]}" if failures else ""),
        )
    )

    nodes = graphql(ASSET_NODES)["assetNodes"]
    marts = {asset_key(node) for node in nodes if node["groupName"] == MARTS_GROUP}
    materialized = {asset_key(event) for event in run["assetMaterializations"]}
    missing = sorted((marts | {PUBLISHED_ASSET}) - materialized)
    checks.append(
        Check(
            "every mart and the published warehouse materialized",
            bool(marts) and not missing,
            f"{len(marts & materialized)}/{len(marts)} marts, {len(materialized)} assets in all"
            + (f"; missing {', '.join(missing[:10])}" if missing else ""),
        )
    )

    blocking = {
        (asset_key(node), check["name"])
        for node in nodes
        for check in (node.get("assetChecksOrError") or {}).get("checks", [])
        if check["blocking"]
    }
    evaluations = [event["evaluation"] for event in events if event["__typename"] == "AssetCheckEvaluationEvent"]
    integrity = [item for item in evaluations if (asset_key(item), item["checkName"]) in blocking]
    broken = sorted(f"{asset_key(item)}:{item['checkName']}" for item in integrity if not item["success"])
    findings = sorted(
        item["checkName"]
        for item in evaluations
        if (asset_key(item), item["checkName"]) not in blocking and not item["success"]
    )
    checks.append(
        Check(
            "check evaluations recorded, integrity checks passed",
            bool(integrity) and not broken,
            f"{len(evaluations)} evaluations, {len(integrity)} integrity (blocking) all passed"
            if integrity and not broken
            else f"{len(evaluations)} evaluations, integrity failed: {', '.join(broken[:10]) or 'none evaluated'}",
        )
    )

    stored = runs_in_postgres(deployment, run_id)
    sqlite_files = sorted(str(path.relative_to(dagster_home)) for path in dagster_home.rglob("*.db"))
    checks.append(
        Check(
            "run history in PostgreSQL, not SQLite",
            stored == 1 and not sqlite_files,
            f"runs table holds the run: {stored == 1}; SQLite files in DAGSTER_HOME: {sqlite_files or 'none'}",
        )
    )

    # The refresh's dbt step POSTs the alerts of its failed checks before the run ends. The
    # alert_on_failed_checks run-status sensor (on by default) reads the run's check results from
    # the event log once the run has succeeded and POSTs those the run had not raised: wait for
    # its first tick after the run's end, so the webhook has whatever both send.
    alert_sensor = {**selector, "sensorName": ALERT_SENSOR}

    def alert_sensor_tick() -> dict[str, Any] | None:
        answer = graphql(SENSOR_TICKS, {"selector": alert_sensor})["sensorOrError"]
        if answer["__typename"] != "Sensor":
            raise DeployCheckError(f"sensor {ALERT_SENSOR}: {answer.get('message')}")
        after = [tick for tick in answer["sensorState"]["ticks"] if tick["timestamp"] > (run["endTime"] or 0)]
        first = min(after, key=lambda tick: tick["timestamp"]) if after else None
        return first if first is not None and first["status"] != "STARTED" else None  # until it has ended

    tick = wait_for(f"a tick of {ALERT_SENSOR} after the run", alert_sensor_tick, 120, deployment, interval=3)
    checks.append(
        Check(
            f"sensor {ALERT_SENSOR} evaluated the run",
            tick["status"] in ("SUCCESS", "SKIPPED"),
            f"tick {tick['status']} {tick['timestamp'] - (run['endTime'] or 0):.0f} s after the run ended"
            + (f": {tick['error']['message'][:300]}" if tick.get("error") else ""),
        )
    )
    posted = deployment.webhook.alerts()
    of_run = [alert for alert in posted if alert.get("run_id") == run_id]
    kinds: dict[str, int] = {}
    for alert in of_run:
        kinds[alert.get("kind", "?")] = kinds.get(alert.get("kind", "?"), 0) + 1
    by_sensor = kinds.get("check", 0)
    checks.append(
        Check(
            "alerts reached the webhook",
            bool(of_run),
            f"{len(deployment.webhook.posts)} POST(s), {len(of_run)} alert(s) of the run "
            f"({', '.join(f'{count} {kind}' for kind, count in sorted(kinds.items())) or 'none'}): "
            f"{len(of_run) - by_sensor} posted by the run's own dbt step, {by_sensor} by the {ALERT_SENSOR} "
            f"sensor; failed findings in the run: {', '.join(findings[:6]) or 'none'}",
        )
    )


def run_events(graphql: GraphQL, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run that the RUN_EVENTS query selects (check evaluations, failures),
    page by page."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = graphql(RUN_EVENTS, {"runId": run_id, "cursor": cursor})["runOrError"]
        connection = answer["eventConnection"]
        events.extend(event for event in connection["events"] if event["__typename"] in SELECTED_EVENTS)
        if not connection["hasMore"]:
            return events
        cursor = connection["cursor"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, state, PostgreSQL data)")
    parser.add_argument(
        "--landing", type=Path, help="copy this landing folder instead of generating a small one (e.g. demo/landing)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, metavar="SECONDS", help="how long the refresh run may take (default 900)"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)

    def interrupted(signum, frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # both, even when started in the background of a script (which ignores SIGINT): everything
    # started so far is stopped in the finally below
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    deployment = Deployment(root=Path(tempfile.mkdtemp(prefix="loyalty-deploy-check-")), keep=args.keep)
    say(f"deploy-check in {deployment.root}")
    checks: list[Check] = []
    error: str | None = None
    try:
        run_check(deployment, args.landing.resolve() if args.landing else None, args.timeout, say, checks)
    except (DeployCheckError, throwaway_postgres.PostgresUnavailable, RuntimeError, OSError) as failure:
        error = f"{type(failure).__name__}: {failure}"
    except KeyboardInterrupt:
        error = "interrupted"
    finally:
        passed = error is None and bool(checks) and all(check.passed for check in checks)
        if not passed and deployment.logs:
            print(deployment.tail(), flush=True)
        say("stopping the services and PostgreSQL")
        problems = deployment.stop()
    print()
    for check in checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    if error:
        print(f"FAIL  {error}")
    for problem in problems:
        print(f"note  {problem}")
    where = "temp folder removed"
    if args.keep:
        where = f"kept in {deployment.root}"
        if deployment.postgres is not None:
            where += f", PostgreSQL's data in {deployment.postgres.data_dir}"
    print(f"\ndeploy-check {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s ({where})")
    if error and not checks:
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
