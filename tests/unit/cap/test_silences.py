"""Silence matching with Alertmanager semantics, silence states, and the dispatcher's cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.silences import (
    Matcher,
    Silence,
    SilenceCache,
    SilenceState,
    alert_labels,
    matcher_problems,
    matches_all,
)
from storage.silences import SilenceRow

T0 = datetime(2026, 1, 10, 8, tzinfo=UTC)
LABELS = {
    "alertname": "pm25_24h",
    "severity": "warning",
    "kind": "air",
    "area": "Almaly",
    "station_id": "AIR-07",
}


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (Matcher("alertname", "pm25_24h"), True),  # equal value
        (Matcher("alertname", "pm25"), False),  # equality is exact, not a prefix
        (Matcher("alertname", "pm25_24h", is_equal=False), False),  # != on an equal value
        (Matcher("alertname", "aqi", is_equal=False), True),  # != on another value
        (Matcher("alertname", "pm25.*", is_regex=True), True),  # =~ matches the whole value
        (Matcher("alertname", "pm25", is_regex=True), False),  # =~ is anchored at the end
        (Matcher("alertname", "24h", is_regex=True), False),  # =~ is anchored at the start
        (Matcher("alertname", "pm25_(1h|24h)", is_regex=True), True),  # alternation
        (Matcher("alertname", "aqi|no2.*", is_regex=True), False),  # anchoring wraps the whole
        (Matcher("alertname", "pm25.*", is_regex=True, is_equal=False), False),  # !~ on a hit
        (Matcher("alertname", "aqi", is_regex=True, is_equal=False), True),  # !~ on a miss
        (Matcher("team", ""), True),  # an absent label equals ""
        (Matcher("team", "ops"), False),  # an absent label is not "ops"
        (Matcher("team", "ops", is_equal=False), True),  # so != "ops" matches
        (Matcher("team", ".*", is_regex=True), True),  # and .* matches it
        (Matcher("team", ".+", is_regex=True), False),  # but .+ does not
        (Matcher("alertname", "pm25_(", is_regex=True), False),  # a broken regex never matches
        (Matcher("alertname", "pm25_(", is_regex=True, is_equal=False), False),  # nor negated
        (Matcher("area", "almaly"), False),  # values are case-sensitive
        (Matcher("area", "(?i)almaly", is_regex=True), True),  # unless the regex says otherwise
    ],
)
def test_matcher(matcher: Matcher, expected: bool) -> None:
    assert matcher.matches(LABELS) is expected


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ([Matcher("alertname", "pm25_24h"), Matcher("area", "Almaly")], True),  # all match
        ([Matcher("alertname", "pm25_24h"), Matcher("area", "Medeu")], False),  # one fails
        ([Matcher("kind", "air"), Matcher("severity", "critical", is_equal=False)], True),
        ([], False),  # no matchers: mutes nothing
    ],
)
def test_all_matchers_must_match(matchers: list[Matcher], expected: bool) -> None:
    assert matches_all(matchers, LABELS) is expected


@pytest.mark.parametrize(
    ("matchers", "problem"),
    [
        ([], "at least one matcher"),  # a silence needs a matcher
        ([Matcher("area", "")], "empty string"),  # matches every alert without `area`
        ([Matcher("area", ".*", is_regex=True)], "empty string"),  # matches everything
        ([Matcher("area", "x", is_equal=False)], "empty string"),  # != matches absent labels
        ([Matcher("1area", "x")], "label name"),  # not a label name
        ([Matcher("area", "(", is_regex=True)], "regular expression"),  # does not compile
    ],
)
def test_matcher_problems(matchers: list[Matcher], problem: str) -> None:
    assert any(problem in p for p in matcher_problems(matchers))


@pytest.mark.parametrize(
    "matchers",
    [
        [Matcher("alertname", "pm25_24h")],  # one specific matcher
        [Matcher("area", ".*", is_regex=True), Matcher("kind", "air")],  # one specific is enough
    ],
)
def test_acceptable_matchers(matchers: list[Matcher]) -> None:
    assert matcher_problems(matchers) == []


def silence(**fields: Any) -> Silence:
    values: dict[str, Any] = {
        "id": 1,
        "matchers": (Matcher("alertname", "pm25_24h"),),
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=1),
    }
    values.update(fields)
    return Silence(**values)


@pytest.mark.parametrize(
    ("now", "expired_at", "state"),
    [
        (T0 - timedelta(seconds=1), None, SilenceState.PENDING),  # before startsAt
        (T0, None, SilenceState.ACTIVE),  # from startsAt on (inclusive)
        (T0 + timedelta(minutes=59), None, SilenceState.ACTIVE),
        (T0 + timedelta(hours=1), None, SilenceState.EXPIRED),  # endsAt is exclusive
        (T0 + timedelta(minutes=5), T0 + timedelta(minutes=4), SilenceState.EXPIRED),  # deleted
    ],
)
def test_state(now: datetime, expired_at: datetime | None, state: SilenceState) -> None:
    assert silence(expired_at=expired_at).state(now) is state


@pytest.mark.parametrize(
    ("now", "labels", "expected"),
    [
        (T0 + timedelta(minutes=1), LABELS, True),  # active and matching: muted
        (T0 - timedelta(minutes=1), LABELS, False),  # pending: not yet
        (T0 + timedelta(hours=2), LABELS, False),  # over: no longer
        (T0 + timedelta(minutes=1), {**LABELS, "alertname": "aqi"}, False),  # another alert
    ],
)
def test_mutes(now: datetime, labels: dict[str, str], expected: bool) -> None:
    assert silence().mutes(labels, now) is expected


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ({"labels": LABELS}, True),  # the dispatcher's Alertmanager element
        ({"labels": {**LABELS, "area": "Medeu"}}, True),  # the other silence matches
        ({"labels": {"alertname": "aqi"}}, False),  # nothing matches
        ({}, False),  # no labels at all: nothing can match a specific matcher
        ({"labels": "broken"}, False),  # a malformed payload is not muted
    ],
)
def test_cache_answers_the_dispatcher(alert: dict[str, Any], expected: bool) -> None:
    cache = SilenceCache(
        [
            silence(matchers=(Matcher("area", "Almaly"), Matcher("kind", "air"))),
            silence(id=2, matchers=(Matcher("station_id", "AIR-0[0-9]", is_regex=True),)),
        ]
    )
    assert cache.silenced(alert, T0 + timedelta(minutes=1)) is expected


def test_cache_replace_swaps_the_set() -> None:
    # after a refresh only the new silences count
    cache = SilenceCache([silence()])
    assert cache.silenced({"labels": LABELS}, T0)
    cache.replace([])
    assert not cache.silenced({"labels": LABELS}, T0)


def test_from_row_reads_the_stored_shape() -> None:
    # stored matchers are Alertmanager dicts; isEqual defaults to true as in the v2 API
    row = SilenceRow(
        id=5,
        matchers=({"name": "area", "value": "Almaly", "isRegex": False},),
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        created_by="ops",
        comment="maintenance",
        created_at=T0,
        expired_at=None,
    )
    loaded = Silence.from_row(row)
    assert loaded.matchers == (Matcher("area", "Almaly", is_regex=False, is_equal=True),)
    assert loaded.matchers[0].as_dict() == {
        "name": "area",
        "value": "Almaly",
        "isRegex": False,
        "isEqual": True,
    }


def test_labels_are_strings() -> None:
    # a null label reads as absent (""), numbers as text
    assert alert_labels({"labels": {"a": None, "b": 3}}) == {"a": "", "b": "3"}
