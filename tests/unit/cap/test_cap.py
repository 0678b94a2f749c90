"""CAP 1.2 messages: mappings, schema validity, times, references, exercise, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import xmlschema

from alerts.cap import (
    CAP_NS,
    CapBuilder,
    CapSettings,
    Transition,
    cap_severity,
    cap_time,
    category,
    certainty,
    history,
    load_cap_settings,
    msg_type,
    urgency,
)
from alerts.model import Alert, Event, Severity
from collector.config import ConfigError
from collector.models import Feed
from collector.stations import Station, Stations, load_stations

XSD = Path(__file__).resolve().parents[2] / "data" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": CAP_NS}
ATOM = {"a": "http://www.w3.org/2005/Atom"}
T0 = datetime(2026, 1, 10, 8, tzinfo=UTC)
BASE = "http://127.0.0.1:8321"
QUAKE = {"magnitude": 6.1, "intensity": 7, "lead_s": 12, "distance_km": 60, "direction": 140}


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


@cache
def stations() -> Stations:
    return load_stations(None)


def builder(*, exercise: bool = False, **settings: Any) -> CapBuilder:
    return CapBuilder(stations(), CapSettings(**settings), base_url=BASE, exercise=exercise)


def make_alert(rule: str = "pm25_24h", **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "id": 17,
        "key": f"{rule}:AIR-07",
        "rule": rule,
        "kind": "air",
        "severity": Severity.WARNING,
        "state": "firing",
        "station_id": "AIR-07",
        "area": "Almaly",
        "value": 41.2,
        "threshold": 35.0,
        "unit": "µg/m³",
        "started_at": T0,
    }
    values.update(fields)
    return Alert(**values)


def parse(xml: bytes) -> ET.Element:
    schema().validate(xml.decode("utf-8"))  # every message built here is schema-checked
    return read(xml)


def read(xml: bytes) -> ET.Element:
    root: ET.Element = xmlschema.XMLResource(xml.decode("utf-8")).root
    return root


def text(node: ET.Element, path: str, ns: dict[str, str] = NS) -> str:
    found = node.find(path, ns)
    assert found is not None, path
    return found.text or ""


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (Event.FIRING, "Alert"),  # a new alert is announced
        (Event.ESCALATED, "Update"),  # a higher severity updates the announcement
        (Event.RESOLVED, "Cancel"),  # resolving withdraws it
    ],
)
def test_msg_type(event: Event, expected: str) -> None:
    assert msg_type(event) == expected


def test_repeat_is_no_message_of_its_own() -> None:
    # a repeat re-sends the current message; asking for its own type is a bug
    with pytest.raises(ValueError, match="repeat"):
        msg_type(Event.REPEAT)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("air", "Env"),  # spec: air quality is environmental
        ("seismic", "Geo"),  # spec: earthquakes are geophysical
        ("lake", "Geo"),  # spec: moraine lakes (mudflows) are geophysical
        ("system", "Infra"),  # a silent station is an infrastructure matter
        ("unknown", "Other"),  # a kind the spec does not name
    ],
)
def test_category(kind: str, expected: str) -> None:
    assert category(kind) == expected


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.CRITICAL, "Immediate"),  # critical: act now
        (Severity.WARNING, "Expected"),  # otherwise: act soon
        (Severity.INFO, "Expected"),
    ],
)
def test_urgency(severity: Severity, expected: str) -> None:
    assert urgency(severity) == expected


@pytest.mark.parametrize(
    ("rule", "severity", "expected"),
    [
        ("earthquake", Severity.CRITICAL, "Extreme"),  # earthquakes are Extreme
        ("pm25_1h", Severity.CRITICAL, "Severe"),  # other critical alerts are Severe
        ("lake_outburst", Severity.CRITICAL, "Severe"),
        ("pm25_24h", Severity.WARNING, "Moderate"),  # warnings are Moderate
        ("station_stale", Severity.INFO, "Minor"),  # information is Minor
    ],
)
def test_cap_severity(rule: str, severity: Severity, expected: str) -> None:
    assert cap_severity(rule, severity) == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("earthquake", "Likely"),  # an earthquake alert is an estimate
        ("station_pga", "Observed"),  # a measured acceleration
        ("pm25_24h", "Observed"),  # a measured concentration
        ("lake_level", "Observed"),
    ],
)
def test_certainty(rule: str, expected: str) -> None:
    assert certainty(rule) == expected


# (rule, kind, severity, station, area, details): one alert of each kind the network raises
KINDS = [
    # a station's warning: Env, Expected, Moderate, Observed
    ("pm25_24h", "air", Severity.WARNING, "AIR-07", "Almaly", {}),
    # a station's critical air alert: Immediate and Severe
    ("pm25_1h", "air", Severity.CRITICAL, "AIR-07", "Almaly", {}),
    # a city-wide alert without a station (generic templates, city circle)
    ("pm25_24h_city", "air", Severity.WARNING, None, "Almaty", {"base_rule": "pm25_24h"}),
    # an earthquake estimate: Geo, Immediate, Extreme, Likely
    ("earthquake", "seismic", Severity.CRITICAL, None, "Almaty", QUAKE),
    # strong motion measured at one station: Geo, Observed
    ("station_pga", "seismic", Severity.WARNING, "SEIS-01", "Almaty", {}),
    # a lake over its critical level: Geo, Severe
    ("lake_level", "lake", Severity.CRITICAL, "LAKE-01", "Kaskelen", {}),
    ("lake_rise", "lake", Severity.WARNING, "LAKE-01", "Kaskelen", {}),  # Geo, Moderate
    # a silent station: Infra, Minor
    ("station_stale", "system", Severity.INFO, "AIR-07", "Almaly", {}),
]


@pytest.mark.parametrize(("rule", "kind", "severity", "station", "area", "details"), KINDS)
@pytest.mark.parametrize(
    ("escalations", "resolved", "expected_type"),
    [
        ((), False, "Alert"),  # firing: Alert
        (((Severity.CRITICAL, T0 + timedelta(minutes=5)),), False, "Update"),  # escalated
        ((), True, "Cancel"),  # resolved: Cancel
    ],
)
def test_messages_are_valid_cap(
    rule: str,
    kind: str,
    severity: Severity,
    station: str | None,
    area: str,
    details: dict[str, Any],
    escalations: tuple[tuple[Severity, datetime], ...],
    resolved: bool,
    expected_type: str,
) -> None:
    # every kind of alert in every msgType validates against the OASIS schema and maps as §6 says
    alert = make_alert(
        rule,
        kind=kind,
        severity=severity,
        station_id=station,
        area=area,
        details=details,
        unit="" if kind == "system" else "µg/m³",
        state="resolved" if resolved else "firing",
        resolved_at=T0 + timedelta(hours=2) if resolved else None,
    )
    root = parse(builder().current(alert, escalations).xml)
    assert text(root, "cap:msgType") == expected_type
    assert text(root, "cap:status") == "Actual"
    infos = root.findall("cap:info", NS)
    assert [text(i, "cap:language") for i in infos] == ["kk-KZ", "ru-RU", "en-US"]
    for info in infos:
        assert text(info, "cap:category") == category(kind)
        assert text(info, "cap:urgency") == urgency(severity)
        assert text(info, "cap:severity") == cap_severity(rule, severity)
        assert text(info, "cap:certainty") == certainty(rule)
        assert text(info, "cap:headline")
        assert text(info, "cap:web") == f"{BASE}/api/v1/alerts/17"
        assert text(info, "cap:area/cap:circle")


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        ("Asia/Almaty", T0, "2026-01-10T13:00:00+05:00"),  # Almaty is UTC+5 since 2024
        ("UTC", T0, "2026-01-10T08:00:00+00:00"),  # UTC is written +00:00, never Z
        ("Asia/Almaty", T0 + timedelta(microseconds=999), "2026-01-10T13:00:00+05:00"),
    ],
)
def test_cap_time_has_a_numeric_offset(zone: str, at: datetime, expected: str) -> None:
    assert cap_time(at, ZoneInfo(zone)) == expected


def test_naive_time_is_refused() -> None:
    # a naive time has no honest offset
    with pytest.raises(ValueError, match="naive"):
        cap_time(datetime(2026, 1, 10, 8), UTC)  # noqa: DTZ001


@pytest.mark.parametrize("zone", ["Asia/Almaty", "UTC", "Europe/London"])
def test_sent_and_times_never_end_with_z(zone: str) -> None:
    # every date-time in a message carries ±hh:mm (CAP forbids Z), whatever the zone
    alert = make_alert(state="resolved", resolved_at=T0 + timedelta(hours=1))
    root = parse(builder(time_zone=zone).current(alert).xml)
    times = [text(root, "cap:sent")] + [e.text or "" for e in root.iter(f"{{{CAP_NS}}}onset")]
    assert times
    assert all(not t.endswith("Z") and t[-6] in "+-" for t in times)


def test_exercise_status_and_headlines() -> None:
    # drills: status Exercise and every headline says it is an exercise
    root = parse(builder(exercise=True).current(make_alert()).xml)
    assert text(root, "cap:status") == "Exercise"
    headlines = [text(i, "cap:headline") for i in root.findall("cap:info", NS)]
    assert headlines[0].startswith("ОҚУ-ЖАТТЫҒУ:")
    assert headlines[1].startswith("УЧЕНИЯ:")
    assert headlines[2].startswith("EXERCISE:")


def test_texts_are_escaped_and_cleaned() -> None:
    # <, & and > in names reach the reader intact; control characters XML cannot hold are dropped
    odd = Station(id="AIR-X", kind=Feed.AIR, name="A<&>B\x01", lat=43.2, lon=76.9, district="D&D")
    cap = CapBuilder(Stations([odd]), CapSettings(), base_url=BASE)
    alert = make_alert(station_id="AIR-X", area="D&D", key="pm25_24h:AIR-X")
    xml = cap.current(alert).xml
    assert b"A&lt;&amp;&gt;B" in xml
    assert b"\x01" not in xml
    root = parse(xml)
    english = root.findall("cap:info", NS)[2]
    assert "A<&>B" in text(english, "cap:headline")
    assert text(english, "cap:area/cap:areaDesc") == "D&D"


def test_cancel_references_every_earlier_message() -> None:
    # a Cancel after an escalation references the Alert and the Update: sender,identifier,sent
    alert = make_alert(state="resolved", resolved_at=T0 + timedelta(hours=2))
    escalated = (Severity.CRITICAL, T0 + timedelta(minutes=30))
    root = parse(builder().current(alert, [escalated]).xml)
    assert text(root, "cap:identifier") == "urn:kuzet:almaty:alert:17:resolved"
    assert text(root, "cap:references").split() == [
        "kuzet@127.0.0.1,urn:kuzet:almaty:alert:17:firing,2026-01-10T13:00:00+05:00",
        "kuzet@127.0.0.1,urn:kuzet:almaty:alert:17:escalated:critical,2026-01-10T13:30:00+05:00",
    ]
    assert text(root, "cap:info/cap:responseType") == "AllClear"
    assert text(root, "cap:info/cap:expires") == "2026-01-10T15:00:00+05:00"


def test_first_message_references_nothing() -> None:
    # an Alert is the first message of its alert
    root = parse(builder().current(make_alert()).xml)
    assert root.find("cap:references", NS) is None
    assert text(root, "cap:identifier") == "urn:kuzet:almaty:alert:17:firing"


def test_messages_are_stable() -> None:
    # regenerating a transition's message yields the same bytes (same identifier, same sent)
    alert = make_alert()
    assert builder().current(alert).xml == builder().current(alert).xml


def test_parameters_carry_machine_values() -> None:
    # value, threshold, unit and station id as parameters, numbers written the English way
    root = parse(builder().current(make_alert()).xml)
    english = root.findall("cap:info", NS)[2]
    params = {
        text(p, "cap:valueName"): text(p, "cap:value") for p in english.findall("cap:parameter", NS)
    }
    assert params["value"] == "41.2"
    assert params["threshold"] == "35.0"
    assert params["unit"] == "µg/m³"
    assert params["station_id"] == "AIR-07"
    assert params["alertname"] == "pm25_24h"


@pytest.mark.parametrize(
    ("escalations", "expected"),
    [
        ((), [Event.FIRING]),  # never escalated
        (  # escalations in any order come out by severity, the first record of each counts
            (
                (Severity.CRITICAL, T0 + timedelta(minutes=9)),
                (Severity.WARNING, T0 + timedelta(minutes=2)),
                (Severity.CRITICAL, T0 + timedelta(minutes=20)),
            ),
            [Event.FIRING, Event.ESCALATED, Event.ESCALATED],
        ),
    ],
)
def test_history(escalations: tuple[tuple[Severity, datetime], ...], expected: list[Event]) -> None:
    steps = history(make_alert(severity=Severity.CRITICAL), escalations)
    assert [s.event for s in steps] == expected
    if len(steps) == 3:
        assert steps[1] == Transition(Event.ESCALATED, T0 + timedelta(minutes=2), Severity.WARNING)
        assert steps[2].at == T0 + timedelta(minutes=9)


@pytest.mark.parametrize(
    ("station_id", "area", "expected"),
    [
        ("AIR-07", "Almaly", "station"),  # a station alert: a circle about the station
        (None, "Almaty", "city"),  # city-wide: the city circle
        (None, "Atlantis", "city"),  # an area without stations: the city circle
        (None, "Almaly", "district"),  # a district alert: about its stations' centroid
    ],
)
def test_area_circle(station_id: str | None, area: str, expected: str) -> None:
    alert = make_alert("pm25_24h_city", station_id=station_id, area=area, unit="stations")
    root = parse(builder().current(alert).xml)
    centre, radius = text(root, "cap:info/cap:area/cap:circle").split(" ")
    lat, lon = (float(v) for v in centre.split(","))
    if expected == "city":
        assert (lat, lon, float(radius)) == (43.238, 76.889, 15.0)
    elif expected == "station":
        station = stations().get("AIR-07")
        assert station is not None
        assert (lat, lon, float(radius)) == (
            round(station.lat or 0, 4),
            round(station.lon or 0, 4),
            3.0,
        )
    else:
        members = [s for s in stations() if s.area == area]
        assert min(s.lat or 0 for s in members) < lat < max(s.lat or 0 for s in members)
        assert float(radius) > 3.0  # reaches past the farthest station


def test_atom_feed_links_each_message() -> None:
    # one entry per message, linking to its CAP XML; the feed is dated by the newest message
    cap = builder()
    first = cap.current(make_alert())
    second = cap.current(make_alert(id=18, started_at=T0 + timedelta(hours=1)))
    feed = read(cap.feed([second, first], T0 + timedelta(days=1)))
    entries = feed.findall("a:entry", ATOM)
    assert [text(e, "a:id", ATOM) for e in entries] == [second.identifier, first.identifier]
    links = [e.find("a:link", ATOM) for e in entries]
    assert [link.get("href") for link in links if link is not None] == [
        f"{BASE}/api/v1/alerts/18/cap",
        f"{BASE}/api/v1/alerts/17/cap",
    ]
    assert text(feed, "a:updated", ATOM) == "2026-01-10T14:00:00+05:00"


def test_empty_feed_is_dated_now() -> None:
    # no firing alert: a valid feed without entries, dated by the clock
    feed = read(builder().feed([], T0))
    assert feed.findall("a:entry", ATOM) == []
    assert text(feed, "a:updated", ATOM) == "2026-01-10T13:00:00+05:00"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"sender": "ops, kuzet"}, "cap.sender"),  # CAP forbids commas and spaces in sender
        ({"sender": "ops@kuzet\n"}, "cap.sender"),  # nor a trailing newline (a `$` would pass it)
        ({"identifier_prefix": "a<b"}, "cap.identifier_prefix"),  # '<' would break the XML token
        ({"time_zone": "Mars/Olympus"}, "cap.time_zone"),  # an unknown zone
        ({"city_radius_km": 0}, "cap.city_radius_km"),  # a circle needs a radius
        ({"colour": "red"}, "cap.colour"),  # a typo is an error, not a silent default
    ],
)
def test_settings_are_validated(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_cap_settings(section)


@pytest.mark.parametrize(
    ("sender", "base_url", "expected"),
    [
        (None, "https://kuzet.almaty.kz/", "kuzet@kuzet.almaty.kz"),  # derived from the URL
        ("alerts@almaty.kz", "https://x", "alerts@almaty.kz"),  # configured wins
    ],
)
def test_sender(sender: str | None, base_url: str, expected: str) -> None:
    assert CapSettings(sender=sender).sender_for(base_url) == expected


def test_sent_uses_the_zone_of_the_settings() -> None:
    # a +06:00 zone gives +06:00 times
    tz6 = timezone(timedelta(hours=6))
    assert cap_time(T0, tz6) == "2026-01-10T14:00:00+06:00"
