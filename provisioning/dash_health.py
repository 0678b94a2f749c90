"""Dashboard 5, daemon health (Prometheus): ingest, rejects, queues, database, notifications."""

from __future__ import annotations

from provisioning.grafana_model import (
    Json,
    Panel,
    Row,
    Step,
    custom_variable,
    dashboard,
    promql,
    query_variable,
    sql_annotation,
)
from provisioning.panels import override, stat, table, timeseries, value_text
from provisioning.sql import alerts_annotation_sql

UID = "kuzet-health"
# The scrape job of provisioning/prometheus/prometheus.yml; the alerting rules use it too.
JOB = "kuzet"
SEL = 'instance=~"$instance"'
RATE = "[$__rate_interval]"
# Seconds since a station's newest message (never-seen stations count from the epoch).
SILENCE = f"(time() - max by (station_id) (kuzet_station_last_seen_timestamp_seconds{{{SEL}}}))"

_UP_DOWN = value_text({"0": ("down", "red"), "1": ("up", "green")})
_BINARY = [Step(None, "red"), Step(1, "green")]


def _quantiles(metric: str, by: str = "") -> tuple[str, ...]:
    group = f"{by}, le" if by else "le"
    return tuple(
        f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{SEL}}}{RATE})))"
        for q in ("0.5", "0.95", "0.99")
    )


def _latency_panel(title: str, metric: str, *, by: str, description: str) -> Panel:
    p50, p95, p99 = _quantiles(metric, by)
    label = f"{{{{{by}}}}} " if by else ""
    return timeseries(
        title,
        promql(p50, legend=f"{label}p50", ref="A"),
        promql(p95, legend=f"{label}p95", ref="B"),
        promql(p99, legend=f"{label}p99", ref="C"),
        unit="s",
        description=description,
    )


