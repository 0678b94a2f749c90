"""Webhook channel: Prometheus Alertmanager webhook format, version 4, one alert per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from alerts.channels.base import DeliveryError, Notification, http_retryable

RECEIVER = "webhook"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Receivers and request settings."""

    urls: tuple[str, ...]
    external_url: str
    timeout_s: float = 10.0


def envelope(alert: Mapping[str, Any], *, external_url: str, group_key: str) -> dict[str, Any]:
    """Wrap one alert element into the Alertmanager v4 webhook body."""
    labels = dict(alert.get("labels", {}))
    return {
        "version": "4",
        "status": alert.get("status", "firing"),
        "receiver": RECEIVER,
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": labels.get("alertname", "")},
        "commonLabels": labels,
        "commonAnnotations": dict(alert.get("annotations", {})),
        "externalURL": external_url,
        "alerts": [dict(alert)],
    }


class WebhookChannel:
    """POSTs each notification to its target URL with an `Idempotency-Key` header."""

    def __init__(self, config: WebhookConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session

    def targets(self) -> tuple[str, ...]:
        """One outbox row per URL, so one failing receiver does not hold back the others."""
        return self._config.urls

    async def send(self, notification: Notification) -> None:
        """POST the v4 body; 2xx is success, 408/429/5xx and network errors are retried."""
        body = envelope(
            notification.alert,
            external_url=self._config.external_url,
            group_key=notification.key,
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(notification.id),
            "User-Agent": "kuzet",
        }
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        try:
            async with self._session.post(
                notification.target, data=orjson.dumps(body), headers=headers, timeout=timeout
            ) as response:
                if 200 <= response.status < 300:  # noqa: PLR2004 - HTTP success range
                    return
                text = (await response.text())[:200]
                raise DeliveryError(
                    f"HTTP {response.status}: {text}", retryable=http_retryable(response.status)
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
