"""Sample alert elements and notifications for the channel tests."""

from __future__ import annotations

from typing import Any

from alerts.channels.base import Notification
from alerts.model import Event

SUMMARY = {
    "en": "PM2.5 24 h mean 41.2 µg/m³ at Almaly",
    "ru": "Среднесуточная PM2,5 — 41,2 мкг/м³, Алмалинский район",
    "kk": "PM2,5 орташа тәуліктік мәні — 41,2 мкг/м³, Алмалы ауданы",
}
DESCRIPTION = {
    "en": "Limit 35 µg/m³ exceeded.",
    "ru": "Превышен норматив 35 мкг/м³.",
    "kk": "35 мкг/м³ нормасынан асты.",
}


def element(
    *,
    severity: str = "warning",
    status: str = "firing",
    summary: dict[str, str] | None = None,
    description: dict[str, str] | None = None,
    ends_at: str = "0001-01-01T00:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    summary = summary or SUMMARY
    description = description or DESCRIPTION
    return {
        "status": status,
        "labels": {
            "alertname": "pm25_24h",
            "severity": severity,
            "kind": "air",
            "station_id": "AIR-07",
            "area": "Almaly",
            **labels,
        },
        "annotations": {
            "summary": summary["en"],
            "summary_ru": summary["ru"],
            "summary_kk": summary["kk"],
            "description": description["en"],
            "description_ru": description["ru"],
            "description_kk": description["kk"],
            "value": "41.2",
            "threshold": "35",
            "unit": "µg/m³",
            "event": status,
        },
        "startsAt": "2026-01-10T08:00:00Z",
        "endsAt": ends_at,
        "generatorURL": "http://127.0.0.1:8321/api/v1/alerts/17",
        "fingerprint": "0123456789abcdef",
    }


def note(
    target: str,
    alert: dict[str, Any] | None = None,
    *,
    channel: str = "test",
    event: Event = Event.FIRING,
    notification_id: int = 42,
) -> Notification:
    return Notification(
        id=notification_id,
        alert_id=17,
        channel=channel,
        target=target,
        event=event,
        key="pm25_24h:AIR-07",
        alert=alert or element(),
        attempts=0,
    )
