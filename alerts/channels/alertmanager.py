"""Alertmanager channel: API v2 `POST /api/v2/alerts` (postable alerts), one row per instance.

Alertmanager forgets a firing alert at its `endsAt` (or after its `resolve_timeout` when none
is given), expecting the sender to re-post it, as Prometheus does every evaluation. Kuzet
posts at transitions and on `repeat` (every `[alerts] repeat_interval`, 4 h by default), so a
firing alert is posted with `endsAt = now + firing_ttl`, which must exceed the repeat interval
plus the outbox's retry time. If Kuzet stops, the alert then expires by itself, as in
Alertmanager's own model. A resolve notice posts the alert with its resolve time as `endsAt`.

An escalation changes the `severity` label, and with it the identity of the alert in
Alertmanager; the escalation post therefore also ends the lower-severity copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from alerts.channels.base import DeliveryError, Notification, http_retryable
from alerts.channels.limits import RetryAfterError, parse_retry_after
from alerts.channels.text import is_resolved, labels
from alerts.model import Event, Severity
from alerts.payload import ZERO_TIME, rfc3339

PATH = "/api/v2/alerts"


@dataclass(frozen=True, slots=True)
class AlertmanagerConfig:
    """Alertmanager base URLs (every instance of a cluster), auth and timing."""

    urls: tuple[str, ...]
    token: str | None = None
    firing_ttl: timedelta = timedelta(hours=5)
    timeout_s: float = 10.0


def _strings(mapping: Mapping[str, Any]) -> dict[str, str]:
    # The API's label and annotation sets are string → string maps.
    return {str(k): str(v) for k, v in mapping.items()}


def postable_alerts(
    alert: Mapping[str, Any], event: str, *, now: datetime, firing_ttl: timedelta
) -> list[dict[str, Any]]:
    """The request body: this alert, plus ended lower-severity copies on an escalation."""
    alert_labels = dict(labels(alert))
    base = {
        "annotations": _strings(alert.get("annotations", {})),
        "startsAt": str(alert.get("startsAt", rfc3339(now))),
        "generatorURL": str(alert.get("generatorURL", "")),
    }
    if is_resolved(alert, event):
        ends = str(alert.get("endsAt") or ZERO_TIME)
        ends_at = rfc3339(now) if ends == ZERO_TIME else ends
    else:
        ends_at = rfc3339(now + firing_ttl)
    body = [{"labels": alert_labels, **base, "endsAt": ends_at}]
    if event == Event.ESCALATED.value:
        try:
            current = Severity(alert_labels.get("severity", ""))
        except ValueError:
            current = None
        if current is not None:
            body.extend(
                {
                    "labels": {**alert_labels, "severity": lower.value},
                    **base,
                    "endsAt": rfc3339(now),
                }
                for lower in Severity
                if lower.rank < current.rank
            )
    return body


class AlertmanagerChannel:
    """POSTs each notification to `<url>/api/v2/alerts` of its target instance."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._session = session
        self._clock = clock

    def targets(self) -> tuple[str, ...]:
        """One outbox row per Alertmanager: HA peers each need the alert."""
        return self._config.urls

    async def send(self, notification: Notification) -> None:
        """POST the postable alerts; 2xx is success, 408/429/5xx and network errors retry."""
        now = self._clock()
        body = postable_alerts(
            notification.alert,
            notification.event.value,
            now=now,
            firing_ttl=self._config.firing_ttl,
        )
        headers = {"Content-Type": "application/json", "User-Agent": "kuzet"}
        if self._config.token:
            headers["Authorization"] = f"Bearer {self._config.token}"
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        try:
            async with self._session.post(
                notification.target.rstrip("/") + PATH,
                data=orjson.dumps(body),
                headers=headers,
                timeout=timeout,
            ) as response:
                if 200 <= response.status < 300:  # noqa: PLR2004 - HTTP success range
                    return
                text = (await response.text(errors="replace"))[:200]
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if retry_after is not None and http_retryable(status):
            raise RetryAfterError(f"HTTP {status}: {text}", retry_after=retry_after, remote=True)
        raise DeliveryError(f"HTTP {status}: {text}", retryable=http_retryable(status))
