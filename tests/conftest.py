"""Shared pytest configuration: service fixtures (broker, PostgreSQL, TimescaleDB) as plugins."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.timescale",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register `--run-benchmarks` (tests/benchmarks/conftest.py skips them without it)."""
    parser.addoption(
        "--run-benchmarks",
        action="store_true",
        default=False,
        help="run the tests marked `benchmark` (slow, need mosquitto and PostgreSQL)",
    )
