"""CAP 1.2 messages of alert transitions (spec §6) and the Atom feed that lists them.

Each transition of an alert is one CAP message: `Alert` when it fires, `Update` when it
escalates, `Cancel` when it resolves; a `repeat` notification re-sends the current message
and is no message of its own. A message carries one `info` block per language (kk-KZ, ru-RU,
en-US) rendered from the reviewed templates (`alerts.messages`) with the parameters the
webhook payload uses (`PayloadBuilder.params`), and references every earlier message of its
alert. Identifiers are stable per transition (`<prefix>:<alert id>:firing`,
`...:escalated:<severity>`, `...:resolved`), so regenerating a message yields the same one.

`sent` is the event time of the transition (the reading behind it) in the configured time
zone, always with a ±hh:mm offset: CAP forbids `Z`. Escalations have no stored event time:
their `sent` is the wall-clock time the escalation was recorded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerts.catalogue import Lang
from alerts.messages import Messages, format_number, load_messages
from alerts.model import Alert, Event, Severity
from alerts.payload import PayloadBuilder, digits_for
from collector.config import ConfigError
from collector.stations import Station, Stations

CAP_NS: Final = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"
CAP_CONTENT_TYPE: Final = "application/cap+xml"
ATOM_CONTENT_TYPE: Final = "application/atom+xml"
# Info blocks in this order: the state language, Russian, then English.
INFO_LANGUAGES: Final[Mapping[Lang, str]] = {"kk": "kk-KZ", "ru": "ru-RU", "en": "en-US"}
MSG_TYPES: Final[Mapping[Event, str]] = {
    Event.FIRING: "Alert",
    Event.ESCALATED: "Update",
    Event.RESOLVED: "Cancel",
}
# CAP category by alert kind; a silent station (`system`) is an infrastructure matter.
CATEGORIES: Final[Mapping[str, str]] = {
    "air": "Env",
    "seismic": "Geo",
    "lake": "Geo",
    "system": "Infra",
}
# Earthquake alerts are estimates from a few seconds of waveform, of the worst hazard.
EXTREME_RULES: Final = frozenset({"earthquake"})
ESTIMATED_RULES: Final = frozenset({"earthquake"})
_SEVERITIES: Final[Mapping[Severity, str]] = {
    Severity.CRITICAL: "Severe",
    Severity.WARNING: "Moderate",
    Severity.INFO: "Minor",
}
# Characters XML 1.0 cannot carry at all (ElementTree would write them and break the document).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# CAP 1.2 §3.2.1: identifier, sender and references exclude spaces, commas, `<` and `&`.
_CAP_TOKEN = re.compile(r"[^\s,<&]+")
_EARTH_RADIUS_KM = 6371.0088


class CapSettings(BaseModel):
    """The `[cap]` section: who sends the messages and how areas are drawn."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # None: `kuzet@<host of the daemon's external URL>`
    sender: str | None = None
    sender_name: str = "Kuzet"
    identifier_prefix: str = "urn:kuzet:almaty:alert"
    time_zone: str = "Asia/Almaty"
    # circle drawn around a station; an area's circle also reaches this far past its stations
    station_radius_km: float = Field(default=3.0, gt=0, le=500)
    # the area name of city-wide alerts, and the circle that stands for the whole city
    city: str = "Almaty"
    city_lat: float = Field(default=43.238, ge=-90, le=90)
    city_lon: float = Field(default=76.889, ge=-180, le=180)
    city_radius_km: float = Field(default=15.0, gt=0, le=500)
    feed_title: str = "Kuzet: public alerts for Almaty (CAP 1.2)"

    @field_validator("sender", "identifier_prefix")
    @classmethod
    def _cap_token(cls, value: str | None) -> str | None:
        if value is not None and not _CAP_TOKEN.fullmatch(value):
            raise ValueError("must not contain spaces, commas, '<' or '&' (CAP 1.2)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def sender_for(self, base_url: str) -> str:
        """The CAP sender: the configured one, else `kuzet@<host of base_url>`."""
        return self.sender or f"kuzet@{urlsplit(base_url).hostname or 'localhost'}"


def load_cap_settings(section: Mapping[str, object]) -> CapSettings:
    """Validate the `[cap]` section.

    Raises:
        ConfigError: one line naming every problem.
    """
    try:
        return CapSettings.model_validate(dict(section))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "cap." + ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("; ".join(problems)) from None


def msg_type(event: Event) -> str:
    """CAP msgType of a transition.

    Raises:
        ValueError: for `repeat`, which re-sends the current message instead.
    """
    if event not in MSG_TYPES:
        raise ValueError(f"{event.value!r} is no transition of its own: re-send the current one")
    return MSG_TYPES[event]


def category(kind: str) -> str:
    """CAP category of an alert kind (`Other` for kinds the spec does not name)."""
    return CATEGORIES.get(kind, "Other")


def urgency(severity: Severity) -> str:
    """CAP urgency: act now on critical alerts, soon on the others."""
    return "Immediate" if severity is Severity.CRITICAL else "Expected"


def cap_severity(rule: str, severity: Severity) -> str:
    """CAP severity: Extreme for earthquakes, else by the alert's severity."""
    return "Extreme" if rule in EXTREME_RULES else _SEVERITIES[severity]


def certainty(rule: str) -> str:
    """CAP certainty: measured values are Observed; earthquake estimates are Likely."""
    return "Likely" if rule in ESTIMATED_RULES else "Observed"


def cap_time(value: datetime, zone: tzinfo) -> str:
    """A CAP date-time: whole seconds with a ±hh:mm offset, never `Z`.

    Raises:
        ValueError: `value` is naive (no offset can be written honestly).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: a CAP time needs an offset")
    return value.astimezone(zone).replace(microsecond=0).isoformat()


def xml_text(text: str) -> str:
    """Text without the characters XML 1.0 cannot hold (escaping is the serializer's)."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True, slots=True)
class Transition:
    """One CAP message of an alert: what happened and when (`sent`).

    `severity` is the level an escalation reached (part of its identifier); None otherwise.
    """

    event: Event
    at: datetime
    severity: Severity | None = None


def history(
    alert: Alert, escalations: Sequence[tuple[Severity, datetime]] = ()
) -> list[Transition]:
    """The CAP messages of an alert so far, oldest first; the last one is its current message.

    Args:
        alert: The alert.
        escalations: (severity reached, when recorded) of each escalation, in any order; the
            first record of a severity counts.
    """
    reached: dict[Severity, datetime] = {}
    for severity, at in sorted(escalations, key=lambda e: e[1]):
        reached.setdefault(severity, at)
    steps = sorted(reached.items(), key=lambda item: item[0].rank)
    out = [Transition(Event.FIRING, alert.started_at)]
    out += [Transition(Event.ESCALATED, at, severity) for severity, at in steps]
    if alert.state == "resolved" and alert.resolved_at is not None:
        out.append(Transition(Event.RESOLVED, alert.resolved_at))
    return out


@dataclass(frozen=True, slots=True)
class Circle:
    """A CAP circle: centre (WGS 84) and radius in km."""

    lat: float
    lon: float
    radius_km: float

    def __str__(self) -> str:
        return f"{self.lat:.4f},{self.lon:.4f} {self.radius_km:.1f}"


def area_circle(alert: Alert, stations: Stations, settings: CapSettings) -> Circle:
    """Where an alert applies: its station, else its district/valley, else the whole city."""
    station = stations.get(alert.station_id) if alert.station_id else None
    if station is not None and station.lat is not None and station.lon is not None:
        return Circle(station.lat, station.lon, settings.station_radius_km)
    city = Circle(settings.city_lat, settings.city_lon, settings.city_radius_km)
    if not alert.area or alert.area == settings.city:
        return city
    members = [s for s in stations if s.area == alert.area and s.lat is not None]
    return enclosing_circle(members, settings.station_radius_km) if members else city


def enclosing_circle(members: Sequence[Station], margin_km: float) -> Circle:
    """A circle about the stations' centroid reaching `margin_km` past the farthest one."""
    lat = np.radians([float(s.lat or 0.0) for s in members])
    lon = np.radians([float(s.lon or 0.0) for s in members])
    lat0, lon0 = float(lat.mean()), float(lon.mean())
    # haversine distance from the centroid to each station
    h = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2
    farthest = float((2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))).max())
    return Circle(float(np.degrees(lat0)), float(np.degrees(lon0)), farthest + margin_km)