def build() -> Json:
    """The daemon-health dashboard."""
    items: list[Panel | Row] = [
        Row("Status"),
        stat(
            "Scrape up",
            promql(f'up{{job="{JOB}", {SEL}}}', legend="{{instance}}"),
            steps=_BINARY,
            mappings=[_UP_DOWN],
            width=4,
        ),
        stat(
            "MQTT connected",
            promql(f"kuzet_mqtt_connected{{{SEL}}}", legend="{{instance}}"),
            steps=_BINARY,
            mappings=[_UP_DOWN],
            width=4,
        ),
        stat(
            "Database up",
            promql(f"kuzet_db_up{{{SEL}}}", legend="{{instance}}"),
            steps=_BINARY,
            mappings=[_UP_DOWN],
            width=4,
        ),
        stat(
            "Messages per second",
            promql(f"sum(rate(kuzet_messages_received_total{{{SEL}}}{RATE}))"),
            unit="suffix: msg/s",
            decimals=1,
            graph=True,
            width=4,
        ),
        stat(
            "Alerts firing",
            promql(f"sum(max by (kind, severity) (kuzet_alerts_firing{{{SEL}}}))"),
            steps=[Step(None, "green"), Step(1, "orange")],
            width=4,
        ),
        stat(
            "Stale stations",
            promql(f"count({SILENCE} > $stale_after) or vector(0)"),
            steps=[Step(None, "green"), Step(1, "orange"), Step(10, "red")],
            width=4,
            description="Known stations silent for longer than the stale_after variable.",
        ),
        Row("Ingest"),
        timeseries(
            "Messages received per feed",
            promql(
                f"sum by (feed) (rate(kuzet_messages_received_total{{{SEL}}}{RATE}))",
                legend="{{feed}}",
            ),
            unit="suffix: msg/s",
        ),
        timeseries(
            "Readings stored per feed",
            promql(
                f"sum by (feed) (rate(kuzet_readings_stored_total{{{SEL}}}{RATE}))",
                legend="{{feed}}",
            ),
            unit="suffix: rows/s",
            description="Committed readings; redeliveries stored once are not counted.",
        ),
        timeseries(
            "Rejects by reason",
            promql(
                f"sum by (reason) (rate(kuzet_messages_rejected_total{{{SEL}}}{RATE}))",
                legend="{{reason}}",
            ),
            unit="suffix: /s",
            draw="bars",
            stack=True,
        ),
        table(
            "Rejects in range by feed and reason",
            promql(
                "sort_desc(sum by (feed, reason) "
                f"(increase(kuzet_messages_rejected_total{{{SEL}}}[$__range])) > 0)",
                instant=True,
            ),
            width=12,
            height=8,
            overrides=[
                override("Value", displayName="Rejected", decimals=0),
                override("Time", custom__hidden=True),
            ],
        ),
        _latency_panel(
            "Ingest latency (received → committed)",
            "kuzet_ingest_latency_seconds",
            by="feed",
            description="kuzet_ingest_latency_seconds quantiles per feed.",
        ),
        timeseries(
            "Write queue depth per feed",
            promql(f"max by (feed) (kuzet_write_queue_depth{{{SEL}}})", legend="{{feed}}"),
            description="Messages waiting for the database writer; a full queue makes the MQTT "
            "loop wait (ingest.queue_size, default 10000).",
        ),
        timeseries(
            "Seismic packets shed",
            promql(
                f"sum by (instance) (increase(kuzet_seismic_packets_shed_total{{{SEL}}}{RATE}))",
                legend="{{instance}}",
            ),
            draw="bars",
            description="Packets the seismic stage skipped because they waited over 3 s "
            "(stored all the same): anything above zero means early warning is degraded "
            "(RUNBOOK.md#kuzetseismicshedding).",
        ),
        Row("Database"),
        _latency_panel(
            "Database write latency",
            "kuzet_db_write_seconds",
            by="",
            description="kuzet_db_write_seconds: one batch transaction.",
        ),
        timeseries(
            "Database writes and errors",
            promql(f"sum(rate(kuzet_db_write_seconds_count{{{SEL}}}{RATE}))", legend="batches"),
            promql(
                f"sum by (retryable) (rate(kuzet_db_write_errors_total{{{SEL}}}{RATE}))",
                legend="errors, retryable={{retryable}}",
                ref="B",
            ),
            unit="ops",
        ),
        Row("Notifications"),
        timeseries(
            "Delivery outcomes by channel",
            promql(
                f"sum by (channel, outcome) (rate(kuzet_notifications_total{{{SEL}}}{RATE}))",
                legend="{{channel}} {{outcome}}",
            ),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Failed delivery attempts by channel",
            promql(
                "sum by (channel, outcome) (increase(kuzet_notifications_total"
                f'{{outcome=~"retry|failed|dead", {SEL}}}{RATE}))',
                legend="{{channel}} {{outcome}}",
            ),
            draw="bars",
            stack=True,
            description="retry: an attempt failed and will be retried; failed: a permanent "
            "error (the notification is dead); dead: retries gave up (alerts.dead_after).",
        ),
        _latency_panel(
            "Notification latency (reading received → delivered)",
            "kuzet_notification_latency_seconds",
            by="channel",
            description="kuzet_notification_latency_seconds quantiles per channel.",
        ),
        Row("Stations"),
        timeseries(
            "Stations reporting",
            promql(f"count({SILENCE} <= $stale_after)", legend="reporting"),
            promql(f"count({SILENCE} > $stale_after)", legend="stale", ref="B"),
            stack=True,
        ),
        table(
            "Stale stations",
            promql(f"sort_desc({SILENCE} > $stale_after)", instant=True),
            width=12,
            height=8,
            overrides=[
                override("Value", displayName="Silent for", unit="s"),
                override("Time", custom__hidden=True),
            ],
        ),
    ]
    return dashboard(
        uid=UID,
        title="Kuzet · Daemon health",
        description="The Kuzet daemon's own metrics (Prometheus).",
        items=items,
        variables=[
            query_variable(
                "instance",
                "Instance",
                promql("label_values(kuzet_db_up, instance)"),
                all_value=".*",
            ),
            custom_variable(
                "stale_after",
                "Stale after (s)",
                ("180", "300", "600", "1800", "3600"),
                default="600",
            ),
        ],
        annotations=[
            sql_annotation(
                "System alerts", alerts_annotation_sql("a.kind = 'system'"), color="orange"
            )
        ],
        time_from="now-6h",
        refresh="30s",
    )
