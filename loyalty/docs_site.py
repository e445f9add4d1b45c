"""The dbt documentation site, built from a refreshed warehouse and served offline (`make docs`).

    python -m loyalty.docs_site [--port 8080] [--wait SECONDS] [--no-serve]

It is dbt's own documentation of the project (``dbt docs generate --static``): the lineage
graph, every model, seed, source and test with each column's description, the enum meanings
(the ``{% docs %}`` blocks of ``models/**/_*__docs.md``), the exposures
(``models/marts/_marts__exposures.yml``: what reads the marts outside dbt), and the catalog —
each relation's column types and row count — read from the warehouse's engine. Then it is
served on http://127.0.0.1:PORT until Ctrl-C (docs/operations.md#docs-site).

What it reads and writes (docs/operations.md#state):

* the catalog comes from the **build database** of the warehouse ``LOYALTY_WAREHOUSE`` names
  (``<state>/<warehouse>.build``), opened read-only (profiles.yml ``access_mode``, dbt var
  ``duckdb_access_mode``) while this process holds the warehouse's lock, so no refresh starts
  meanwhile; the published file BI reads is never opened. On PostgreSQL (``LOYALTY_TARGET=postgres``)
  dbt reads the catalog of the published schemas with select queries. No build database yet is
  an error that says to run ``make demo`` (or ``make refresh``) first;
* it writes ``Settings.docs_site_dir`` (``<state>/<warehouse>.dbt/docs/``) and nothing else:
  dbt's artifacts and logs, and ``index.html``, one self-contained page (manifest and catalog
  inlined) that opens from ``file://`` too.

Offline: dbt's page loads its usage tracker, a script from a CDN, when the manifest says
``send_anonymous_usage_stats`` (dbt_project.yml turns it off); :func:`make_offline` takes the
loader out all the same, and :func:`remote_loads` must then find nothing the page would fetch
from another host (scripts, stylesheets, fonts, images, CSS imports), or the build stops.

Errors (:class:`DocsError`, exit 2, naming the setting or argument): no build database, a
refresh holding the warehouse, ``dbt docs generate`` failing (its log's path given), dbt's page
no longer matching what :func:`make_offline` patches, the port in use.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from loyalty.lock import WarehouseBusy, holding
from loyalty.settings import PROJECT_DIR, Settings, SettingsError, load_settings

# dbt-core 1.11's docs page (dbt/task/docs/index.html): the tracking service turns the tracker on
# when the manifest's metadata says send_anonymous_usage_stats, by adding this script element.
TRACKER_SWITCH = "!0===e.track&&r.turn_on_tracking()"
TRACKER_SCRIPT = 'i.src="//d1fc8wv8zag5ca.cloudfront.net/2.9.0/sp.js"'
# What makes a browser fetch from another host as it shows the page: an element's src (HTML
# attribute or set from a script), a <link> (stylesheet, icon, font preload), a CSS url() or
# @import, whether the address is absolute (https://) or protocol-relative (//host). Links a
# reader clicks (<a href>) and addresses inside the inlined manifest's text load nothing.
REMOTE_LOAD = re.compile(
    r"""(?ix)
    (?: \bsrc \s* = \s* ["']? \s*
      | <link\b [^>]*? \bhref \s* = \s* ["']? \s*
      | \burl\( \s* ["']? \s*
      | @import \s+ (?: url\( )? \s* ["']? \s*
    )
    (?: https?: )? // [a-z0-9\[]
    """
)
DEFAULT_PORT = 8080


class DocsError(RuntimeError):
    """The docs site cannot be built or served; the message names what to fix."""


def remote_loads(html: str) -> list[str]:
    """Each place in ``html`` that makes a browser fetch something from another host, with some
    context (``[]``: the page works offline)."""
    return [html[max(match.start() - 60, 0) : match.end() + 60] for match in REMOTE_LOAD.finditer(html)]


def make_offline(html: str) -> str:
    """dbt's static docs page without its usage tracker (the script it would load from a CDN):
    the switch that turns it on is set to never, and the script's address is removed. Raises
    :class:`DocsError` when the page does not hold them (a dbt-core version whose page this
    module was not written for), or when anything else would still be fetched from the network."""
    missing = [name for name, text in (("switch", TRACKER_SWITCH), ("script", TRACKER_SCRIPT)) if text not in html]
    if missing:
        raise DocsError(
            f"dbt's docs page no longer holds the usage tracker's {' and '.join(missing)} that "
            "loyalty/docs_site.py takes out (TRACKER_SWITCH, TRACKER_SCRIPT): check the page of this dbt-core "
            "version for what it loads from the network and update them"
        )
    html = html.replace(TRACKER_SWITCH, "!1").replace(TRACKER_SCRIPT, 'i.src=""')
    left = remote_loads(html)
    if left:
        raise DocsError(f"dbt's docs page would still load {len(left)} resource(s) from the network: {left[:3]}")
    return html


def dbt_command(settings: Settings, *, compile_sql: bool = True) -> list[str]:
    """The ``dbt docs generate`` command of ``settings``' warehouse: its target, the catalog read
    from the build database read-only (DuckDB) or from the published schemas (PostgreSQL),
    artifacts and logs in ``settings.docs_site_dir``. ``compile_sql``: also compile every model
    (its compiled SQL shown on its page; seconds more). Raises :class:`DocsError` for the Spark
    target, whose tables live in a local Spark session only while it builds, and when this
    Python has no ``dbt`` beside it (not the project's venv)."""
    if settings.target == "duckdb":
        dbt_vars = {**settings.dbt_cli_vars(build_database=settings.build_database), "duckdb_access_mode": "read_only"}
    elif settings.target == "postgres":
        dbt_vars = settings.dbt_cli_vars()
    else:
        raise DocsError(
            f"LOYALTY_TARGET={settings.target}: make docs reads the catalog of a duckdb or postgres warehouse; "
            "the spark target's tables exist only inside `make test-spark`"
        )
    site = settings.docs_site_dir
    dbt = Path(sys.executable).with_name("dbt")
    if not dbt.exists():
        raise DocsError(f"no dbt beside {sys.executable} ({dbt}): run it with the project's venv (make install)")
    return [
        str(dbt),
        "docs",
        "generate",
        "--static",
        "--compile" if compile_sql else "--no-compile",
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        settings.target,
        "--target-path",
        str(site),
        "--log-path",
        str(site),
        "--vars",
        json.dumps(dbt_vars),
    ]


def build(settings: Settings, *, wait_seconds: float = 0, compile_sql: bool = True) -> Path:
    """Build the site (module docstring) and return its ``index.html``. Raises
    :class:`DocsError` when there is no build database (DuckDB), when dbt fails (naming its log)
    or when the page would load anything from the network; ``WarehouseBusy`` when a refresh
    holds the warehouse for more than ``wait_seconds``."""
    if settings.target == "duckdb" and not settings.build_database.exists():
        raise DocsError(
            f"no build database at {settings.build_database} (LOYALTY_WAREHOUSE={settings.warehouse}): "
            "the docs' catalog is read from a refreshed warehouse; run `make demo` (or `make refresh`) first"
        )
    command = dbt_command(settings, compile_sql=compile_sql)
    site = settings.docs_site_dir
    site.mkdir(parents=True, exist_ok=True)
    with holding(settings, wait_seconds):
        completed = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True)
    (site / "generate.out").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    static = site / "static_index.html"
    if completed.returncode != 0 or not static.exists():
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise DocsError(f"dbt docs generate failed (exit {completed.returncode}; {site / 'dbt.log'}):\n{tail}")
    index = site / "index.html"
    index.write_text(make_offline(static.read_text(encoding="utf-8")), encoding="utf-8")
    static.unlink()
    return index


def serve(folder: Path, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``folder`` on ``host``:``port`` (not started: call ``serve_forever``).
    Raises :class:`DocsError` naming the port when it cannot be bound."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise DocsError(f"cannot serve on {host}:{port} ({error}): pass another --port") from error


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # the page is all a reader asks for: no line per request
        pass


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring): 0 once served and stopped (or built, with
    ``--no-serve``), 2 on an error, named."""
    parser = argparse.ArgumentParser(prog="python -m loyalty.docs_site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 ({DEFAULT_PORT})")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for a running refresh (0)")
    parser.add_argument("--no-serve", action="store_true", help="build the site and stop")
    parser.add_argument("--no-compile", action="store_true", help="leave out each model's compiled SQL (faster)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"argument --port: must be 1-65535, not {args.port}")
    if args.wait < 0:
        parser.error(f"argument --wait: must be 0 or more seconds, not {args.wait:g}")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        index = build(settings, wait_seconds=args.wait, compile_sql=not args.no_compile)
        server = None if args.no_serve else serve(index.parent, args.port)
    except (DocsError, WarehouseBusy) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"built {index} in {time.perf_counter() - started:.1f} s (one page, no network needed)")
    if server is None:
        return 0
    print(f"serving the dbt docs on http://127.0.0.1:{args.port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
