"""Dashboard 4, alerts: firing and recent alerts, acknowledgements, notification delivery."""

from __future__ import annotations

from collector.metrics import OUTCOMES
from provisioning.grafana_model import (
    Json,
    Panel,
    Row,
    Step,
    custom_variable,
    dashboard,
    promql,
    query_variable,
    sql,
    sql_annotation,
)
from provisioning.panels import barchart, cell_colors, override, stat, table, timeseries
from provisioning.sql import alerts_annotation_sql, time_bin

UID = "kuzet-alerts"

KINDS = ("air", "seismic", "lake", "system")
SEVERITIES = ("info", "warning", "critical")
STATUSES = ("sent", "pending", "failed", "dead", "silenced")
FILTER = "a.kind IN ($kind) AND a.severity IN ($severity)"
INSTANCE = 'instance=~"$instance"'


def _severity_cells(field_name: str) -> Json:
    return override(
        field_name,
        mappings=[
            {
                "type": "value",
                "options": {
                    "critical": {"color": "red", "index": 0},
                    "warning": {"color": "orange", "index": 1},
                    "info": {"color": "blue", "index": 2},
                },
            }
        ],
        custom__cellOptions={"type": "color-text"},
    )


_FIRING = f"""
SELECT a.id AS "ID", a.severity AS "Severity", a.rule AS "Rule", a.kind AS "Kind",
       a.area AS "Area", a.station_id AS "Station", a.value AS "Value",
       a.threshold AS "Threshold", a.unit AS "Unit", a.started_at AS "Started",
       extract(epoch FROM now() - a.created_at) AS "Firing for",
       a.acked_at AS "Acknowledged", a.acked_by AS "By"
FROM kuzet.alerts AS a
WHERE a.state = 'firing' AND {FILTER}
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
         a.started_at DESC"""

_RECENT = f"""
SELECT a.id AS "ID", a.severity AS "Severity", a.rule AS "Rule", a.area AS "Area",
       a.station_id AS "Station", a.state AS "State", a.started_at AS "Started",
       a.resolved_at AS "Resolved", extract(epoch FROM a.resolved_at - a.started_at) AS "Lasted",
       a.value AS "Value", a.unit AS "Unit"
FROM kuzet.alerts AS a
WHERE $__timeFilter(a.started_at) AND {FILTER}
ORDER BY a.started_at DESC
LIMIT 500"""

_STARTED_PER_KIND = f"""
SELECT {time_bin("a.started_at")} AS time, a.kind AS metric, count(*) AS value
FROM kuzet.alerts AS a
WHERE $__timeFilter(a.started_at) AND {FILTER}
GROUP BY 1, 2
ORDER BY 1"""

_ACKS = f"""
SELECT a.acked_at AS "Acknowledged", a.acked_by AS "By", a.id AS "ID", a.rule AS "Rule",
       a.severity AS "Severity", a.station_id AS "Station", a.state AS "State",
       extract(epoch FROM a.acked_at - a.created_at) AS "Time to acknowledge"
FROM kuzet.alerts AS a
WHERE $__timeFilter(a.acked_at) AND {FILTER}
ORDER BY a.acked_at DESC
LIMIT 500"""

_MEDIAN_ACK = f"""
SELECT percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM a.acked_at - a.created_at)) AS "Median"
FROM kuzet.alerts AS a
WHERE $__timeFilter(a.acked_at) AND {FILTER}"""

_UNACKED = f"""
SELECT count(*) AS "Unacknowledged"
FROM kuzet.alerts AS a
WHERE a.state = 'firing' AND a.acked_at IS NULL AND {FILTER}"""


def _firing_count(severity: str) -> str:
    return f"""
SELECT count(*) AS "{severity}"
FROM kuzet.alerts AS a
WHERE a.state = 'firing' AND a.severity = '{severity}' AND a.kind IN ($kind)"""


_BY_CHANNEL = ",\n       ".join(
    f"""count(*) FILTER (WHERE n.status = '{status}') AS "{status}\"""" for status in STATUSES
)
_DELIVERY = f"""
SELECT n.channel AS "Channel",
       {_BY_CHANNEL}
FROM kuzet.notifications AS n
JOIN kuzet.alerts AS a ON a.id = n.alert_id
WHERE $__timeFilter(n.created_at) AND {FILTER}
GROUP BY n.channel
ORDER BY n.channel"""

_BACKLOG = """
SELECT count(*) AS "Waiting",
       extract(epoch FROM now() - min(n.created_at)) AS "Oldest"
FROM kuzet.notifications AS n
WHERE n.status IN ('pending', 'failed')"""

_UNDELIVERED = f"""
SELECT n.created_at AS "Created", n.channel AS "Channel", n.target AS "Target",
       n.event AS "Event", n.status AS "Status", n.attempts AS "Attempts",
       a.rule AS "Rule", a.station_id AS "Station", n.last_error AS "Last error"
FROM kuzet.notifications AS n
JOIN kuzet.alerts AS a ON a.id = n.alert_id
WHERE $__timeFilter(n.created_at) AND n.status IN ('failed', 'dead') AND {FILTER}
ORDER BY n.created_at DESC
LIMIT 200"""

