"""Numbers and durations in alert messages: decimals, separators and units per language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from alerts.catalogue import LANGS, Lang, PlaceholderValueError
from alerts.messages import format_duration, format_number
from tests.unit.alerts._typical import MESSAGES, TYPICAL


@pytest.mark.parametrize(
    ("value", "lang", "digits", "trim", "expected"),
    [
        # English decimal point
        (41.24, "en", 1, False, "41.2"),
        # Russian and Kazakh decimal comma
        (41.24, "ru", 1, False, "41,2"),
        (41.24, "kk", 1, False, "41,2"),
        # half up, not half to even (41.25 is exactly representable as text)
        (41.25, "en", 1, False, "41.3"),
        (Decimal("0.125"), "ru", 2, False, "0,13"),
        # thresholds drop trailing zeros
        (35.0, "ru", 1, True, "35"),
        (0.5, "kk", 2, True, "0,5"),
        # fixed decimals for measured values
        (4, "kk", 2, False, "4,00"),
        # whole numbers
        (187.4, "en", 0, False, "187"),
        # thousands: comma in English from 4 digits, no-break space in ru/kk from 5
        (12500, "en", 0, False, "12,500"),
        (12500, "ru", 0, False, "12\u00a0500"),
        (2025, "kk", 0, False, "2025"),
        (1234.5, "en", 1, False, "1,234.5"),
        # no negative zero
        (-0.04, "en", 1, False, "0.0"),
        # negative numbers keep their sign
        (-1.25, "ru", 1, False, "-1,3"),
        # NaN is never shown as a number
        (float("nan"), "en", 1, False, "—"),
    ],
)
def test_format_number(value: float, lang: Lang, digits: int, trim: bool, expected: str) -> None:
    assert format_number(value, lang, digits, trim=trim) == expected


def test_format_number_refuses_booleans() -> None:
    # True is an int in Python, but never a measurement
    with pytest.raises(PlaceholderValueError):
        format_number(True, "en")


@pytest.mark.parametrize(
    ("rule", "params", "expected"),
    [
        # µg/m³ values with one decimal, thresholds without trailing zeros
        (
            "pm25_24h",
            {"value": 41.24, "threshold": 35.0},
            ("41.2 µg/m³", "41,2 мкг/м³", "35 мкг/м³"),
        ),
        # lake levels in metres with two decimals
        ("lake_level", {"value": 4.3, "threshold": 4.2}, ("4.30 m", "4,30 м", "4,2 м")),
        # rise rate in m/h: м/ч in Russian, м/сағ in Kazakh
        ("lake_rise", {"value": 0.62, "threshold": 0.5}, ("0.62 m/h", "0,62 м/ч", "0,5 м/сағ")),
        # PGA in gal: Гал in Russian and Kazakh
        ("station_pga", {"value": 31.46, "threshold": 25}, ("31.5 Gal", "31,5 Гал", "25 Гал")),
        # AQI is a whole number without a unit
        ("aqi", {"value": 187.4, "threshold": 151}, ("is 187,", "AQI — 187,", "(AQI) — 187,")),
        # numeric strings from annotations are reformatted per language
        ("no2_1h", {"value": "212.44", "threshold": "200"}, ("212.4 µg/m³", "212,4", "200 мкг")),
        # a count of stations is a whole number, whichever rule counts them
        (
            "pm25_1h_city",
            {"value": 7.0, "threshold": 5.0, "unit": "stations"},
            ("at 7 monitoring", "постов: 7)", "мезгілде 7 бақылау"),
        ),
    ],
)
def test_numbers_in_messages_follow_the_language(
    rule: str, params: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    rendered = MESSAGES.render_all(rule, "firing", {**TYPICAL[rule], "unit": None, **params})
    assert expected[0] in rendered["en"].summary
    assert expected[1] in rendered["ru"].summary
    assert expected[2] in rendered["kk"].summary


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        # under a minute has words of its own
        (timedelta(seconds=59), ("less than a minute", "менее минуты", "бір минуттан аз")),
        # minutes
        (timedelta(minutes=45, seconds=59), ("45 min", "45 мин", "45 минут")),
        # hours and minutes
        (timedelta(hours=3, minutes=20), ("3 h 20 min", "3 ч 20 мин", "3 сағат 20 минут")),
        # a zero part is left out
        (timedelta(hours=3), ("3 h", "3 ч", "3 сағат")),
        # from a day on, minutes are left out
        (timedelta(days=2, hours=4, minutes=30), ("2 d 4 h", "2 сут 4 ч", "2 тәулік 4 сағат")),
        (timedelta(days=1, minutes=5), ("1 d", "1 сут", "1 тәулік")),
    ],
)
def test_format_duration(duration: timedelta, expected: tuple[str, str, str]) -> None:
    assert tuple(format_duration(duration, lang) for lang in LANGS) == expected


def test_negative_durations_are_refused() -> None:
    # a clock error must not produce "-1 h" in a public notice
    with pytest.raises(PlaceholderValueError):
        format_duration(timedelta(minutes=-5), "en")


@pytest.mark.parametrize(
    ("rule", "params", "expected"),
    [
        # a duration given in seconds
        ("pm25_24h", {"duration": 12000}, ("3 h 20 min", "3 ч 20 мин", "3 сағат 20 минут")),
        # station_stale: value and threshold are seconds of silence, shown as durations
        ("station_stale", {"value": 1140}, ("for 19 min", "уже 19 мин", "19 минут")),
    ],
)
def test_durations_in_messages(
    rule: str, params: dict[str, Any], expected: tuple[str, ...]
) -> None:
    event = "repeat" if "duration" in params else "firing"
    rendered = MESSAGES.render_all(rule, event, {**TYPICAL[rule], **params})
    for lang, fragment in zip(LANGS, expected, strict=True):
        assert fragment in rendered[lang].summary, rendered[lang].summary
