"""Proves `timescale_url` serves a TimescaleDB 2.23 that Kuzet's schema and psycopg can use."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

from tests.fixtures.timescale import TIMESCALE_URL_ENV

pytestmark = [pytest.mark.integration, pytest.mark.timescale]

Conn = psycopg.Connection[TupleRow]

# The pipeline of section 5 of the interface spec: a raw hypertable with compression and
# retention policies, and an hourly continuous aggregate with a refresh policy.
PIPELINE_DDL = """
CREATE TABLE {schema}.air_readings (
    time timestamptz NOT NULL,
    station_id text NOT NULL,
    pm25 real,
    pm10 real,
    UNIQUE (station_id, time)
);
SELECT create_hypertable('{schema}.air_readings', by_range('time', INTERVAL '1 day'));
ALTER TABLE {schema}.air_readings
    SET (timescaledb.compress, timescaledb.compress_segmentby = 'station_id');
SELECT add_compression_policy('{schema}.air_readings', INTERVAL '7 days');
SELECT add_retention_policy('{schema}.air_readings', INTERVAL '90 days');
CREATE MATERIALIZED VIEW {schema}.air_hourly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, station_id,
           avg(pm25) AS pm25_avg, avg(pm10) AS pm10_avg, count(*) AS n
    FROM {schema}.air_readings GROUP BY bucket, station_id
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('{schema}.air_hourly',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 minute');
"""


def _connect(url: str) -> Conn:
    return psycopg.connect(url, autocommit=True, connect_timeout=30)


def _run_script(conn: Conn, script: str) -> None:
    # One statement per execute: the extended protocol takes a single statement at a time.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


@pytest.fixture
def conn(timescale_url: str) -> Iterator[Conn]:
    with _connect(timescale_url) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        yield connection


@pytest.fixture
def schema(conn: Conn) -> Iterator[str]:
    """A schema of the test's own: the session shares one database."""
    name = f"kuzet_{uuid.uuid4().hex[:10]}"
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def pipeline(timescale_url: str) -> Iterator[str]:
    """Schema holding PIPELINE_DDL's objects, built once; tests reconnect to look at it."""
    name = f"kuzet_{uuid.uuid4().hex[:10]}"
    with _connect(timescale_url) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        connection.execute(f"CREATE SCHEMA {name}")
        _run_script(connection, PIPELINE_DDL.format(schema=name))
    yield name
    with _connect(timescale_url) as connection:
        connection.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def pglite_only() -> None:
    if os.environ.get(TIMESCALE_URL_ENV, "").strip():
        pytest.skip(f"checks the PGlite server's own behaviour; {TIMESCALE_URL_ENV} is set")


def test_timescaledb_is_2_23(conn: Conn) -> None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    version = row.fetchone()
    assert version is not None
    assert version[0].startswith("2.23")


@pytest.mark.parametrize(
    "create",
    [
        # The 2.13+ dimension-builder form.
        "SELECT create_hypertable('{table}', by_range('time'))",
        # The legacy form, still accepted (deprecated) and used by older migrations.
        "SELECT create_hypertable('{table}', 'time', chunk_time_interval => INTERVAL '1 day')",
    ],
    ids=["by_range", "legacy"],
)
def test_create_hypertable_forms(conn: Conn, schema: str, create: str) -> None:
    conn.execute(f"CREATE TABLE {schema}.t (time timestamptz NOT NULL, v real)")
    conn.execute(create.format(table=f"{schema}.t"))
    rows = conn.execute(
        "SELECT hypertable_name, num_dimensions FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = %s",
        (schema,),
    ).fetchall()
    assert rows == [("t", 1)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The raw table is a hypertable with compression on.
        (
            (
                "SELECT hypertable_name, compression_enabled"
                " FROM timescaledb_information.hypertables WHERE hypertable_schema = %(s)s"
            ),
            [("air_readings", True)],
        ),
        # compress_segmentby took the station column.
        (
            (
                "SELECT attname, segmentby_column_index"
                " FROM timescaledb_information.compression_settings"
                " WHERE hypertable_schema = %(s)s AND segmentby_column_index IS NOT NULL"
            ),
            [("station_id", 1)],
        ),
        # Both policies and the aggregate's refresh policy are registered as jobs.
        (
            (
                "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
                " WHERE hypertable_schema = %(s)s ORDER BY proc_name"
            ),
            [
                ("policy_compression", "air_readings"),
                ("policy_refresh_continuous_aggregate", "air_hourly"),
                ("policy_retention", "air_readings"),
            ],
        ),
        # The rollup is a real-time continuous aggregate.
        (
            (
                "SELECT view_name, materialized_only"
                " FROM timescaledb_information.continuous_aggregates WHERE view_schema = %(s)s"
            ),
            [("air_hourly", False)],
        ),
    ],
    ids=["hypertables", "compression_settings", "jobs", "continuous_aggregates"],
)
def test_information_views_list_pipeline(
    timescale_url: str, pipeline: str, query: str, expected: list[tuple[Any, ...]]
) -> None:
    with _connect(timescale_url) as connection:
        assert connection.execute(query, {"s": pipeline}).fetchall() == expected


