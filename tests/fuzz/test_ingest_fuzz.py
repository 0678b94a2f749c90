"""Fuzz of the ingest entry point (topic + payload bytes → Ingest.handle → our sink/stage).

Default run: a modest number of examples. Volume run (documented in docs/reliability.md):
``KUZET_FUZZ_EXAMPLES=200000 pytest -q tests/fuzz`` (each example is a sequence of messages).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.config import IngestSettings
from collector.ingest import KEEP_OVERSIZED, Ingest, Unit
from collector.metrics import FEEDS, OTHER_FEED, Metrics
from collector.models import Feed, Reading, RejectReason
from collector.stations import load_stations
from tests.integration.harness import TEST_STATIONS
from tests.unit.feeds._support import PAYLOADS, RECEIVED

EXAMPLES = int(os.environ.get("KUZET_FUZZ_EXAMPLES", "300"))
PREFIX = "almaty"
MAX_BYTES = 4096  # small, so oversized messages are cheap to generate
REASONS = {r.value for r in RejectReason}
SAMPLES = [p.read_bytes() for p in sorted(PAYLOADS.glob("*.json"))]
KNOWN = ["AIR-01", "AIR-02", "SEIS-01", "LAKE-01", "LAKE-02", "LAKE-03"]


@dataclass
class RecordingSink:
    """Our `Sink` interface: records units and acknowledges them at once."""

    units: list[Unit] = field(default_factory=list)

    async def put(self, unit: Unit) -> None:
        self.units.append(unit)
        unit.done()


@dataclass
class RecordingStage:
    """An analytics stage (our `ReadingsStage` shape): records what it is handed."""

    readings: list[Reading] = field(default_factory=list)

    async def __call__(self, readings: Sequence[Reading], _received_at: datetime) -> None:
        self.readings.extend(readings)


# --- strategies -----------------------------------------------------------------------------

ODD_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("/+#\x00\n é€𝄞"),
    max_size=70,
)
GOOD_ID = st.sampled_from(KNOWN) | st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
# A valid id with a tail: `$` in a regex also matches before a final newline.
NEAR_ID = st.builds(lambda s, tail: s + tail, GOOD_ID, st.sampled_from(["\n", " ", "\x00", "é"]))
STATION = GOOD_ID | NEAR_ID | ODD_TEXT
TOPIC = st.one_of(
    st.builds(
        lambda feed, station: f"{PREFIX}/{feed}/{station}",
        st.sampled_from([*FEEDS, "alerts", "AIR", ""]),
        STATION,
    ),
    st.lists(ODD_TEXT, min_size=1, max_size=5).map("/".join),
    st.builds(lambda s: f"other/air/{s}", STATION),
)


@st.composite
def mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"[", b"{", b'"', b"1e999", b"-0", b"\xff", b","]))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
KEYS = st.sampled_from(["ts", "pm25", "pm10", "no2", "level_m", "sr", "x", "y", "z"]) | st.text(
    max_size=5
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=30,
).map(lambda doc: json.dumps(doc, ensure_ascii=False).encode())  # ints beyond 64 bits too
HUGE = st.sampled_from(
    [
        b'{"ts": 1e400, "pm25": 1}',
        b'{"ts": "2026-01-10T03:00:00Z", "pm25": ' + b"9" * 5000 + b"}",
        b'{"ts": 1768014000, "level_m": -1e308}',
        b'{"ts": 99999999999999999999999999, "pm25": 1}',
        b'{"ts": "2026-01-10T03:00:00Z", "sr": 1e-320, "x": [0], "y": [0], "z": [0]}',
    ]
)
DEEP = st.builds(
    lambda depth, opener, closer: opener * depth + closer * depth,
    st.integers(1, 20_000),
    st.sampled_from([b"[", b'{"a":']),
    st.sampled_from([b"]", b"}"]),
)
PAYLOAD = st.one_of(
    st.binary(max_size=300), mutated_sample(), DOCS, HUGE, DEEP, st.binary(min_size=MAX_BYTES + 1)
)
MESSAGES = st.lists(
    st.tuples(TOPIC | st.sampled_from([f"{PREFIX}/air/AIR-01"]), PAYLOAD), max_size=12
)


# --- the property ---------------------------------------------------------------------------


def _sum(metrics: Metrics, name: str) -> float:
    return sum(s.value for m in metrics.registry.collect() for s in m.samples if s.name == name)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    messages=MESSAGES,
    unknown=st.sampled_from(["accept", "reject"]),
    rate=st.sampled_from([0.0, 2.0]),
)
def test_ingest_never_raises_and_accounts_for_every_message(
    loop: asyncio.AbstractEventLoop, messages: list[tuple[str, bytes]], unknown: str, rate: float
) -> None:
    sink, stage, metrics = RecordingSink(), RecordingStage(), Metrics()
    ticks = itertools.count()
    ingest = Ingest(
        settings=IngestSettings.model_validate(
            {
                "unknown_stations": unknown,
                "max_message_bytes": MAX_BYTES,
                "station_rate": rate,
                "station_burst": 3,
            }
        ),
        topic_prefix=PREFIX,
        stations=load_stations(TEST_STATIONS),
        metrics=metrics,
        sinks=dict.fromkeys((*Feed, None), sink),
        stages=[stage],
        wall_clock=lambda: RECEIVED,
        monotonic=lambda: next(ticks) * 0.01,
    )
    acked = 0

    def ack() -> None:
        nonlocal acked
        acked += 1

    for topic, payload in messages:
        loop.run_until_complete(ingest.handle(topic, payload, ack))

    # one unit per message, in order, each acknowledged once
    assert [u.topic for u in sink.units] == [t for t, _ in messages]
    assert acked == len(messages)
    throttled = 0
    for unit, (topic, payload) in zip(sink.units, messages, strict=True):
        _check_unit(unit, topic, payload)
        throttled += not unit.readings and not unit.rejected
    # counts add up: received = messages; rejected = rejected rows; throttled = empty units
    assert _sum(metrics, "kuzet_messages_received_total") == len(messages)
    assert _sum(metrics, "kuzet_messages_rejected_total") == sum(
        len(u.rejected) for u in sink.units
    )
    assert _sum(metrics, "kuzet_messages_throttled_total") == throttled
    if rate == 0:
        assert throttled == 0
    # analytics saw exactly the readings handed to the writers
    assert stage.readings == [r for u in sink.units for r in u.readings]


def _check_unit(unit: Unit, topic: str, payload: bytes) -> None:
    parts = topic.split("/")
    for row in unit.rejected:
        assert row.reason in REASONS
        assert row.topic == topic
        assert row.feed in (*FEEDS, OTHER_FEED)
        assert len(row.payload) <= max(KEEP_OVERSIZED, MAX_BYTES)
        if row.reason == RejectReason.TOO_LARGE:
            assert len(row.payload) <= KEEP_OVERSIZED
    for reading in unit.readings:
        # readings only ever come from a well-formed topic, for its own station and feed
        assert unit.feed is not None
        assert parts == [PREFIX, unit.feed.value, reading.station_id]
        assert type(reading).feed is unit.feed
    if unit.readings or unit.rejected:
        return
    # neither accepted nor rejected: only a throttled message of a well-formed topic
    assert unit.feed is not None
    assert len(parts) == 3
    assert parts[0] == PREFIX
