"""Channel metrics beyond the dispatcher's per-channel outcomes (spec §8 naming, bounded labels)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

THROTTLED_BY = ("local", "remote")
PUSH_OUTCOMES = ("sent", "retry", "failed", "gone")


class ChannelMetrics:
    """Declared once per registry (the daemon's, from collector.metrics.Metrics.registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.throttled = Counter(
            "kuzet_channel_throttled",
            "Notifications deferred by a rate limit, per channel and by whose limit"
            " (local: the channel's rate_limit; remote: the provider's 429/Retry-After).",
            ["channel", "by"],
            registry=r,
        )
        self.push_deliveries = Counter(
            "kuzet_push_deliveries",
            "Web Push messages to single subscriptions, per outcome"
            " (gone: the push service answered 404/410 and the subscription was deleted).",
            ["outcome"],
            registry=r,
        )
        self.push_subscriptions = Gauge(
            "kuzet_push_subscriptions",
            "Stored Web Push subscriptions at the last fan-out.",
            registry=r,
        )
        for outcome in PUSH_OUTCOMES:
            self.push_deliveries.labels(outcome)

    def known_channels(self, channels: Iterable[str]) -> None:
        """Pre-create the throttling series of the configured channels."""
        for channel in channels:
            for by in THROTTLED_BY:
                self.throttled.labels(channel, by)