def test_realtime_aggregate_and_foreground_jobs(timescale_url: str, pipeline: str) -> None:
    with _connect(timescale_url) as c:
        c.execute(
            f"INSERT INTO {pipeline}.air_readings (time, station_id, pm25)"
            " SELECT date_bin('1 hour', now(), timestamptz '2000-01-01') - INTERVAL '2 hours'"
            "        + i * INTERVAL '1 minute', 'st' || (i % 2), i"
            " FROM generate_series(0, 59) AS i"
        )
        # A duplicate (MQTT QoS 1 redelivery) is dropped by the unique key.
        c.execute(
            f"INSERT INTO {pipeline}.air_readings (time, station_id, pm25)"
            f" SELECT time, station_id, pm25 FROM {pipeline}.air_readings ON CONFLICT DO NOTHING"
        )
        rollup = f"SELECT station_id, n FROM {pipeline}.air_hourly ORDER BY station_id"
        # materialized_only = false: the closed hour is visible before any refresh.
        assert c.execute(rollup).fetchall() == [("st0", 30), ("st1", 30)]
        found = c.execute(
            "SELECT j.job_id, format('%%I.%%I', a.materialization_hypertable_schema,"
            "       a.materialization_hypertable_name)"
            " FROM timescaledb_information.jobs j"
            " JOIN timescaledb_information.continuous_aggregates a"
            "   ON (j.hypertable_schema, j.hypertable_name) = (a.view_schema, a.view_name)"
            " WHERE a.view_schema = %s",
            (pipeline,),
        ).fetchone()
        assert found is not None
        job_id, materialization = found
        stored = f"SELECT count(*) FROM {materialization}"
        assert c.execute(stored).fetchone() == (0,)
        # PGlite has no background workers: a policy runs only when called.
        c.execute(f"CALL run_job({int(job_id)})")
        assert c.execute(stored).fetchone() == (2,)
        assert c.execute(rollup).fetchall() == [("st0", 30), ("st1", 30)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Session advisory locks (the daemon's single-writer guard) take and release.
        ("SELECT pg_try_advisory_lock(4242), pg_advisory_unlock(4242)", (True, True)),
        # Transaction-level advisory lock returns void (empty string in text format).
        ("SELECT pg_advisory_xact_lock(4243)::text", ("",)),
        # date_bin, preferred in shared SQL, rounds down to the bin.
        (
            (
                "SELECT date_bin('15 minutes', timestamptz '2024-01-01 10:07:00+00',"
                " timestamptz '2000-01-01 00:00:00+00') = timestamptz '2024-01-01 10:00:00+00'"
            ),
            (True,),
        ),
        # time_bucket agrees with date_bin on hour buckets.
        (
            (
                "SELECT time_bucket('1 hour', ts)"
                " = date_bin('1 hour', ts, timestamptz '2000-01-01')"
                " FROM (SELECT timestamptz '2024-05-05 17:59:59+00' AS ts) AS x"
            ),
            (True,),
        ),
    ],
    ids=["advisory_lock", "advisory_xact_lock", "date_bin", "time_bucket"],
)
def test_sql_features(conn: Conn, query: str, expected: tuple[Any, ...]) -> None:
    assert conn.execute(query).fetchone() == expected


