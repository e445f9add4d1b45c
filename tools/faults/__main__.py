"""`make faults`: the whole fault campaign (docs/reliability.md), one table.

Runs every part of :mod:`tools.faults` with ``full=True`` in a fresh work folder, prints one
markdown table (kinds of bad input tried, rows delivered / staged / rejected / duplicates, crash
points tried and survived, determinism checks, mismatches found) and writes the same figures to
``bench/results/<date>-faults.json`` (not for ``--bounded``). Exits 0 when no part found a mismatch, 1 otherwise (each
mismatch is printed), 2 when a part could not run.

    python -m tools.faults [--parts bad_input,redelivery,...] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import platform
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tools.faults import Result

PROJECT_DIR = Path(__file__).resolve().parents[2]
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
# the parts, in the order the table lists them (modules of tools.faults)
PARTS = ("bad_input", "redelivery", "determinism", "personal_data", "crashes")
# run beside the others rather than after them
PARALLEL_LANE = ("crashes",)


def table(results: list[Result]) -> str:
    """The campaign as one markdown table: a row per part and what it tried, then a total row.

    Columns: part, what, cases tried, survived, rows delivered / staged / rejected / duplicates,
    mismatches (count), seconds.
    """
    header = (
        "| part | what | tried | survived | delivered | staged | rejected | duplicates | mismatches | seconds |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    )
    lines = list(header)
    for result in results:
        lines.append(
            f"| {result.part} | {result.what} | {result.tried} | {result.survived} | {result.delivered:,} "
            f"| {result.staged:,} | {result.rejected:,} | {result.duplicates:,} | {len(result.mismatches)} "
            f"| {result.seconds:.1f} |"
        )
    lines.append(
        f"| **total** | {len(results)} lines | {sum(r.tried for r in results)} | {sum(r.survived for r in results)} "
        f"| {sum(r.delivered for r in results):,} | {sum(r.staged for r in results):,} "
        f"| {sum(r.rejected for r in results):,} | {sum(r.duplicates for r in results):,} "
        f"| {sum(len(r.mismatches) for r in results)} | {sum(r.seconds for r in results):.1f} |"
    )
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    """The figures the issue asks for, one line each (kinds of bad input, crash points, ...)."""

    def of(part: str) -> list[Result]:
        return [result for result in results if result.part == part]

    bad = of("bad input")
    crash = of("crash")
    lines = [
        f"kinds of bad input tried: {len(bad)} ({sum(r.survived == r.tried for r in bad)} held)",
        "rows delivered / staged / rejected / duplicates: "
        + " / ".join(
            f"{sum(getattr(r, name) for r in results):,}" for name in ("delivered", "staged", "rejected", "duplicates")
        ),
        f"property-based examples: {sum(r.tried for r in of('property-based'))}",
        f"re-delivery and order scenarios: {sum(r.tried for r in of('re-delivery'))}",
        f"crash points tried / survived: {sum(r.tried for r in crash)} / {sum(r.survived for r in crash)}",
        f"determinism checks: {sum(r.tried for r in of('determinism'))}",
        f"personal-data scans: {sum(r.tried for r in of('personal data'))}",
        f"mismatches found: {sum(len(r.mismatches) for r in results)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts (default: all)")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a temporary folder, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--bounded", action="store_true", help="the bounded run make test does (full=False)")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="loyalty-faults-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    by_part: dict[str, list[Result]] = {}
    failed: list[str] = []

    def run(part: str) -> None:
        module = importlib.import_module(f"tools.faults.{part}")
        print(f"[{time.monotonic() - started:7.1f} s] {part} ...", flush=True)
        try:
            by_part[part] = module.campaign(workdir / part, full=not args.bounded)
        except Exception:  # a part that cannot run is an error, not a mismatch
            traceback.print_exc()
            print(f"error: the {part} part could not run (work folder: {workdir})", file=sys.stderr)
            failed.append(part)
        print(f"[{time.monotonic() - started:7.1f} s] {part} done", flush=True)

    # two lanes, to keep both cores busy (a refresh uses about one): the crash part (which runs
    # its own cases two at a time) beside the other parts, one after the other
    lanes = [[part for part in parts if part in PARALLEL_LANE], [part for part in parts if part not in PARALLEL_LANE]]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(lambda lane=lane: [run(part) for part in lane]) for lane in lanes if lane]:
                future.result()
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    code = 2 if failed else 0
    results = [result for part in parts for result in by_part.get(part, [])]
    print()
    print(table(results))
    print()
    print(summary(results))
    for result in results:
        for mismatch in result.mismatches:
            print(f"MISMATCH [{result.part}: {result.what}] {mismatch}")
    elapsed = time.monotonic() - started
    print(f"campaign took {elapsed / 60:.1f} min on {platform.machine()} ({platform.python_version()})")
    if args.bounded:  # the bounded run is make test's, not the campaign: no record
        return code or (1 if any(result.mismatches for result in results) else 0)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{dt.date.today().isoformat()}-faults.json"
    record = {
        "date": dt.date.today().isoformat(),
        "seconds": round(elapsed, 1),
        "results": [asdict(result) for result in results],
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"results: {out.relative_to(PROJECT_DIR)}")
    if code:
        return code
    return 1 if any(result.mismatches for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