@dataclass(frozen=True, slots=True)
class CapMessage:
    """A rendered CAP message and what a feed shows of it."""

    alert_id: int
    identifier: str
    msg_type: str
    sent: str
    headline: str
    description: str
    xml: bytes


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        child.text = xml_text(text)
    return child


def _pair(parent: ET.Element, tag: str, name: str, value: str) -> None:
    node = _sub(parent, tag)
    _sub(node, "valueName", name)
    _sub(node, "value", value)


class CapBuilder:
    """Renders the CAP message of an alert transition (pure: times come from the alert)."""

    def __init__(
        self,
        stations: Stations,
        settings: CapSettings,
        *,
        base_url: str,
        exercise: bool = False,
        messages: Messages | None = None,
    ) -> None:
        self._stations = stations
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._exercise = exercise
        self._messages = messages or load_messages()
        self._zone = ZoneInfo(settings.time_zone)
        self._sender = settings.sender_for(base_url)
        # the same raw template parameters as the webhook payload
        self._params = PayloadBuilder(
            stations, base_url=base_url, exercise=exercise, messages=self._messages
        ).params

    @property
    def sender(self) -> str:
        """The CAP sender of every message."""
        return self._sender

    def identifier(self, alert_id: int, transition: Transition) -> str:
        """The stable identifier of one transition's message."""
        base = f"{self._settings.identifier_prefix}:{alert_id}:{transition.event.value}"
        return f"{base}:{transition.severity.value}" if transition.severity else base

    def cap_url(self, alert_id: int) -> str:
        """Where the API serves an alert's current CAP message."""
        return f"{self._base_url}/api/v1/alerts/{alert_id}/cap"

    @property
    def feed_url(self) -> str:
        """Where the API serves the Atom feed (also the feed's id)."""
        return f"{self._base_url}/api/v1/cap/feed"

    def feed(self, messages: Sequence[CapMessage], now: datetime) -> bytes:
        """The Atom feed of these messages; `now` dates an empty feed."""
        return atom_feed(
            messages,
            feed_id=self.feed_url,
            self_url=self.feed_url,
            cap_url=self.cap_url,
            title=self._settings.feed_title,
            author=self._sender,
            updated=self._time(now),
        )

    def current(
        self, alert: Alert, escalations: Sequence[tuple[Severity, datetime]] = ()
    ) -> CapMessage:
        """The alert's current message (its latest transition), referencing the earlier ones."""
        steps = history(alert, escalations)
        return self.build(alert, steps[-1], steps[:-1])

    def build(
        self, alert: Alert, transition: Transition, earlier: Sequence[Transition] = ()
    ) -> CapMessage:
        """The CAP message of `transition`, referencing the `earlier` messages of the alert.

        Raises:
            ValueError: `transition` is a repeat, or a time is naive.
            alerts.catalogue.RenderError: the templates cannot render the alert.
        """
        kind = msg_type(transition.event)
        sent = cap_time(transition.at, self._zone)
        identifier = self.identifier(alert.id, transition)
        root = ET.Element(f"{{{CAP_NS}}}alert")
        _sub(root, "identifier", identifier)
        _sub(root, "sender", self._sender)
        _sub(root, "sent", sent)
        _sub(root, "status", "Exercise" if self._exercise else "Actual")
        _sub(root, "msgType", kind)
        _sub(root, "scope", "Public")
        if earlier:
            refs = (
                f"{self._sender},{self.identifier(alert.id, t)},{self._time(t.at)}" for t in earlier
            )
            _sub(root, "references", " ".join(refs))
        params = self._params(alert, transition.event, transition.at)
        circle = area_circle(alert, self._stations, self._settings)
        headline = description = ""
        for lang, code in INFO_LANGUAGES.items():
            text = self._messages.render(lang, alert.rule, transition.event.value, params)
            prefix = self._messages.exercise_prefix(lang) if self._exercise else ""
            info = _sub(root, "info")
            _sub(info, "language", code)
            _sub(info, "category", category(alert.kind))
            _sub(info, "event", self._messages.rule(alert.rule, lang))
            if transition.event is Event.RESOLVED:
                _sub(info, "responseType", "AllClear")
            _sub(info, "urgency", urgency(alert.severity))
            _sub(info, "severity", cap_severity(alert.rule, alert.severity))
            _sub(info, "certainty", certainty(alert.rule))
            _pair(info, "eventCode", "alertname", alert.rule)
            _sub(info, "onset", self._time(alert.started_at))
            if transition.event is Event.RESOLVED:
                _sub(info, "expires", sent)  # the warning is over from here on
            _sub(info, "senderName", self._settings.sender_name)
            _sub(info, "headline", prefix + text.summary)
            _sub(info, "description", text.description)
            _sub(info, "instruction", text.instruction)
            _sub(info, "web", f"{self._base_url}/api/v1/alerts/{alert.id}")
            for name, value in self._parameters(alert):
                _pair(info, "parameter", name, value)
            area = _sub(info, "area")
            _sub(area, "areaDesc", self._messages.area(alert.area or self._settings.city, lang))
            _sub(area, "circle", str(circle))
            if lang == "en":
                headline, description = prefix + text.summary, text.description
        ET.indent(root)
        xml = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
        return CapMessage(alert.id, identifier, kind, sent, headline, description, xml)

    def _time(self, value: datetime) -> str:
        return cap_time(value, self._zone)

    def _parameters(self, alert: Alert) -> list[tuple[str, str]]:
        digits = digits_for(alert.unit)
        out = [("alertname", alert.rule), ("severity", alert.severity.value)]
        if alert.value is not None:
            out.append(("value", format_number(alert.value, "en", digits)))
        if alert.threshold is not None:
            out.append(("threshold", format_number(alert.threshold, "en", digits)))
        if alert.unit:
            out.append(("unit", alert.unit))
        if alert.station_id:
            out.append(("station_id", alert.station_id))
        out.append(("fingerprint", alert.fingerprint))
        return out


