"""`python -m tests.soak --minutes 30`: the release soak (see docs/reliability.md)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.soak.run import run_soak


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=10.0, help="× Almaty's real load")
    parser.add_argument(
        "--cycles",
        type=int,
        default=1,
        help="database and broker restarts, each this many times (one kill -9 at the start)",
    )
    parser.add_argument("--log", type=Path, default=None, help="the daemon's stderr")
    args = parser.parse_args()
    log = args.log or Path(tempfile.mkdtemp(prefix="kuzet-soak-")) / "kuzet.log"
    try:
        result = run_soak(args.minutes, args.speed, log, args.cycles)
    except AssertionError as exc:
        print(f"SOAK FAILED: {exc} (daemon log: {log})", file=sys.stderr)  # noqa: T201
        return 1
    print(json.dumps(result, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
