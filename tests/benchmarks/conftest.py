"""Benchmarks run only on request: `--run-benchmarks` or KUZET_BENCH=1; otherwise they are skipped.

The option is registered in tests/conftest.py, so it is known wherever pytest starts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.benchmarks.services import Services, services

ENABLE_ENV = "KUZET_BENCH"
MQTT_URL_ENV = "KUZET_BENCH_MQTT_URL"
SKIP_REASON = (
    "benchmarks run only with --run-benchmarks or KUZET_BENCH=1 (python -m tests.benchmarks "
    "prints the full table; see docs/performance.md)"
)
HERE = Path(__file__).resolve().parent


def _enabled(config: pytest.Config) -> bool:
    if os.environ.get(ENABLE_ENV, "").strip() == "1":
        return True
    return bool(config.getoption("--run-benchmarks", default=False))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's benchmark tests unless they were asked for."""
    if _enabled(config):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("benchmark") and HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bench_services(pg_server_url: str) -> Iterator[Services]:
    """A private mosquitto (or KUZET_BENCH_MQTT_URL) and the session's PostgreSQL server."""
    given = os.environ.get(MQTT_URL_ENV, "").strip() or None
    if given is None and shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not on PATH and KUZET_BENCH_MQTT_URL is unset")
    with services(given, pg_server_url) as svc:
        yield svc


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Where a benchmark keeps its logs and generated stations files."""
    return tmp_path
