"""The notification payload: one Alertmanager `alerts[]` element, summaries in kk/ru/en."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.catalogue import LANGS
from alerts.messages import Messages, format_number, load_messages
from alerts.model import Alert, Event
from collector.stations import Stations

# Alertmanager's "not resolved" end time.
ZERO_TIME = "0001-01-01T00:00:00Z"
# Suffix of the annotation keys per language (English is the unsuffixed default).
_SUFFIX = {"en": "", "ru": "_ru", "kk": "_kk"}
# Digits shown per unit: an AQI is an integer, levels in metres need centimetres.
_DIGITS = {"AQI": 0, "m": 2, "m/h": 2, "stations": 0}


def rfc3339(value: datetime) -> str:
    """UTC timestamp with a `Z` (the Alertmanager format)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def digits_for(unit: str) -> int:
    """Decimal places used to show a value of `unit`."""
    return _DIGITS.get(unit, 1)


class PayloadBuilder:
    """Renders an alert transition once, at the transition; the outbox stores the result."""

    def __init__(
        self,
        stations: Stations,
        *,
        base_url: str,
        exercise: bool = False,
        messages: Messages | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._stations = stations
        self._base_url = base_url.rstrip("/")
        self._exercise = exercise
        self._messages = messages or load_messages()
        self._clock = clock

    def params(self, alert: Alert, event: Event, now: datetime) -> dict[str, Any]:
        """Raw template parameters; the renderer formats and translates them per language."""
        station = self._stations.get(alert.station_id) if alert.station_id else None
        params: dict[str, Any] = {
            "station_id": alert.station_id,
            "area": alert.area,
            "value": alert.value,
            "threshold": alert.threshold,
            "unit": alert.unit,
            "severity": alert.severity.value,
        }
        if station is not None:
            params["station"] = {
                "en": station.name or station.id,
                "ru": station.name_ru or station.name or station.id,
                "kk": station.name_kk or station.name or station.id,
            }
            if station.downstream:
                params["downstream"] = station.downstream
        else:
            params["station"] = alert.area
        if event in (Event.REPEAT, Event.RESOLVED):
            end = alert.resolved_at if event is Event.RESOLVED and alert.resolved_at else now
            params["duration"] = max(end - alert.started_at, timedelta(0))
        for key, value in alert.details.items():
            params.setdefault(key, value)
        return params

    def __call__(self, alert: Alert, event: Event) -> Mapping[str, Any]:
        """The outbox payload: `{"key": ..., "alert": <Alertmanager alert element>}`."""
        labels = {
            "alertname": alert.rule,
            "severity": alert.severity.value,
            "kind": alert.kind,
            "area": alert.area,
        }
        if alert.station_id:
            labels["station_id"] = alert.station_id
        annotations: dict[str, str] = {}
        params = self.params(alert, event, self._clock())
        for lang in LANGS:
            text = self._messages.render(lang, alert.rule, event.value, params)
            prefix = self._messages.exercise_prefix(lang) if self._exercise else ""
            annotations[f"summary{_SUFFIX[lang]}"] = prefix + text.summary
            annotations[f"description{_SUFFIX[lang]}"] = text.description
        digits = digits_for(alert.unit)
        annotations.update(
            {
                "value": format_number(alert.value, "en", digits)
                if alert.value is not None
                else "",
                "threshold": (
                    format_number(alert.threshold, "en", digits)
                    if alert.threshold is not None
                    else ""
                ),
                "unit": alert.unit,
                "event": event.value,
            }
        )
        resolved = event is Event.RESOLVED
        element = {
            "status": "resolved" if resolved else "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(alert.started_at),
            "endsAt": rfc3339(alert.resolved_at) if resolved and alert.resolved_at else ZERO_TIME,
            "generatorURL": f"{self._base_url}/api/v1/alerts/{alert.id}",
            "fingerprint": alert.fingerprint,
        }
        return {"key": alert.key, "alert": element}
