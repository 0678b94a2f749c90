"""ntfy channel: JSON publishing (`POST <server>/`), one outbox row per topic.

ntfy's header publishing (`POST /<topic>` with Title/Priority/Tags/Click headers) would put
Kazakh and Russian text into HTTP headers, which must be latin-1 (or RFC 2047 encoded). The
JSON form carries the same fields in a UTF-8 body, so no text ever reaches a header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from alerts.catalogue import Lang
from alerts.channels.base import DeliveryError, Notification, http_retryable
from alerts.channels.limits import RetryAfterError, parse_retry_after
from alerts.channels.text import (
    description,
    is_resolved,
    labels,
    summary,
    truncate,
    truncate_bytes,
)

# ntfy turns a message above 4096 bytes into an attachment; stay below it.
MAX_MESSAGE_BYTES = 4000
MAX_TITLE = 250
# Priority per severity (5 = max/urgent); a resolve notice is never urgent.
PRIORITY: Mapping[str, int] = {"critical": 5, "warning": 4, "info": 3}
RESOLVED_PRIORITY = 3
# Tags that ntfy shows as emojis, then plain tags for filtering.
EMOJI_TAG: Mapping[str, str] = {
    "critical": "rotating_light",
    "warning": "warning",
    "info": "information_source",
}
RESOLVED_TAG = "white_check_mark"


@dataclass(frozen=True, slots=True)
class NtfyConfig:
    """Server, optional access token, topics with their languages."""

    server: str
    topics: tuple[str, ...]
    token: str | None = None
    default_lang: Lang = "ru"
    # topic → language; topics not listed use `default_lang`
    langs: Mapping[str, Lang] = field(default_factory=dict)
    timeout_s: float = 10.0


def message(alert: Mapping[str, Any], event: str, *, topic: str, lang: Lang) -> dict[str, Any]:
    """The JSON publish body: topic, title, message, priority, tags, click."""
    alert_labels = labels(alert)
    severity = alert_labels.get("severity", "critical")
    resolved = is_resolved(alert, event)
    tags = [
        RESOLVED_TAG if resolved else EMOJI_TAG.get(severity, EMOJI_TAG["critical"]),
        *(alert_labels[k] for k in ("kind", "alertname") if alert_labels.get(k)),
    ]
    body: dict[str, Any] = {
        "topic": topic,
        "title": truncate(summary(alert, lang), MAX_TITLE),
        "message": truncate_bytes(
            description(alert, lang) or summary(alert, lang), MAX_MESSAGE_BYTES
        ),
        "priority": RESOLVED_PRIORITY if resolved else PRIORITY.get(severity, 5),
        "tags": tags,
    }
    click = str(alert.get("generatorURL", ""))
    if click.startswith(("http://", "https://")):
        body["click"] = click
    return body


class NtfyChannel:
    """Publishes each notification to its topic on the configured server."""

    def __init__(
        self,
        config: NtfyConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._session = session
        self._clock = clock

    def targets(self) -> tuple[str, ...]:
        """One outbox row per topic."""
        return self._config.topics

    async def send(self, notification: Notification) -> None:
        """POST the JSON body; 429 and 5xx are retried, other 4xx are permanent."""
        topic = notification.target
        body = message(
            notification.alert,
            notification.event.value,
            topic=topic,
            lang=self._config.langs.get(topic, self._config.default_lang),
        )
        headers = {"Content-Type": "application/json", "User-Agent": "kuzet"}
        if self._config.token:
            headers["Authorization"] = f"Bearer {self._config.token}"
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        try:
            async with self._session.post(
                self._config.server.rstrip("/") + "/",
                data=orjson.dumps(body),
                headers=headers,
                timeout=timeout,
            ) as response:
                if 200 <= response.status < 300:  # noqa: PLR2004 - HTTP success range
                    return
                text = (await response.text(errors="replace"))[:200]
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if status == 429:  # noqa: PLR2004 - Too Many Requests
            raise RetryAfterError(f"HTTP 429: {text}", retry_after=retry_after or 1.0, remote=True)
        raise DeliveryError(f"HTTP {status}: {text}", retryable=http_retryable(status))
