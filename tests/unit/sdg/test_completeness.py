"""Data completeness of a station over a period (storage.airstats.completeness, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from storage.airstats import completeness, covered_seconds

START = datetime(2024, 12, 31, 19, tzinfo=UTC)  # 1 January 2025 00:00 in Almaty
END = datetime(2025, 12, 31, 19, tzinfo=UTC)
AFTER = END + timedelta(days=40)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("received", "now", "interval_s", "threshold", "expected", "ratio", "valid"),
    [
        # a finished year at 60 s owes 525,600 readings; exactly 75 % of them is enough
        (394_200, AFTER, 60, Fraction(3, 4), 525_600, 0.75, True),
        # one reading fewer is not
        (394_199, AFTER, 60, Fraction(3, 4), 525_600, 394_199 / 525_600, False),
        # a current year owes only its elapsed part: 100 h at 3600 s → 100 readings
        (75, START + 100 * H, 3600, Fraction(3, 4), 100, 0.75, True),
        (74, START + 100 * H, 3600, Fraction(3, 4), 100, 0.74, False),
        # 75 % of a non-whole number is not rounded down: 7.5 of 10 needs 8
        (7, START + 10 * H, 3600, Fraction(3, 4), 10, 0.7, False),
        (8, START + 10 * H, 3600, Fraction(3, 4), 10, 0.8, True),
        # part of an interval counts: 90 min at 3600 s owes 1.5 readings, 2 is 133 %
        (2, START + timedelta(minutes=90), 3600, Fraction(3, 4), 1.5, 2 / 1.5, True),
        # a float threshold is taken exactly (0.9 = the EU compliance objective)
        (89, START + 100 * H, 3600, 0.9, 100, 0.89, False),
        (90, START + 100 * H, 3600, 0.9, 100, 0.9, True),
        # nothing is owed before the period starts: no ratio, not valid
        (0, START - H, 60, Fraction(3, 4), 0, None, False),
        # more readings than the interval implies: ratio above 1, kept as is
        (300, START + 100 * H, 3600, Fraction(3, 4), 100, 3.0, True),
        # 120 s sensors owe half as many readings as 60 s ones
        (2_700, START + 100 * H, 120, Fraction(3, 4), 3_000, 0.9, True),
    ],
)
def test_completeness(
    received: int,
    now: datetime,
    interval_s: float,
    threshold: Fraction | float,
    expected: float,
    ratio: float | None,
    valid: bool,
) -> None:
    got = completeness(
        received, start=START, end=END, now=now, interval_s=interval_s, threshold=threshold
    )
    assert got.received == received
    assert got.expected == pytest.approx(expected)
    assert got.ratio == (None if ratio is None else pytest.approx(ratio))
    assert got.valid is valid


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        # before the period: nothing elapsed
        (START - H, 0.0),
        # inside it: up to now
        (START + 3 * H, 10_800.0),
        # after it: the whole period, never more
        (AFTER, 365 * 86_400.0),
        # any offset works: 00:00+05 on 1 Jan 2025 is the start itself
        (datetime.fromisoformat("2025-01-01T05:00:00+05:00"), 5 * 3600.0),
    ],
)
def test_covered_seconds(now: datetime, seconds: float) -> None:
    assert covered_seconds(START, END, now) == seconds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # a naive clock is ambiguous
        ({"now": datetime(2025, 6, 1)}, "naive"),  # noqa: DTZ001
        # the interval divides: it must be positive
        ({"interval_s": 0}, "interval_s"),
        # a threshold of 0 would make every station valid
        ({"threshold": 0}, "threshold"),
        # more than 100 % cannot be required
        ({"threshold": 1.5}, "threshold"),
        # a period that ends before it starts
        ({"end": START - H}, "before"),
    ],
)
def test_completeness_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"start": START, "end": END, "now": AFTER, "interval_s": 60}
    with pytest.raises(ValueError, match=message):
        completeness(10, **{**args, **kwargs})  # type: ignore[arg-type]
