"""MQTT channel: every transition to `<prefix>/alerts/<kind>/<rule>`, QoS 1, not retained."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

import orjson

from alerts.channels.base import DeliveryError, Notification


class Publisher(Protocol):
    """The daemon's MQTT connection (collector.mqtt.MqttSource)."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> Awaitable[None]:
        """Publish one message."""


class MqttChannel:
    """Publishes the alert element for sirens, displays and other daemons."""

    def __init__(self, publisher: Publisher, topic_prefix: str) -> None:
        self._publisher = publisher
        self._prefix = topic_prefix

    def targets(self) -> tuple[str, ...]:
        """A single target: the broker."""
        return ("",)

    def topic(self, notification: Notification) -> str:
        """`<prefix>/alerts/<kind>/<rule>`."""
        labels = notification.alert.get("labels", {})
        return f"{self._prefix}/alerts/{labels.get('kind', 'system')}/{labels.get('alertname', '')}"

    async def send(self, notification: Notification) -> None:
        """Publish at QoS 1; not connected is retried (the outbox keeps it)."""
        try:
            await self._publisher.publish(
                self.topic(notification), orjson.dumps(dict(notification.alert)), qos=1
            )
        except Exception as exc:
            raise DeliveryError(f"MQTT publish failed: {exc}", retryable=True) from exc
