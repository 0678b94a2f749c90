"""`python -m tests.benchmarks`: run the benchmark suite, print the table, optionally write JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.benchmarks.report import markdown
from tests.benchmarks.suite import FULL, OPTIONAL_ROWS, QUICK, ROWS, Options, run_suite


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description="Kuzet benchmarks against a real Mosquitto and PostgreSQL (see "
        "docs/performance.md). Full mode takes about 10 minutes, --quick about 2.",
    )
    parser.add_argument("--quick", action="store_true", help="short steps, coarse search")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument(
        "--rows",
        default=",".join(ROWS),
        help=f"comma-separated subset of {', '.join(ROWS + OPTIONAL_ROWS)} (default: all but "
        "profile)",
    )
    parser.add_argument("--profile", action="store_true", help="also run the py-spy profile")
    parser.add_argument(
        "--mqtt-url", help="use this broker instead of a private mosquitto (CPU not measured)"
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server where the role may CREATE DATABASE "
        "(default postgresql://root@127.0.0.1:5432/postgres)",
    )
    parser.add_argument("--workdir", type=Path, help="logs and generated files (default: temp)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(rows) - set(ROWS + OPTIONAL_ROWS)
    if unknown:
        print(f"unknown rows: {', '.join(sorted(unknown))}", file=sys.stderr)  # noqa: T201
        return 2
    if args.profile:
        rows.append("profile")
    opts = Options(
        plan=QUICK if args.quick else FULL,
        rows=rows,
        mqtt_url=args.mqtt_url,
        database_url=args.database_url,
    )
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        opts.workdir = args.workdir
    print(f"logs and generated files: {opts.workdir}", file=sys.stderr)  # noqa: T201
    results = run_suite(opts)
    print(markdown(results))  # noqa: T201
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