@pytest.mark.parametrize(
    "size",
    [
        # Fits one TCP read: always worked.
        1_000,
        # Spans several reads: crashed stock pglite-socket; server.mjs re-frames messages.
        200_000,
        # A seismic packet batch is far smaller; 1 MiB shows there is headroom.
        1_048_576,
    ],
)
def test_large_messages_round_trip(conn: Conn, schema: str, size: int) -> None:
    conn.execute(f"CREATE TABLE {schema}.blobs (id int, payload bytea)")
    payload = os.urandom(size)
    conn.execute(f"INSERT INTO {schema}.blobs VALUES (1, %s)", (payload,))
    row = conn.execute(f"SELECT payload FROM {schema}.blobs").fetchone()
    assert row == (payload,)


def test_psycopg_protocol_features(conn: Conn, schema: str) -> None:
    conn.execute(f"CREATE TABLE {schema}.p (id int PRIMARY KEY, x real[])")
    # executemany uses pipeline mode under psycopg 3 with libpq >= 14.
    rows = [(i, [0.5, float(i)]) for i in range(500)]
    conn.cursor().executemany(f"INSERT INTO {schema}.p VALUES (%s, %s)", rows)
    # An explicit pipeline with several queries in flight.
    with conn.pipeline():
        first = conn.execute(f"SELECT count(*) FROM {schema}.p")
        second = conn.execute(f"SELECT max(id) FROM {schema}.p")
    assert (first.fetchone(), second.fetchone()) == ((500,), (499,))
    # Server-side prepared statements (psycopg prepares after 5 runs; prepare=True forces it).
    for i in range(3):
        assert conn.execute(
            f"SELECT x FROM {schema}.p WHERE id = %s", (i,), prepare=True
        ).fetchone()
    # Binary transfer of arrays and timestamps.
    got = conn.cursor(binary=True).execute(f"SELECT x FROM {schema}.p WHERE id = 7").fetchone()
    assert got == ([0.5, 7.0],)
    # COPY TO STDOUT works (COPY FROM STDIN does not, see below).
    with conn.cursor().copy(f"COPY (SELECT id FROM {schema}.p WHERE id < 3) TO STDOUT") as copy:
        assert list(copy.rows()) == [("0",), ("1",), ("2",)]


def test_reconnect_starts_a_clean_session(timescale_url: str) -> None:
    query = "SELECT %s::int"
    with _connect(timescale_url) as first:
        search_path = first.execute("SELECT current_setting('search_path')").fetchone()
        first.execute("SELECT pg_advisory_lock(99)")
        first.execute("SET application_name = 'first'")
        first.execute("CREATE TEMP TABLE scratch (i int)")
        for i in range(10):  # auto-prepared as _pg3_0
            first.execute(query, (i,))
    with _connect(timescale_url) as second:
        # The same statement name again: "already exists" if PGlite's session leaked.
        for i in range(10):
            second.execute(query, (i,))
        state = second.execute(
            "SELECT current_setting('application_name'),"
            " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),"
            " to_regclass('pg_temp.scratch') IS NULL"
        ).fetchone()
        # ...but the server's own defaults survive (PGlite's reset value is pg_catalog alone).
        assert second.execute("SELECT current_setting('search_path')").fetchone() == search_path
    assert state == ("", 0, True)


def test_second_connection_waits_for_the_first(timescale_url: str, pglite_only: None) -> None:
    connected = threading.Event()
    failures: list[BaseException] = []

    def connect_second() -> None:
        try:
            with _connect(timescale_url) as second:
                second.execute("SELECT 1")
                connected.set()
        except psycopg.Error as exc:
            failures.append(exc)

    with _connect(timescale_url) as first:
        worker = threading.Thread(target=connect_second)
        worker.start()
        # One backend: the second client is queued while the first is open...
        assert not connected.wait(1.0)
        first.execute("SELECT 1")
    started = time.monotonic()
    # ...and served as soon as the first one disconnects.
    assert connected.wait(20.0), failures
    worker.join(5.0)
    assert time.monotonic() - started < 5.0


def test_copy_from_stdin_is_refused_not_fatal(conn: Conn, schema: str, pglite_only: None) -> None:
    conn.execute(f"CREATE TABLE {schema}.c (id int)")
    with (
        pytest.raises(psycopg.errors.FeatureNotSupported, match="COPY FROM STDIN"),
        conn.cursor().copy(f"COPY {schema}.c FROM STDIN") as copy,
    ):
        copy.write_row((1,))
    # PGlite itself aborts on it; server.mjs answers with an error and the server lives on.
    assert conn.execute("SELECT 1").fetchone() == (1,)
