"""Shared helpers for the decoder tests: a fixed receive context and result accessors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from collector.feeds import DecodeContext
from collector.models import Decoded, Reading, Rejection

PAYLOADS = Path(__file__).resolve().parents[2] / "data" / "payloads"

# Receive time of every test message; the sample payloads were "recorded" just before it.
RECEIVED = datetime(2026, 1, 10, 3, 0, 31, tzinfo=UTC)
MAX_AGE = timedelta(days=30)


def context(
    received_at: datetime = RECEIVED,
    max_age: timedelta = MAX_AGE,
    max_future: timedelta = timedelta(minutes=5),
) -> DecodeContext:
    return DecodeContext(
        station_id="ST-01", received_at=received_at, max_age=max_age, max_future=max_future
    )


def raw(document: Any) -> bytes:
    return orjson.dumps(document)


def sample(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def only_reading(decoded: Decoded) -> Reading:
    assert decoded.rejections == (), decoded.rejections
    assert len(decoded.readings) == 1
    return decoded.readings[0]


def only_rejection(decoded: Decoded) -> Rejection:
    assert decoded.readings == ()
    assert len(decoded.rejections) == 1, decoded.rejections
    return decoded.rejections[0]


def iso(text: str) -> datetime:
    """A UTC datetime from an ISO string with offset (test shorthand)."""
    return datetime.fromisoformat(text).astimezone(UTC)
