"""`make ui` serves the code location: start the webserver on 127.0.0.1, ask its GraphQL API
for the assets and their checks, and stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import PROJECT_DIR

QUERY = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def webserver(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((PROJECT_DIR / "orchestration" / "dagster.yaml").read_text())
    executable = Path(sys.executable).with_name("dagster-webserver")
    process = subprocess.Popen(
        [str(executable), "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"webserver exited: {process.stderr.read()[-2000:] if process.stderr else ''}")
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("webserver did not answer /server_info within 120 s")
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def test_graphql_lists_every_asset_and_check(webserver: str) -> None:
    from loyalty.settings import load_settings
    from orchestration.definitions import build_defs

    defs = build_defs(load_settings())
    request = urllib.request.Request(
        f"{webserver}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        nodes = json.load(response)["data"]["assetNodes"]
    served_assets = {"/".join(node["assetKey"]["path"]) for node in nodes}
    served_checks = {
        ("/".join(node["assetKey"]["path"]), check["name"])
        for node in nodes
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    }
    graph = defs.resolve_asset_graph()
    assert served_assets == {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert served_checks == {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert "published_warehouse" in served_assets
    assert any(name == "points_balances_within_minor_tolerance" for _, name in served_checks)
