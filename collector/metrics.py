"""Every Prometheus metric of the daemon (spec §8), declared once on an injected registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.models import Feed, RejectReason

FEEDS = tuple(f.value for f in Feed)
# Messages on a topic that names no feed are counted under this feed label.
OTHER_FEED = "other"
OUTCOMES = ("sent", "retry", "failed", "dead", "silenced")

# Ingest latency spans decode, queueing and the commit: milliseconds to tens of seconds.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Notification latency spans evaluation, the outbox and a remote HTTP call.
_NOTIFY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _QueueDepthCollector(Collector):
    """Reads queue sizes at scrape time instead of updating a gauge on every put/get."""

    def __init__(self) -> None:
        self._sources: dict[str, Callable[[], int]] = {}

    def watch(self, feed: str, size: Callable[[], int]) -> None:
        self._sources[feed] = size

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "kuzet_write_queue_depth",
            "Messages waiting for the database writer, per feed.",
            labels=["feed"],
        )
        for feed in FEEDS:
            source = self._sources.get(feed)
            family.add_metric([feed], float(source() if source else 0))
        yield family


class Metrics:
    """The daemon's metrics; every known label combination starts at zero."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages_received = Counter(
            "kuzet_messages_received",
            "MQTT messages received, per feed.",
            ["feed"],
            registry=r,
        )
        self.messages_rejected = Counter(
            "kuzet_messages_rejected",
            "Rejected messages or batch items, per feed and reason.",
            ["feed", "reason"],
            registry=r,
        )
        self.readings_stored = Counter(
            "kuzet_readings_stored",
            "Readings committed to the database (duplicates not counted), per feed.",
            ["feed"],
            registry=r,
        )
        self.ingest_latency = Histogram(
            "kuzet_ingest_latency_seconds",
            "Time from receiving a message to committing its readings, per feed.",
            ["feed"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.db_write_seconds = Histogram(
            "kuzet_db_write_seconds",
            "Duration of one batch write transaction.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.db_write_errors = Counter(
            "kuzet_db_write_errors",
            "Failed batch writes, by whether they will be retried.",
            ["retryable"],
            registry=r,
        )
        self.alerts_firing = Gauge(
            "kuzet_alerts_firing",
            "Alerts currently firing, per kind and severity.",
            ["kind", "severity"],
            registry=r,
        )
        self.notifications = Counter(
            "kuzet_notifications",
            "Notification delivery attempts, per channel and outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self.notification_latency = Histogram(
            "kuzet_notification_latency_seconds",
            "Time from receiving the triggering reading to delivery, per channel.",
            ["channel"],
            buckets=_NOTIFY_BUCKETS,
            registry=r,
        )
        self.station_last_seen = Gauge(
            "kuzet_station_last_seen_timestamp_seconds",
            "Receive time of the newest message from each known station.",
            ["station_id"],
            registry=r,
        )
        self.seismic_picks = Counter(
            "kuzet_seismic_picks",
            "STA/LTA picks, per seismic station.",
            ["station_id"],
            registry=r,
        )
        self.seismic_events = Counter(
            "kuzet_seismic_events",
            "Associated seismic events declared.",
            registry=r,
        )
        self.seismic_alert_latency = Histogram(
            "kuzet_seismic_alert_latency_seconds",
            "From receiving the packet that declared or updated an event to its alert being"
            " recorded and queued for delivery.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.seismic_shed = Counter(
            "kuzet_seismic_packets_shed",
            "Seismic packets not analysed because they waited longer than the stage's lag bound"
            " (stored all the same): the process is overloaded and early warning degraded.",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "kuzet_mqtt_connected", "1 while connected to the MQTT broker.", registry=r
        )
        self.db_up = Gauge("kuzet_db_up", "1 while the database answers.", registry=r)
        self.mqtt_incoming_depth = Gauge(
            "kuzet_mqtt_incoming_queue_depth",
            "Messages received from the broker and not yet taken by ingest.",
            registry=r,
        )
        self.mqtt_read_pauses = Counter(
            "kuzet_mqtt_read_pauses",
            "Times socket reads were paused because mqtt.incoming_buffer messages were queued"
            " (backpressure; the backlog stays at the broker).",
            registry=r,
        )
        # Beyond spec §8 (HARDEN): not a reject reason, the reason set is fixed by the contract.
        self.messages_throttled = Counter(
            "kuzet_messages_throttled",
            "Messages acknowledged but not stored because their station exceeded"
            " ingest.station_rate, per feed.",
            ["feed"],
            registry=r,
        )
        # Beyond spec §8 (SCALE, docs/scaling.md).
        self.shard_skipped = Counter(
            "kuzet_shard_skipped_messages",
            "Feed messages acknowledged unread because another shard owns their station.",
            registry=r,
        )
        self.shard_leader = Gauge(
            "kuzet_shard_leader",
            "1 while this replica holds the lead (seismic association, city-wide rules).",
            registry=r,
        )
        self.shard_exchanged = Counter(
            "kuzet_shard_exchange_messages",
            "Messages to and from the other shards (picks, data extents, air flags).",
            ["direction"],
            registry=r,
        )
        self.shard_adopted = Gauge(
            "kuzet_shard_adopted",
            "Other shards' indices this replica runs after their lease expired (takeover).",
            registry=r,
        )
        self.shard_takeovers = Counter(
            "kuzet_shard_takeovers",
            "Takeovers of a dead shard's index (adopted) and returns to its owner (handed_back).",
            ["event"],
            registry=r,
        )
        self._queues = _QueueDepthCollector()
        r.register(self._queues)
        for feed in (*FEEDS, OTHER_FEED):
            self.messages_received.labels(feed)
            for reason in RejectReason:
                self.messages_rejected.labels(feed, reason.value)
        for feed in FEEDS:
            self.messages_throttled.labels(feed)
            self.readings_stored.labels(feed)
            self.ingest_latency.labels(feed)
        for direction in ("sent", "received"):
            self.shard_exchanged.labels(direction)
        for event in ("adopted", "handed_back"):
            self.shard_takeovers.labels(event)
        for retryable in ("true", "false"):
            self.db_write_errors.labels(retryable)

    def watch_queue(self, feed: str, size: Callable[[], int]) -> None:
        """Report `size()` as the write queue depth of `feed` at scrape time."""
        self._queues.watch(feed, size)

    def known_stations(self, station_ids: Iterable[str]) -> None:
        """Pre-create the per-station series (only stations from the file: bounded)."""
        for station_id in station_ids:
            self.station_last_seen.labels(station_id)

    def known_seismic_stations(self, station_ids: Iterable[str]) -> None:
        """Pre-create the per-station pick counters."""
        for station_id in station_ids:
            self.seismic_picks.labels(station_id)

    def known_channels(self, channels: Iterable[str]) -> None:
        """Pre-create notification series for the configured channels."""
        for channel in channels:
            self.notification_latency.labels(channel)
            for outcome in OUTCOMES:
                self.notifications.labels(channel, outcome)

    def known_alert_labels(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Pre-create `kuzet_alerts_firing` for each (kind, severity) a rule can produce."""
        for kind, severity in pairs:
            self.alerts_firing.labels(kind, severity)
