"""Named crash points for the crash-safety campaign (docs/reliability.md#crash-safety).

``failpoint(name)`` does nothing unless this process was armed with that name (setting
``LOYALTY_FAILPOINT``, armed once by the command line: orchestration/cli.py). Armed, it kills
the whole process group of the command with SIGKILL, as systemd, a container runtime or
``timeout -s KILL`` stops a job: no ``finally`` block, no atexit handler and no dbt
subprocess survives it. ``FAILPOINTS`` is the one list of points; arming a name that is not in
it is a settings error, so a misspelt point can never pass for one that never fires.

The campaign that arms them is tools/faults/crashes.py; nothing else should set the variable.
"""

from __future__ import annotations

import os
import signal

# name -> the moment it kills (docs/reliability.md#crash-safety lists the same)
FAILPOINTS: dict[str, str] = {
    "load.mid_file": "loader: the rows of the first new file inserted, its transaction not committed",
    "load.between_files": "loader: the first new file committed, the next ones not loaded",
    "load.after": "after the load and the incentive actions, before dbt starts",
    "dbt.staging_incremental": "dbt build: the incremental staging model base_loyalty__ledger_events written, "
    "dbt still building others",
    "dbt.intermediate": "dbt build: intermediate model int_points_lots written, dbt still building others",
    "dbt.mart": "dbt build: mart fct_points_liability_monthly written, dbt still building others",
    "dbt.incremental_mart": "dbt build: incremental mart fct_store_incentive_evaluations written (undo-logged), "
    "dbt still building others",
    "dbt.test": "dbt build: the first test of dim_members reported, dbt still running tests and models",
    "findings.test": "findings run: the first reconciliation finding reported, dbt still running the others",
    "publish.mid_write": "DuckDB publish: the first schema copied into the new file, the others not",
    "publish.before_swap": "DuckDB publish: the new file written and checkpointed, before os.replace",
    "publish.after_swap": "publish: the new warehouse in place, before the refresh journal says published",
    "journal.published": "the refresh journal's 'published' version written to its draft, before os.replace",
    "incentives.close": "incentive close: the month journaled and evaluated in the build, before it is published",
    "incentives.journal": "incentives publish|reopen: the new action journal written to its draft, before os.replace",
    "pg.swap": "PostgreSQL publish: inside the swap transaction, every schema renamed, before commit",
}

_armed: str | None = None


def check(name: str | None) -> str | None:
    """``name`` when it is a known point (or None); raises ValueError naming the known points
    otherwise (loyalty/settings.py turns it into a SettingsError for ``LOYALTY_FAILPOINT``)."""
    if name and name not in FAILPOINTS:
        raise ValueError(f"{name!r} is not a failpoint; known: {', '.join(FAILPOINTS)}")
    return name or None


def arm(name: str | None) -> None:
    """Arm ``name`` for this process (None disarms). When armed, the process becomes the
    leader of its own process group unless it already leads one, so that the kill takes this
    command and its children (dbt) and never the shell or harness that started it. Raises
    ValueError for an unknown name."""
    global _armed
    _armed = check(name)
    if _armed and os.getpgrp() != os.getpid():
        os.setpgid(0, 0)


def armed() -> str | None:
    """The armed point's name, or None."""
    return _armed


def failpoint(name: str) -> None:
    """Kill this command's process group with SIGKILL when ``name`` is armed; otherwise
    nothing. Raises ValueError for a name not in ``FAILPOINTS`` (a programming error)."""
    if name not in FAILPOINTS:
        raise ValueError(f"{name!r} is not a failpoint")
    if _armed == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
