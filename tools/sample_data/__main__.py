"""Command line of the sample-data generator.

    python -m tools.sample_data --out LANDING_DIR --truth TRUTH_DIR \\
        [--accounts 2000] [--months 30] [--seed 42] [--start 2024-01] [--as-of before-month-end]
        [--feed-anomalies] [--overwrite]

Exit status: 0 on success, 2 on a bad argument (the message names it), 1 on any other error.
The defaults are the demo size (about 80,000 ledger events, a few seconds);
``--accounts 21000 --months 36`` makes about a million ledger events (about 30 s on 2 cores).
``--feed-anomalies`` (opt-in; without it the output is unchanged) also injects a quiet day and a
flood day inside the warehouse's feed volume alert window and writes feed_anomalies.csv
(tools/sample_data/feeds.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.sample_data.config import AS_OF_MODES, Config, ConfigError, GenerationError
from tools.sample_data.generate import generate

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = Config()
    parser = argparse.ArgumentParser(
        prog="python -m tools.sample_data",
        description="Write a deterministic landing folder with injected faults, and its ground truth.",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="LANDING_DIR",
        help="landing folder to write (<source>/<name>.parquet|.csv)",
    )
    parser.add_argument(
        "--truth",
        required=True,
        type=Path,
        metavar="TRUTH_DIR",
        help="folder for the ground truth (must not be inside LANDING_DIR)",
    )
    parser.add_argument("--accounts", type=int, default=defaults.accounts, help="members (default %(default)s)")
    parser.add_argument("--months", type=int, default=defaults.months, help="months of history (default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument(
        "--start", default=defaults.start, metavar="YYYY-MM", help="first month of the data (default %(default)s)"
    )
    parser.add_argument(
        "--as-of",
        choices=AS_OF_MODES,
        default=defaults.as_of,
        help="extract the data before the last month's end (23:59:58 at the latest: that month is not evaluated)"
        " or after its expiry run at 23:59:59 (default %(default)s)",
    )
    parser.add_argument(
        "--feed-anomalies",
        action="store_true",
        help="also inject feed volume anomalies the warehouse should flag: a quiet day of store_operations"
        " (most stores report nothing on the as-of day - 4) and a flood day of ledger_events (the as-of day - 2"
        " replayed as exact duplicates in <YYYY-MM>_replay-<date>.csv); truth in feed_anomalies.csv",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the landing files and truth of an earlier run in these folders",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # argparse itself exits 2 on malformed options
    config = Config(
        accounts=args.accounts,
        months=args.months,
        seed=args.seed,
        start=args.start,
        as_of=args.as_of,
        feed_anomalies=args.feed_anomalies,
    )
    try:
        result = generate(config, args.out, args.truth, overwrite=args.overwrite)
    except ConfigError as error:
        print(f"python -m tools.sample_data: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except GenerationError as error:
        print(f"python -m tools.sample_data: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(result.line())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
