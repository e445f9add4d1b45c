"""`make bench`: generate about a million ledger events and time the full refresh.

Prints one table (and writes bench/results.json): generator time, refresh wall time and the
peak memory of the refresh's processes, per engine, plus the slowest dbt models. Numbers in
the README come from here.

    python -m orchestration.bench [--accounts 21000] [--months 36] [--engines duckdb]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from orchestration.settings import PROJECT_DIR, load_settings

BENCH_DIR = PROJECT_DIR / "bench"


def run(command: list[str], env: dict[str, str]) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak_kib, before), completed


def slowest_models(target: Path, count: int = 8) -> list[tuple[str, float]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timings = [
        (result["unique_id"].split(".")[-1], float(result.get("execution_time") or 0.0))
        for result in results
        if result["unique_id"].startswith("model.")
    ]
    return sorted(timings, key=lambda item: item[1], reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=21000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engines", default="duckdb", help="comma-separated dbt targets to time")
    args = parser.parse_args(argv)

    landing, truth = BENCH_DIR / "landing", BENCH_DIR / "truth"
    generator = [
        sys.executable,
        "-m",
        "orchestration.sample_data",
        "--out",
        str(landing),
        "--truth",
        str(truth),
        "--accounts",
        str(args.accounts),
        "--months",
        str(args.months),
        "--seed",
        str(args.seed),
        "--overwrite",
    ]
    seconds, _, completed = run(generator, dict(os.environ))
    if completed.returncode != 0:
        print(completed.stderr, file=sys.stderr)
        return 2
    results: dict[str, object] = {"generator_seconds": round(seconds, 1), "generator": completed.stdout.strip()}
    print(f"generator: {seconds:.1f} s  ({completed.stdout.strip()})")

    for engine in [name.strip() for name in args.engines.split(",") if name.strip()]:
        warehouse = BENCH_DIR / engine / "loyalty.duckdb"
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        for stale in warehouse.parent.glob("loyalty.duckdb*"):
            stale.unlink()
        env = {
            **os.environ,
            "LOYALTY_LANDING_DIR": str(landing),
            "LOYALTY_WAREHOUSE": str(warehouse),
            "LOYALTY_TARGET": engine,
        }
        env.pop("DAGSTER_HOME", None)
        seconds, peak_kib, completed = run([sys.executable, "-m", "orchestration.cli", "refresh"], env)
        if completed.returncode not in (0, 1):
            print(completed.stdout[-4000:], completed.stderr[-4000:], file=sys.stderr)
            return 2
        target = load_settings({"LOYALTY_WAREHOUSE": str(warehouse), "LOYALTY_TARGET": engine}).dbt_target_dir
        models = slowest_models(target / "build")
        size_mib = warehouse.stat().st_size / 2**20 if warehouse.exists() else None
        results[engine] = {
            "refresh_seconds": round(seconds, 1),
            "peak_rss_mib": round(peak_kib / 1024),
            "warehouse_mib": round(size_mib) if size_mib else None,
            "slowest_models": models,
        }
        print(f"{engine}: full refresh {seconds:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB", end="")
        print(f", warehouse file {size_mib:.0f} MiB" if size_mib else "")
        for name, model_seconds in models:
            print(f"    {name:45} {model_seconds:6.1f} s")
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
