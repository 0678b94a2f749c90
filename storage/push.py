"""The `kuzet.push_subscriptions` table: Web Push subscriptions from browsers and apps."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow, dict_row

# Inserts only while the table holds fewer than `cap` rows (checked without a lock, so
# concurrent inserts may overshoot by a few); an existing endpoint is always updated (a
# browser re-subscribing after rotating its keys).
_UPSERT = """
INSERT INTO kuzet.push_subscriptions (endpoint, p256dh, auth, lang)
SELECT %(endpoint)s, %(p256dh)s, %(auth)s, %(lang)s
WHERE EXISTS (SELECT 1 FROM kuzet.push_subscriptions WHERE endpoint = %(endpoint)s)
   OR (SELECT count(*) FROM kuzet.push_subscriptions) < %(cap)s
ON CONFLICT (endpoint) DO UPDATE
    SET p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, lang = EXCLUDED.lang
RETURNING (xmax = 0) AS inserted
"""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One PushSubscription: endpoint, the client's keys (base64url) and its language."""

    endpoint: str
    p256dh: str
    auth: str
    lang: str = "ru"
    created_at: datetime | None = None

    def info(self) -> dict[str, object]:
        """The `subscription_info` shape of the Push API (`PushSubscription.toJSON()`)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class Saved(enum.StrEnum):
    """What `save_subscription` did."""

    CREATED = "created"
    UPDATED = "updated"
    FULL = "full"


async def save_subscription(
    conn: psycopg.AsyncConnection[TupleRow], subscription: Subscription, *, cap: int
) -> Saved:
    """Insert or update one subscription; FULL (nothing stored) when `cap` rows exist."""
    cur = await conn.execute(
        _UPSERT,
        {
            "endpoint": subscription.endpoint,
            "p256dh": subscription.p256dh,
            "auth": subscription.auth,
            "lang": subscription.lang,
            "cap": cap,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return Saved.FULL
    return Saved.CREATED if row[0] else Saved.UPDATED


async def list_subscriptions(conn: psycopg.AsyncConnection[TupleRow]) -> list[Subscription]:
    """Every subscription, oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT endpoint, p256dh, auth, lang, created_at FROM kuzet.push_subscriptions"
            " ORDER BY created_at, endpoint"
        )
        return [Subscription(**row) for row in await cur.fetchall()]


async def delete_subscription(conn: psycopg.AsyncConnection[TupleRow], endpoint: str) -> bool:
    """Remove one subscription; False when there was none."""
    cur = await conn.execute(
        "DELETE FROM kuzet.push_subscriptions WHERE endpoint = %s", (endpoint,)
    )
    return cur.rowcount > 0


async def delete_subscriptions(
    conn: psycopg.AsyncConnection[TupleRow], endpoints: Sequence[str]
) -> int:
    """Remove several subscriptions (those the push service called gone); returns how many."""
    if not endpoints:
        return 0
    cur = await conn.execute(
        "DELETE FROM kuzet.push_subscriptions WHERE endpoint = ANY(%s)", (list(endpoints),)
    )
    return cur.rowcount
