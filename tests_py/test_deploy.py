"""The production recipe in deploy/ (deploy/README.md) holds together, without starting anything:
the instance file stores runs, the event log and schedules in PostgreSQL through dagster-postgres
with the connection from the environment, the workspace loads this code location, the systemd
units run both services from the environment file, that file sets every setting the services
need, and the CLI neither overwrites nor duplicates a deployed instance. `make deploy-check`
(tools/deploy_check.py) runs the recipe for real."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import yaml

from loyalty.settings import VARIABLES, load_settings
from tools.deploy_check import ENV_EXAMPLE, INSTANCE_FILE, UNITS, read_env_file, unit_command

from conftest import PROJECT_DIR

DEPLOY = PROJECT_DIR / "deploy"
WORKSPACE = DEPLOY / "workspace.yaml"
STORAGES = {
    "run_storage": ("dagster_postgres.run_storage", "PostgresRunStorage"),
    "event_log_storage": ("dagster_postgres.event_log", "PostgresEventLogStorage"),
    "schedule_storage": ("dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
}
# what a deployed refresh cannot do without: where to read, where to write, which engine, where
# alerts go (README: How it runs)
SERVICE_SETTINGS = {
    "LOYALTY_LANDING_DIR",
    "LOYALTY_WAREHOUSE",
    "LOYALTY_STATE_DIR",
    "LOYALTY_TARGET",
    "LOYALTY_ALERT_WEBHOOK",
}


def instance_config() -> dict:
    return yaml.safe_load(INSTANCE_FILE.read_text(encoding="utf-8"))


def env_names_of(value) -> set[str]:
    """Every ``{"env": NAME}`` in a parsed YAML value."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return {value["env"]}
        return set().union(*(env_names_of(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(env_names_of(item) for item in value)) if value else set()
    return set()


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(UNITS[name], encoding="utf-8")
    return parser


def test_runs_event_log_and_schedules_are_stored_in_postgres(monkeypatch) -> None:
    from dagster._config import process_config, resolve_to_config_type  # what rehydrate() does, minus connecting
    from dagster_postgres.utils import pg_url_from_config

    config = instance_config()
    assert "storage" not in config, "one storage block or the three per-kind ones, not both"
    connection_variables = env_names_of(config)
    assert connection_variables == {f"DAGSTER_PG_{part}" for part in ("HOST", "PORT", "USER", "PASSWORD", "DB")}
    for name in connection_variables:
        monkeypatch.setenv(name, {"DAGSTER_PG_PORT": "6543"}.get(name, name.lower()))
    for key, (module, class_name) in STORAGES.items():
        assert (config[key]["module"], config[key]["class"]) == (module, class_name), key
        storage_class = getattr(__import__(module, fromlist=[class_name]), class_name)
        processed = process_config(resolve_to_config_type(storage_class.config_type()), config[key]["config"])
        assert processed.success, f"{INSTANCE_FILE} {key}: {processed.errors}"
        # psycopg2 explicitly: SQLAlchemy 2.1 would pick psycopg 3, whose event writes fail
        assert pg_url_from_config(processed.value) == (
            "postgresql+psycopg2://dagster_pg_user:dagster_pg_password@dagster_pg_host:6543/dagster_pg_db"
        )


def test_instance_keeps_the_projects_run_queue_and_telemetry_settings() -> None:
    development = yaml.safe_load((PROJECT_DIR / "orchestration" / "dagster.yaml").read_text(encoding="utf-8"))
    deployed = instance_config()
    assert deployed["concurrency"] == development["concurrency"]
    assert {"key": "loyalty/warehouse", "limit": 1} in deployed["concurrency"]["runs"]["tag_concurrency_limits"]
    assert deployed["telemetry"] == {"enabled": False}


def test_instance_file_is_valid_dagster_instance_config(tmp_path: Path, monkeypatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for name in env_names_of(instance_config()):
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")
    (tmp_path / "dagster.yaml").write_text(INSTANCE_FILE.read_text(encoding="utf-8"))
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_monitoring"]["enabled"] is True


def test_workspace_loads_this_code_location() -> None:
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    (origin,) = location_origins_from_yaml_paths([str(WORKSPACE)])
    target = origin.loadable_target_origin
    assert target.module_name == "orchestration.definitions"
    assert origin.location_name == "loyalty"
    # relative to the services' WorkingDirectory= (the checkout), which the units set
    assert target.working_directory == "."
    import orchestration.definitions

    assert Path(orchestration.definitions.__file__).resolve().is_relative_to(PROJECT_DIR)


@pytest.mark.parametrize(("name", "program"), [("webserver", "dagster-webserver"), ("daemon", "dagster-daemon")])
def test_systemd_units_run_the_services_from_the_environment_file(name: str, program: str) -> None:
    service = unit(name)["Service"]
    assert service["EnvironmentFile"] == "/etc/loyalty/loyalty.env"
    assert service["Restart"] == "on-failure"
    assert service["User"] == service["Group"] == "loyalty"
    checkout = Path(service["WorkingDirectory"])
    command = unit_command(UNITS[name], checkout / ".venv" / "bin")
    assert command[0] == str(checkout / ".venv" / "bin" / program)
    assert command[1:][: 3 if name == "daemon" else 2] == (["run"] if name == "daemon" else []) + [
        "-w",
        "deploy/workspace.yaml",
    ]
    assert "postgresql.service" in unit(name)["Unit"]["After"].split()
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"
    guide = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert UNITS[name].name in guide and service["EnvironmentFile"] in guide


def test_webserver_listens_on_loopback_only() -> None:
    command = unit_command(UNITS["webserver"], Path("/bin"))
    assert command[command.index("-h") + 1] == "127.0.0.1"


def test_environment_file_sets_what_the_services_need() -> None:
    assignments = read_env_file(ENV_EXAMPLE)
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    # every setting of loyalty/settings.py is in the file: set, offered commented out, or
    # explained as not for the services, so a new setting fails here until deploy/ says which
    mentioned = set(re.findall(r"^#?\s*(LOYALTY_[A-Z_]+)[=:]", text, flags=re.MULTILINE))
    assert set(VARIABLES) - mentioned == set(), f"{ENV_EXAMPLE.name} does not mention them"
    set_loyalty = {name for name in assignments if name.startswith("LOYALTY_")}
    assert set_loyalty <= set(VARIABLES), f"not settings of loyalty/settings.py: {set_loyalty - set(VARIABLES)}"
    assert set_loyalty >= SERVICE_SETTINGS
    assert "LOYALTY_FAILPOINT" not in assignments
    # the instance file's connection and the instance folder itself
    assert env_names_of(instance_config()) | {"DAGSTER_HOME"} <= set(assignments)
    settings = load_settings(assignments)  # every value is one the settings accept
    assert settings.dagster_home == Path(assignments["DAGSTER_HOME"])
    assert settings.target == "duckdb"


def test_dagster_home_follows_the_environment(tmp_path: Path) -> None:
    warehouse = {"LOYALTY_WAREHOUSE": str(tmp_path / "w" / "loyalty.duckdb")}
    own = load_settings(warehouse)
    assert own.dagster_home == own.warehouse_dagster_home == tmp_path / "w" / "loyalty.duckdb.dagster"
    deployed = load_settings({**warehouse, "DAGSTER_HOME": str(tmp_path / "dagster")})
    assert deployed.dagster_home == tmp_path / "dagster"
    assert deployed.warehouse_dagster_home == own.warehouse_dagster_home


def test_cli_instance_never_writes_into_dagster_home(tmp_path: Path) -> None:
    from loyalty.settings import SettingsError
    from orchestration.instance import dagster_instance

    home = tmp_path / "dagster"
    home.mkdir()
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "loyalty.duckdb"), "DAGSTER_HOME": str(home)})
    with pytest.raises(SettingsError, match=re.escape(f"DAGSTER_HOME={home} holds no dagster.yaml")):
        dagster_instance(settings)
    assert list(home.iterdir()) == [], "the development instance file must not be copied into DAGSTER_HOME"

    instance_file = home / "dagster.yaml"
    instance_file.write_text("# the operator's own\ntelemetry:\n  enabled: false\n")
    instance = dagster_instance(settings)
    assert Path(instance.root_directory) == home
    assert instance_file.read_text() == "# the operator's own\ntelemetry:\n  enabled: false\n"


def test_shared_storage_tells_a_deployed_instance(tmp_path: Path) -> None:
    from orchestration.instance import shared_storage

    deployed, development, empty = tmp_path / "deployed", tmp_path / "development", tmp_path / "empty"
    for folder in (deployed, development, empty):
        folder.mkdir()
    (deployed / "dagster.yaml").write_text(INSTANCE_FILE.read_text(encoding="utf-8"))
    (development / "dagster.yaml").write_text((PROJECT_DIR / "orchestration" / "dagster.yaml").read_text())
    assert shared_storage(deployed) == "dagster_postgres.run_storage"
    assert shared_storage(development) is None
    assert shared_storage(empty) is None


def test_ui_refuses_a_deployed_instance(tmp_path: Path, monkeypatch, capsys) -> None:
    from orchestration import cli

    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_FILE.read_text(encoding="utf-8"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(tmp_path / "loyalty.duckdb"))
    monkeypatch.setattr(cli.os, "execve", lambda *args: pytest.fail("ui started dagster dev on a deployed instance"))
    assert cli.main(["ui"]) == 2
    assert "loyalty-dagster-webserver" in capsys.readouterr().err
