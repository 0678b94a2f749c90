"""`kuzet db status`: mode, schema version, tables and TimescaleDB policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from storage.migrate import Mode, available_migrations, recorded_mode


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One object of the `kuzet` schema."""

    name: str
    kind: str
    approx_rows: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class DbStatus:
    """What the database looks like to Kuzet."""

    server_version: str
    mode: Mode | None
    timescaledb_version: str | None
    schema_version: int
    pending: list[int]
    tables: list[TableInfo] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "server_version": self.server_version,
            "mode": self.mode.value if self.mode else None,
            "timescaledb_version": self.timescaledb_version,
            "schema_version": self.schema_version,
            "pending_migrations": self.pending,
            "tables": [_table(t) for t in self.tables],
            "policies": self.policies,
        }


def _table(t: TableInfo) -> dict[str, Any]:
    return {
        "name": t.name,
        "kind": t.kind,
        "approx_rows": t.approx_rows,
        "size_bytes": t.size_bytes,
    }


async def db_status(conn: psycopg.AsyncConnection[TupleRow]) -> DbStatus:
    """Inspect the database (read-only)."""
    cur = await conn.execute("SHOW server_version")
    row = await cur.fetchone()
    server_version = str(row[0]) if row else "?"
    cur = await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    row = await cur.fetchone()
    ts_version = str(row[0]) if row else None
    mode = await recorded_mode(conn)
    version = 0
    if mode is not None:
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM kuzet.schema_migrations")
        row = await cur.fetchone()
        version = int(row[0]) if row else 0
        cur = await conn.execute("SELECT version FROM kuzet.schema_migrations")
        done = {int(r[0]) for r in await cur.fetchall()}
        pending = [m.version for m in available_migrations(mode) if m.version not in done]
    else:
        pending = [m.version for m in available_migrations(Mode.PLAIN)]
    cur = await conn.execute(
        """
        SELECT c.relname,
               CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                              WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                              ELSE c.relkind::text END,
               greatest(c.reltuples, 0)::bigint,
               pg_total_relation_size(c.oid)
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'kuzet' AND c.relkind IN ('r', 'p', 'v', 'm')
        ORDER BY c.relname
        """
    )
    tables = [TableInfo(str(a), str(b), int(c), int(d)) for a, b, c, d in await cur.fetchall()]
    policies: list[dict[str, Any]] = []
    if mode is Mode.TIMESCALE:
        hyper = await conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'kuzet'"
        )
        hypertables = {str(r[0]) for r in await hyper.fetchall()}
        tables = [
            TableInfo(t.name, "hypertable", t.approx_rows, t.size_bytes)
            if t.name in hypertables
            else t
            for t in tables
        ]
        cur = await conn.execute(
            """
            SELECT proc_name, hypertable_name, schedule_interval::text, config::text
            FROM timescaledb_information.jobs
            WHERE hypertable_schema = 'kuzet' ORDER BY hypertable_name, proc_name
            """
        )
        policies = [
            {"policy": str(p), "table": str(t), "schedule": str(s), "config": str(c)}
            for p, t, s, c in await cur.fetchall()
        ]
    return DbStatus(server_version, mode, ts_version, version, pending, tables, policies)