_STATUS_COLORS = {
    "sent": "green",
    "pending": "blue",
    "failed": "orange",
    "dead": "red",
    "silenced": "text",
}


def build() -> Json:
    """The alerts dashboard."""
    severity_steps = {"critical": "red", "warning": "orange", "info": "blue"}
    items: list[Panel | Row] = [
        Row("Firing now"),
        *(
            stat(
                f"Firing {severity}",
                sql(_firing_count(severity), table=True),
                steps=[Step(None, "green"), Step(1, color)],
                width=4,
            )
            for severity, color in severity_steps.items()
        ),
        stat(
            "Firing, not acknowledged",
            sql(_UNACKED, table=True),
            steps=[Step(None, "green"), Step(1, "red")],
            width=4,
        ),
        stat(
            "Outbox: waiting notifications",
            sql(_BACKLOG, table=True),
            steps=[Step(None, "green"), Step(1, "orange")],
            width=8,
            description="Notifications pending or failed (to be retried), and the age of the "
            "oldest of them.",
            overrides=[override("Oldest", unit="s", color={"mode": "fixed", "fixedColor": "text"})],
        ),
        table(
            "Firing alerts",
            sql(_FIRING, table=True),
            height=9,
            overrides=[
                _severity_cells("Severity"),
                override("Firing for", unit="s"),
                cell_colors("Acknowledged", [Step(None, "transparent")]),
            ],
        ),
        Row("History"),
        timeseries(
            "Alerts started per interval by kind",
            sql(_STARTED_PER_KIND),
            draw="bars",
            stack=True,
            legend_calcs=("sum",),
        ),
        table(
            "Alerts started in range",
            sql(_RECENT, table=True),
            width=12,
            height=8,
            overrides=[_severity_cells("Severity"), override("Lasted", unit="s")],
        ),
        Row("Acknowledgements"),
        stat(
            "Median time to acknowledge",
            sql(_MEDIAN_ACK, table=True),
            unit="s",
            steps=[Step(None, "green"), Step(900, "orange"), Step(3600, "red")],
            width=6,
            height=8,
        ),
        table(
            "Acknowledged in range",
            sql(_ACKS, table=True),
            width=18,
            height=8,
            overrides=[_severity_cells("Severity"), override("Time to acknowledge", unit="s")],
        ),
        Row("Notification delivery"),
        barchart(
            "Notifications by channel and status (outbox)",
            sql(_DELIVERY, table=True),
            x_field="Channel",
            overrides=[
                override(status, color={"mode": "fixed", "fixedColor": color})
                for status, color in _STATUS_COLORS.items()
            ],
            description="kuzet.notifications rows created in range, by their current status.",
        ),
        timeseries(
            "Delivery attempts by channel and outcome (Prometheus)",
            promql(
                "sum by (channel, outcome) "
                f"(rate(kuzet_notifications_total{{{INSTANCE}}}[$__rate_interval]))",
                legend="{{channel}} {{outcome}}",
            ),
            unit="ops",
            stack=True,
            description=f"kuzet_notifications_total; outcomes {', '.join(OUTCOMES)}: retry is "
            "a failed attempt that will be retried, failed a permanent error, dead a give-up.",
        ),
        timeseries(
            "Notification latency p95 by channel (reading received → delivered)",
            promql(
                "histogram_quantile(0.95, sum by (channel, le) "
                f"(rate(kuzet_notification_latency_seconds_bucket{{{INSTANCE}}}"
                "[$__rate_interval])))",
                legend="{{channel}}",
            ),
            unit="s",
        ),
        table(
            "Failed and dead notifications",
            sql(_UNDELIVERED, table=True),
            width=12,
            height=8,
            overrides=[
                cell_colors("Status", [Step(None, "transparent")]),
                override(
                    "Status",
                    mappings=[
                        {
                            "type": "value",
                            "options": {
                                "failed": {"color": "orange", "index": 0},
                                "dead": {"color": "red", "index": 1},
                            },
                        }
                    ],
                ),
            ],
        ),
    ]
    return dashboard(
        uid=UID,
        title="Kuzet · Alerts",
        description="Alerts from kuzet.alerts, acknowledgements, and the notification outbox.",
        items=items,
        variables=[
            custom_variable("kind", "Kind", KINDS),
            custom_variable("severity", "Severity", SEVERITIES),
            query_variable(
                "instance",
                "Instance",
                promql("label_values(kuzet_db_up, instance)"),
                all_value=".*",
            ),
        ],
        annotations=[sql_annotation("Alerts", alerts_annotation_sql("a.kind IN ($kind)"))],
        time_from="now-7d",
    )
