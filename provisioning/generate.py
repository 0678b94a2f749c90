"""Write (or check) the Grafana dashboard JSON under provisioning/grafana/dashboards/.

Usage, from the repository root:

    python -m provisioning.generate          # rewrite the committed JSON
    python -m provisioning.generate --check  # exit 1 if the committed JSON is stale

The JSON is committed so Grafana can load it without Python; a unit test regenerates it in
memory and compares, so the code and the files cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from provisioning import dash_air, dash_alerts, dash_health, dash_lakes, dash_seismic
from provisioning.grafana_model import Json

logger = logging.getLogger(__name__)

DASHBOARD_DIR = Path(__file__).resolve().parent / "grafana" / "dashboards"

# File name → builder. The file name is the dashboard uid.
BUILDERS: dict[str, Callable[[], Json]] = {
    f"{dash_air.UID}.json": dash_air.build,
    f"{dash_seismic.UID}.json": dash_seismic.build,
    f"{dash_lakes.UID}.json": dash_lakes.build,
    f"{dash_alerts.UID}.json": dash_alerts.build,
    f"{dash_health.UID}.json": dash_health.build,
}


def render(dashboard: Json) -> str:
    """The file text of a dashboard: stable key order, UTF-8 kept readable, final newline."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """Every dashboard's file name and text, generated now."""
    return {name: render(build()) for name, build in BUILDERS.items()}


def stale_files(directory: Path = DASHBOARD_DIR) -> list[str]:
    """Names of dashboard files that are missing or differ from what the code generates."""
    stale = []
    for name, text in rendered().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def write_all(directory: Path = DASHBOARD_DIR) -> list[Path]:
    """Write every dashboard file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        stale = stale_files()
        for name in stale:
            logger.error("stale: %s (run python -m provisioning.generate)", name)
        return 1 if stale else 0
    for path in write_all():
        logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
