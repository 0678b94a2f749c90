"""Per-station token buckets: the pure decision with an injected clock, and the LRU cap."""

from __future__ import annotations

import math

import pytest

from collector.throttle import Bucket, StationThrottle, decide

RATE = 2.0
BURST = 3.0

# (monotonic time, newest reading time or None) per message of one station
Message = tuple[float, float | None]


def _run(messages: list[Message]) -> list[bool]:
    bucket: Bucket | None = None
    out = []
    for now, event in messages:
        allowed, bucket = decide(bucket, now, event, rate=RATE, burst=BURST)
        out.append(allowed)
    return out


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        # a new station starts with a full bucket: `burst` messages at once pass
        ([(0.0, None)] * 3, [True, True, True]),
        # the message after the burst at the same instant is refused
        ([(0.0, None)] * 4, [True, True, True, False]),
        # wall time refills at `rate`: 0.5 s later one token (2/s) is back
        ([(0.0, None)] * 4 + [(0.5, None)], [True, True, True, False, True]),
        # refill is capped at `burst`: a long silence does not bank more than 3
        ([(100.0, None)] * 4, [True, True, True, False]),
        # a steady stream at the rate passes indefinitely
        ([(i * 0.5, None) for i in range(20)], [True] * 20),
        # a stream at twice the rate passes the burst, then about every other message
        (
            [(i * 0.25, None) for i in range(10)],
            [True, True, True, True, True, False, True, False, True, False],
        ),
        # catch-up backlog: readings 1 s apart arriving at once earn their tokens
        ([(0.0, float(1000 + i)) for i in range(50)], [True] * 50),
        # a stuck sensor repeating one timestamp earns nothing from event time
        ([(0.0, 1000.0)] * 4, [True, True, True, False]),
        # going back in event time earns nothing either (credit only for new event time)
        ([(0.0, 1000.0), (0.0, 900.0), (0.0, 800.0), (0.0, 700.0)], [True, True, True, False]),
        # the first reading is a baseline: a station's past before it earns nothing
        ([(0.0, 5000.0)] * 4, [True, True, True, False]),
        # rejected input (no readings) interleaved with readings is held to wall time
        ([(0.0, None), (0.0, 1000.0), (0.0, None), (0.0, None)], [True, True, True, False]),
    ],
)
def test_decide(messages: list[Message], expected: list[bool]) -> None:
    assert _run(messages) == expected


def test_refused_message_keeps_its_credit_without_counting_it_twice() -> None:
    # after a refusal the baseline moves on: the same 0.25 s must not be credited again
    allowed, bucket = decide(Bucket(0.0, 0.0, 10.0), 0.25, 10.25, rate=RATE, burst=BURST)
    assert not allowed
    assert bucket == Bucket(0.5, 0.25, 10.25)
    allowed, bucket = decide(bucket, 0.5, 10.5, rate=RATE, burst=BURST)
    assert allowed
    assert bucket.tokens == pytest.approx(0.0)


def test_new_bucket_has_no_event_baseline() -> None:
    # a station's first message without readings leaves the event baseline unset
    _, bucket = decide(None, 0.0, None, rate=RATE, burst=BURST)
    assert bucket.event == -math.inf


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        # rate 0 turns throttling off: everything passes
        (0.0, [True] * 10),
        # with a rate, the burst of 3 is the limit at one instant
        (1.0, [True] * 3 + [False] * 7),
    ],
)
def test_station_throttle_rate(rate: float, expected: list[bool]) -> None:
    throttle = StationThrottle(rate, 3)
    assert [throttle.allow("AIR-01", 0.0, None) for _ in range(10)] == expected


def test_stations_are_independent() -> None:
    # one station's flood does not use another station's tokens
    throttle = StationThrottle(1.0, 2)
    assert [throttle.allow("AIR-01", 0.0, None) for _ in range(4)] == [True, True, False, False]
    assert throttle.allow("AIR-02", 0.0, None)


def test_buckets_are_capped() -> None:
    # invented station ids cannot grow memory: the oldest bucket is forgotten (and refilled)
    throttle = StationThrottle(1.0, 1, max_keys=2)
    assert throttle.allow("a", 0.0, None)
    assert not throttle.allow("a", 0.0, None)
    throttle.allow("b", 0.0, None)
    throttle.allow("c", 0.0, None)
    assert throttle.allow("a", 0.0, None)  # evicted, so it starts full again
    assert not throttle.allow("c", 0.0, None)  # still tracked and empty
