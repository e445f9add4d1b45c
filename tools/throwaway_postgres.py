"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

    python -m tools.throwaway_postgres start   # prints the PG* variables to export
    python -m tools.throwaway_postgres stop DATA_DIR

It uses the server binaries of the machine (``LOYALTY_PG_BIN``, or the newest
``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on PATH), a new data folder, trust
authentication on 127.0.0.1 only, and ``fsync=off``: never for data you want to keep.
initdb refuses to run as root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DATABASE = "loyalty"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine; the message says what to install."""


@dataclass(frozen=True)
class Server:
    data_dir: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    database: str = DATABASE

    @property
    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    @property
    def environ(self) -> dict[str, str]:
        """libpq's variables (docs/operations.md#settings) pointing at this server."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user, "PGDATABASE": self.database}


def bin_dir() -> Path:
    from loyalty.settings import load_settings

    configured = load_settings().pg_bin
    candidates = [configured] if configured else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) in LOYALTY_PG_BIN, /usr/lib/postgresql/*/bin or PATH: "
        "install them (Debian: apt-get install -y postgresql) or point the PG* variables at a server"
    )


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *args] if os.geteuid() == 0 else args


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list[str], what: str) -> None:
    completed = subprocess.run(_as_server_user(args), capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{what} failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout}")


def start(settings: dict[str, str] | None = None) -> Server:
    """Start a server; `settings` are extra server settings (``{"work_mem": "256MB"}``)."""
    binaries = bin_dir()
    data_dir = Path(tempfile.mkdtemp(prefix="loyalty-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, SUPERUSER, SUPERUSER)
    data_dir.chmod(0o700)
    port = _free_port()
    _run(
        [str(binaries / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale"],
        "initdb",
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data_dir} -c fsync=off -c full_page_writes=off"
    options += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
    log = data_dir / "server.log"
    _run(
        [str(binaries / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
        "start",
    )
    server = Server(data_dir=data_dir, bin_dir=binaries, port=port)
    import psycopg

    with psycopg.connect(host=server.host, port=port, user=SUPERUSER, dbname="postgres", autocommit=True) as con:
        con.execute(f'create database "{DATABASE}"')
    return server


def stop(data_dir: Path, binaries: Path | None = None, remove: bool = True) -> None:
    """Stop the server of ``data_dir`` and delete the folder (kept when ``remove`` is false)."""
    binaries = binaries or bin_dir()
    if (data_dir / "postmaster.pid").exists():
        _run([str(binaries / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], "pg_ctl stop")
    if remove:
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.throwaway_postgres", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start a server; print `export PG...` lines and its data folder")
    stopping = commands.add_parser("stop", help="stop the server of DATA_DIR and delete the folder")
    stopping.add_argument("data_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            server = start()
            for name, value in server.environ.items():
                print(f"export {name}={value}")
            print(f"# stop with: python -m tools.throwaway_postgres stop {server.data_dir}")
        else:
            stop(args.data_dir)
    except (PostgresUnavailable, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
