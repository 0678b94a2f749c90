from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.provisioning.checks import (
    check_sql,
    declared_metric_names,
    parse_migrations,
    promql_metric_names,
    shared_schema,
)

SCHEMA = {
    "stations": frozenset({"station_id", "kind", "name", "meta", "district"}),
    "air_hourly": frozenset({"bucket", "station_id", "pm25_avg", "n_pm25"}),
}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # qualified columns of aliased tables that exist pass
        ("SELECT s.name FROM kuzet.stations AS s WHERE s.kind = 'air'", []),
        # a misspelt qualified column is reported
        ("SELECT s.nmae FROM kuzet.stations AS s", ["unknown column s.nmae (kuzet.stations)"]),
        # a table that no migration creates is reported
        ("SELECT x.a FROM kuzet.air_daily AS x", ["unknown table kuzet.air_daily"]),
        # an unaliased table cannot have its columns checked: reported
        (
            "SELECT count(*) FROM kuzet.stations WHERE kind = 'air'",
            ["kuzet.stations has no alias: its columns cannot be checked"],
        ),
        # a bare column in a simple SELECT list is checked too
        ("SELECT nmae FROM kuzet.stations s", ["unknown column nmae (kuzet.stations)"]),
        # ... and passes when it exists
        ("SELECT name, kind AS k FROM kuzet.stations s ORDER BY 1", []),
        # time_bucket() does not exist in plain PostgreSQL mode
        (
            "SELECT time_bucket('1h', a.bucket) FROM kuzet.air_hourly AS a",
            ["uses time_bucket/$__timeGroup: not available in plain mode"],
        ),
        # Grafana's $__timeGroup turns into time_bucket with the TimescaleDB option on
        (
            "SELECT $__timeGroup(a.bucket, '1h') FROM kuzet.air_hourly AS a",
            ["uses time_bucket/$__timeGroup: not available in plain mode"],
        ),
        # one alias for a kuzet table and a CTE makes the column check ambiguous
        (
            "WITH c AS (SELECT s.name FROM kuzet.stations AS s) SELECT s.x FROM c AS s",
            ["alias s names kuzet.stations and c", "unknown column s.x (kuzet.stations)"],
        ),
        # text inside string literals and quoted identifiers is not taken for columns
        ("SELECT s.meta->>'x.y' AS \"PM2.5 s.bad\" FROM kuzet.stations AS s", []),
        # comments are ignored
        ("SELECT s.name -- s.bogus\nFROM kuzet.stations AS s", []),
        # columns of CTEs are not the checker's business
        ("WITH q AS (SELECT a.pm25_avg AS v FROM kuzet.air_hourly AS a) SELECT q.v FROM q", []),
    ],
)
def test_check_sql(sql: str, expected: list[str]) -> None:
    assert check_sql(sql, SCHEMA) == expected


def test_parse_migrations_reads_tables_views_and_added_columns(tmp_path: Path) -> None:
    # CREATE TABLE columns without constraints, view columns by alias, ALTER TABLE ADD COLUMN
    (tmp_path / "0001_a.sql").write_text(
        "CREATE TABLE kuzet.t (\n    id bigserial PRIMARY KEY,\n    v numeric(10, 2),"
        "  -- a comment, with a comma\n    UNIQUE (id, v)\n);\n"
        "CREATE MATERIALIZED VIEW kuzet.mv AS\nSELECT time_bucket('1h', time) AS bucket,"
        " station_id, avg(x) AS x_avg\nFROM kuzet.r GROUP BY 1, 2;\n"
        "ALTER TABLE kuzet.t ADD COLUMN IF NOT EXISTS w text;\n"
    )
    assert parse_migrations([tmp_path / "0001_a.sql"]) == {
        "t": frozenset({"id", "v", "w"}),
        "mv": frozenset({"bucket", "station_id", "x_avg"}),
    }


def test_shared_schema_has_the_spec_tables() -> None:
    # the real migrations parse into the objects of spec §5 in both modes
    schema = shared_schema()
    for table in (
        "stations",
        "air_readings",
        "air_hourly",
        "lake_readings",
        "seismic_packets",
        "seismic_picks",
        "seismic_events",
        "alerts",
        "notifications",
        "rejected_messages",
    ):
        assert table in schema
    assert {"acked_at", "acked_by", "state", "severity"} <= schema["alerts"]
    assert {"channel", "status", "event", "attempts"} <= schema["notifications"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # a plain selector
        ('up{job="kuzet"} == 0', {"up"}),
        # functions, grouping labels, ranges and Grafana variables are not metrics
        (
            (
                "histogram_quantile(0.95, sum by (le, channel) "
                '(rate(kuzet_x_bucket{instance=~"$instance"}[$__rate_interval])))'
            ),
            {"kuzet_x_bucket"},
        ),
        # both sides of a binary operation, and `unless on (...)`
        (
            "sum(rate(a_total[5m])) / sum(rate(b_total[5m])) > 0.05 unless on (job) (c == 0)",
            {"a_total", "b_total", "c"},
        ),
        # label values that look like metric names are not metrics
        ('count(x{outcome=~"failed|dead", l="kuzet_y"}) or vector(0)', {"x"}),
        # Grafana's label_values(metric, label) variable query
        ("label_values(kuzet_db_up, instance)", {"kuzet_db_up"}),
        # offset durations and numbers are skipped
        ("time() - m offset 1h > $stale_after", {"m"}),
    ],
)
def test_promql_metric_names(expr: str, expected: set[str]) -> None:
    assert promql_metric_names(expr) == expected


def test_declared_metric_names_include_the_spec_series() -> None:
    # spec §8 names as Prometheus sees them (counters _total, histograms _bucket)
    names = declared_metric_names()
    for name in (
        "kuzet_messages_received_total",
        "kuzet_messages_rejected_total",
        "kuzet_readings_stored_total",
        "kuzet_ingest_latency_seconds_bucket",
        "kuzet_db_write_seconds_bucket",
        "kuzet_write_queue_depth",
        "kuzet_alerts_firing",
        "kuzet_notifications_total",
        "kuzet_notification_latency_seconds_bucket",
        "kuzet_station_last_seen_timestamp_seconds",
        "kuzet_mqtt_connected",
        "kuzet_db_up",
    ):
        assert name in names
    assert "kuzet_notifications" not in names  # a counter is exposed with _total only