def atom_feed(
    messages: Sequence[CapMessage],
    *,
    feed_id: str,
    self_url: str,
    cap_url: Callable[[int], str],
    title: str,
    author: str,
    updated: str,
) -> bytes:
    """An Atom feed (RFC 4287) with one entry per CAP message, linking to its XML.

    Args:
        messages: The messages, in the order shown.
        feed_id: The feed's permanent IRI.
        self_url: Where the feed is served.
        cap_url: Where the CAP XML of an alert is served.
        title: The feed title.
        author: The feed author (the CAP sender).
        updated: RFC 3339 time of the newest change (used when there is no entry).
    """
    # Unqualified names under an explicit xmlns: ElementTree's default_namespace option
    # refuses the (unqualified) attributes Atom needs.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, tag, attrs)
        if text is not None:
            node.text = xml_text(text)
        return node

    add(feed, "id", feed_id)
    add(feed, "title", title)
    add(feed, "updated", max((m.sent for m in messages), default=updated, key=_instant))
    add(feed, "link", rel="self", type=ATOM_CONTENT_TYPE, href=self_url)
    add(add(feed, "author"), "name", author)
    for message in messages:
        entry = add(feed, "entry")
        add(entry, "id", message.identifier)
        add(entry, "title", message.headline)
        add(entry, "updated", message.sent)
        add(entry, "category", term=message.msg_type)
        add(entry, "link", rel="alternate", type=CAP_CONTENT_TYPE, href=cap_url(message.alert_id))
        add(entry, "summary", message.description)
    ET.indent(feed)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _instant(text: str) -> datetime:
    # RFC 3339 texts with different offsets compare as instants, not as strings
    return datetime.fromisoformat(text)
