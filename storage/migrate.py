"""Versioned SQL migrations applied under an advisory lock, in TimescaleDB or plain mode."""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg.rows import TupleRow

from storage.errors import MigrationError, translate

logger = logging.getLogger(__name__)

# Any fixed 64-bit number works; every replica and `kuzet db migrate` use the same one, so
# concurrent start-ups apply each migration exactly once.
MIGRATION_LOCK_ID = 0x6B757A65_74000001

NO_TRANSACTION = "-- kuzet: no-transaction"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql$")


class Mode(enum.StrEnum):
    """How time series are stored."""

    TIMESCALE = "timescale"
    PLAIN = "plain"


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: its SQL text for the chosen mode."""

    version: int
    name: str
    sql: str

    @property
    def transactional(self) -> bool:
        """False for a file marked `-- kuzet: no-transaction` (one statement, autocommit)."""
        return not self.sql.startswith(NO_TRANSACTION)

    @property
    def checksum(self) -> str:
        """Short digest of the SQL, to notice a migration edited after it was applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def available_migrations(mode: Mode) -> list[Migration]:
    """The bundled migrations for `mode`, by version.

    A version is either one `NNNN_name.sql` file for both modes, or a pair
    `NNNN_name.plain.sql` / `NNNN_name.timescale.sql`.
    """
    found: dict[int, Migration] = {}
    folder = resources.files("storage") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        match = _FILE.match(entry.name)
        if match is None:
            continue
        version, name, variant = int(match.group(1)), match.group(2), match.group(3)
        if variant is not None and variant != mode.value:
            continue
        found[version] = Migration(version, name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What `migrate` found and did."""

    mode: Mode
    applied: tuple[int, ...]
    current: int


async def _create_bookkeeping(conn: psycopg.AsyncConnection[TupleRow]) -> None:
    await conn.execute("CREATE SCHEMA IF NOT EXISTS kuzet")
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS kuzet.schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            mode       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


async def recorded_mode(conn: psycopg.AsyncConnection[TupleRow]) -> Mode | None:
    """The mode the schema was created in, or None before the first migration."""
    cur = await conn.execute("SELECT to_regclass('kuzet.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if row is None or not row[0]:
        return None
    cur = await conn.execute("SELECT mode FROM kuzet.schema_migrations ORDER BY version LIMIT 1")
    row = await cur.fetchone()
    return Mode(str(row[0])) if row else None


async def _choose_mode(conn: psycopg.AsyncConnection[TupleRow], preference: str) -> Mode:
    if preference == "off":
        return Mode.PLAIN
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if preference == "require":
            raise MigrationError(f"TimescaleDB required but unavailable: {reason}") from None
        logger.info("TimescaleDB unavailable (%s): using plain PostgreSQL mode", reason)
        return Mode.PLAIN
    return Mode.TIMESCALE


async def migrate(conninfo: str, *, timescaledb: str = "auto") -> MigrationReport:
    """Bring the `kuzet` schema up to date; safe to run from several processes at once.

    Args:
        conninfo: libpq URL of the database.
        timescaledb: "auto", "require" or "off" (only decides the mode of a new schema).

    Raises:
        MigrationError: a migration failed (its transaction is rolled back) or an applied
            migration no longer matches the bundled file.
        StorageError: the database cannot be reached.
    """
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise translate(exc, "connecting for migrations") from None
    async with conn:
        # A session lock on a dedicated connection: held across the per-migration
        # transactions and released when the connection closes, even on a crash.
        await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        await _create_bookkeeping(conn)
        mode = await recorded_mode(conn) or await _choose_mode(conn, timescaledb)
        if mode is Mode.TIMESCALE and timescaledb == "off":
            logger.warning("schema was created in TimescaleDB mode; timescaledb=off ignored")
        cur = await conn.execute("SELECT version, checksum FROM kuzet.schema_migrations")
        done = {int(v): str(c) for v, c in await cur.fetchall()}
        applied: list[int] = []
        for migration in available_migrations(mode):
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    logger.warning(
                        "migration %04d_%s changed after it was applied",
                        migration.version,
                        migration.name,
                    )
                continue
            logger.info("applying migration %04d_%s (%s)", migration.version, migration.name, mode)
            record = (
                "INSERT INTO kuzet.schema_migrations (version, name, mode, checksum)"
                " VALUES (%s, %s, %s, %s)"
            )
            params = (migration.version, migration.name, mode.value, migration.checksum)
            try:
                if migration.transactional:
                    async with conn.transaction():
                        await conn.execute(migration.sql.encode())
                        await conn.execute(record, params)
                else:
                    # One statement that refuses transactions (a continuous aggregate); if
                    # the process dies between the two, the retry fails loudly on "already
                    # exists" rather than silently skipping.
                    await conn.execute(migration.sql.encode())
                    await conn.execute(record, params)
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: "
                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
                ) from None
            applied.append(migration.version)
        current = max([*done, *applied], default=0)
        return MigrationReport(mode=mode, applied=tuple(applied), current=current)
