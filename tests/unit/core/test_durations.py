from __future__ import annotations

from datetime import timedelta

import pytest

from collector.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),  # days
        ("48h", timedelta(hours=48)),  # hours
        ("1h30m", timedelta(minutes=90)),  # units combine left to right
        ("500ms", timedelta(milliseconds=500)),  # milliseconds are not minutes
        ("2w", timedelta(days=14)),  # weeks
        (" 15 m ", timedelta(minutes=15)),  # blanks are ignored
        (90, timedelta(seconds=90)),  # a bare number is seconds (TOML integers)
        (0.25, timedelta(seconds=0.25)),  # fractional seconds
    ],
)
def test_parse_duration(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "30",  # a string needs a unit (a bare number only as a TOML number)
        "30x",  # unknown unit
        "d30",  # unit before number
        "-5m",  # negative
        True,  # a boolean is not a number of seconds
    ],
)
def test_parse_duration_rejects(text: str | float) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value",
    [timedelta(days=30), timedelta(hours=1, minutes=30), timedelta(seconds=0.02), timedelta(0)],
)
def test_format_round_trips(value: timedelta) -> None:
    # what check-config prints can be pasted back into the file
    assert parse_duration(format_duration(value)) == value
