"""Silences (Alertmanager API v2 shape): create, replace, list, expire, and the current set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow, dict_row
from psycopg.types.json import Jsonb

_COLUMNS = "id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_at"


@dataclass(frozen=True, slots=True)
class SilenceRow:
    """A stored silence; `matchers` as stored ([{name, value, isRegex, isEqual}, ...])."""

    id: int
    matchers: tuple[Mapping[str, Any], ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    expired_at: datetime | None


@dataclass(frozen=True, slots=True)
class SilenceFields:
    """What a client sets on a silence."""

    matchers: Sequence[Mapping[str, Any]]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


def _row(row: Mapping[str, Any]) -> SilenceRow:
    return SilenceRow(
        id=int(row["id"]),
        matchers=tuple(row["matchers"] or ()),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_by=row["created_by"],
        comment=row["comment"],
        created_at=row["created_at"],
        expired_at=row["expired_at"],
    )


def _params(fields: SilenceFields) -> dict[str, Any]:
    return {
        "matchers": Jsonb([dict(m) for m in fields.matchers]),
        "starts_at": fields.starts_at,
        "ends_at": fields.ends_at,
        "created_by": fields.created_by,
        "comment": fields.comment,
    }


async def create_silence(
    conn: psycopg.AsyncConnection[TupleRow], fields: SilenceFields
) -> SilenceRow:
    """Store a new silence."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO kuzet.silences (matchers, starts_at, ends_at, created_by, comment)"
            " VALUES (%(matchers)s, %(starts_at)s, %(ends_at)s, %(created_by)s, %(comment)s)"
            f" RETURNING {_COLUMNS}",
            _params(fields),
        )
        row = await cur.fetchone()
    assert row is not None  # noqa: S101 - INSERT ... RETURNING returns the row
    return _row(row)


async def replace_silence(
    conn: psycopg.AsyncConnection[TupleRow], silence_id: int, fields: SilenceFields
) -> SilenceRow | None:
    """Change a silence that has not been expired; None when unknown or expired."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.silences SET matchers = %(matchers)s, starts_at = %(starts_at)s,"
            " ends_at = %(ends_at)s, created_by = %(created_by)s, comment = %(comment)s"
            " WHERE id = %(id)s AND expired_at IS NULL AND ends_at > now()"
            f" RETURNING {_COLUMNS}",
            {**_params(fields), "id": silence_id},
        )
        row = await cur.fetchone()
    return _row(row) if row else None


async def get_silence(
    conn: psycopg.AsyncConnection[TupleRow], silence_id: int
) -> SilenceRow | None:
    """One silence by id."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM kuzet.silences WHERE id = %s", (silence_id,))
        row = await cur.fetchone()
    return _row(row) if row else None


async def list_silences(
    conn: psycopg.AsyncConnection[TupleRow], *, include_expired: bool, limit: int
) -> list[SilenceRow]:
    """Silences, newest first; expired ones only when asked for."""
    where = "" if include_expired else "WHERE expired_at IS NULL AND ends_at > now()"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM kuzet.silences {where} ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [_row(r) for r in await cur.fetchall()]


async def expire_silence(
    conn: psycopg.AsyncConnection[TupleRow], silence_id: int
) -> SilenceRow | None:
    """End a silence now (kept for the record); None when unknown.

    Expiring an expired silence changes nothing and returns it.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.silences SET expired_at = COALESCE(expired_at, now()),"
            " ends_at = LEAST(ends_at, COALESCE(expired_at, now()))"
            f" WHERE id = %s RETURNING {_COLUMNS}",
            (silence_id,),
        )
        row = await cur.fetchone()
    return _row(row) if row else None


async def current_silences(conn: psycopg.AsyncConnection[TupleRow]) -> list[SilenceRow]:
    """Silences that are active or pending (what a dispatcher has to know about)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM kuzet.silences"
            " WHERE expired_at IS NULL AND ends_at > now() ORDER BY id"
        )
        return [_row(r) for r in await cur.fetchall()]
