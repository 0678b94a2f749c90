"""What every notification channel implements, and how it reports failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from alerts.model import Event


@dataclass(frozen=True, slots=True)
class Notification:
    """One delivery: an alert transition for one channel target."""

    id: int
    alert_id: int
    channel: str
    target: str
    event: Event
    # the alert key (the webhook's groupKey)
    key: str
    # one element of the Alertmanager webhook `alerts[]` array, as rendered at transition
    alert: Mapping[str, Any]
    attempts: int


class DeliveryError(Exception):
    """Delivery failed; `retryable` says whether the same request may succeed later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    """A notification channel: one method, raising DeliveryError on failure."""

    async def send(self, notification: Notification) -> None:
        """Deliver one notification."""


def http_retryable(status: int) -> bool:
    """HTTP statuses worth retrying: timeouts, rate limits and server errors."""
    return status in (408, 425, 429) or status >= 500  # noqa: PLR2004 - HTTP status codes
