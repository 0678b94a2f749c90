"""Alert transitions and the notification outbox, each transition in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow, dict_row
from psycopg.types.json import Jsonb

from alerts.model import Alert, Event, Severity

PayloadFn = Callable[[Alert, Event], Mapping[str, Any]]
# Which targets a transition goes to, from the alert's labels and the event (channel routing).
TargetsFn = Callable[[Mapping[str, str], str], "Sequence[Target]"]

_ALERT_COLUMNS = (
    "id, key, rule, kind, severity, state, station_id, area, value, threshold, unit,"
    " started_at, resolved_at, acked_at, acked_by, details"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A receiver of notifications: channel name and, within it, the target."""

    channel: str
    target: str = ""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A notification claimed for delivery."""

    id: int
    alert_id: int
    channel: str
    target: str
    event: Event
    attempts: int
    created_at: datetime
    payload: Mapping[str, Any]
    trigger_received_at: datetime | None


def _alert(row: Mapping[str, Any]) -> Alert:
    return Alert(
        id=int(row["id"]),
        key=row["key"],
        rule=row["rule"],
        kind=row["kind"],
        severity=Severity(row["severity"]),
        state=row["state"],
        station_id=row["station_id"],
        area=row["area"],
        value=row["value"],
        threshold=row["threshold"],
        unit=row["unit"],
        started_at=row["started_at"],
        resolved_at=row["resolved_at"],
        acked_at=row["acked_at"],
        acked_by=row["acked_by"],
        details=row["details"] or {},
    )


async def _enqueue(  # noqa: PLR0917 - private helper, called twice with the same shape
    cur: psycopg.AsyncCursor[Any],
    alert: Alert,
    event: Event,
    targets: TargetsFn,
    payload: PayloadFn,
    received_at: datetime | None,
) -> None:
    rendered = dict(payload(alert, event))
    labels = {str(k): str(v) for k, v in (rendered.get("alert") or {}).get("labels", {}).items()}
    chosen = targets(labels, event.value)
    if not chosen:
        return
    body = Jsonb(rendered)
    await cur.executemany(
        "INSERT INTO kuzet.notifications"
        " (alert_id, channel, target, event, payload, trigger_received_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        [(alert.id, t.channel, t.target, event.value, body, received_at) for t in chosen],
    )


async def fire(
    conn: psycopg.AsyncConnection[TupleRow],
    fields: Mapping[str, Any],
    *,
    targets: TargetsFn,
    payload: PayloadFn,
    received_at: datetime | None,
) -> tuple[Alert, bool]:
    """Record a firing alert and its notifications.

    Returns:
        (the firing alert, True) when this call created it; (the alert already firing
        for that key, False) when another replica was first — then nothing is notified.
    """
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO kuzet.alerts (key, rule, kind, severity, state, station_id, area,"
            " value, threshold, unit, started_at, details)"
            " VALUES (%(key)s, %(rule)s, %(kind)s, %(severity)s, 'firing', %(station_id)s,"
            " %(area)s, %(value)s, %(threshold)s, %(unit)s, %(started_at)s, %(details)s)"
            " ON CONFLICT (key) WHERE state = 'firing' DO NOTHING"
            f" RETURNING {_ALERT_COLUMNS}",
            {**fields, "details": Jsonb(dict(fields.get("details", {})))},
        )
        row = await cur.fetchone()
        if row is not None:
            alert = _alert(row)
            await _enqueue(cur, alert, Event.FIRING, targets, payload, received_at)
            return alert, True
        await cur.execute(
            f"SELECT {_ALERT_COLUMNS} FROM kuzet.alerts WHERE key = %s AND state = 'firing'",
            (fields["key"],),
        )
        existing = await cur.fetchone()
    if existing is None:  # resolved in between by another replica: try again next time
        raise psycopg.errors.SerializationFailure("firing alert vanished concurrently")
    return _alert(existing), False


async def escalate(
    conn: psycopg.AsyncConnection[TupleRow],
    alert_id: int,
    *,
    severity: Severity,
    value: float,
    threshold: float,
    details: Mapping[str, Any],
    targets: TargetsFn,
    payload: PayloadFn,
    received_at: datetime | None,
) -> Alert | None:
    """Raise a firing alert to a higher threshold; None when it is not firing or already there.

    The condition on the stored threshold makes a level-up happen once across replicas.
    """
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.alerts SET severity = %s, value = %s, threshold = %s,"
            " details = details || %s, updated_at = now(), last_notified_at = now()"
            " WHERE id = %s AND state = 'firing' AND threshold < %s"
            f" RETURNING {_ALERT_COLUMNS}",
            (severity.value, value, threshold, Jsonb(dict(details)), alert_id, threshold),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        alert = _alert(row)
        await _enqueue(cur, alert, Event.ESCALATED, targets, payload, received_at)
        return alert


async def resolve(
    conn: psycopg.AsyncConnection[TupleRow],
    alert_id: int,
    *,
    value: float,
    at: datetime,
    targets: TargetsFn,
    payload: PayloadFn,
    received_at: datetime | None,
) -> Alert | None:
    """Resolve a firing alert; None when it was already resolved (by another replica)."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.alerts SET state = 'resolved', resolved_at = %s, value = %s,"
            " updated_at = now() WHERE id = %s AND state = 'firing'"
            f" RETURNING {_ALERT_COLUMNS}",
            (at, value, alert_id),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        alert = _alert(row)
        await _enqueue(cur, alert, Event.RESOLVED, targets, payload, received_at)
        return alert


async def enqueue_repeats(
    conn: psycopg.AsyncConnection[TupleRow],
    *,
    interval_s: float,
    targets: TargetsFn,
    payload: PayloadFn,
) -> list[Alert]:
    """Queue `repeat` notifications for alerts firing unnotified for `interval_s` (wall clock).

    The conditional UPDATE makes this exactly-once across replicas.
    """
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.alerts SET last_notified_at = now()"
            " WHERE state = 'firing' AND last_notified_at <= now() - make_interval(secs => %s)"
            f" RETURNING {_ALERT_COLUMNS}",
            (interval_s,),
        )
        alerts = [_alert(r) for r in await cur.fetchall()]
        for alert in alerts:
            await _enqueue(cur, alert, Event.REPEAT, targets, payload, None)
    return alerts


async def firing_alerts(conn: psycopg.AsyncConnection[TupleRow]) -> list[Alert]:
    """Every firing alert (the engine's state after a restart)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_ALERT_COLUMNS} FROM kuzet.alerts WHERE state = 'firing' ORDER BY id"
        )
        return [_alert(r) for r in await cur.fetchall()]


async def claim_due(
    conn: psycopg.AsyncConnection[TupleRow], *, limit: int, lease_s: float
) -> list[OutboxRow]:
    """Lease due notifications; SKIP LOCKED lets several dispatchers share the outbox."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.notifications AS n SET lease_until = now() + make_interval(secs => %s)"
            " WHERE n.id IN (SELECT id FROM kuzet.notifications"
            "   WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()"
            "     AND (lease_until IS NULL OR lease_until < now())"
            "   ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING n.id, n.alert_id, n.channel, n.target, n.event, n.attempts,"
            " n.created_at, n.payload, n.trigger_received_at",
            (lease_s, limit),
        )
        rows = await cur.fetchall()
    return sorted(
        (
            OutboxRow(
                id=int(r["id"]),
                alert_id=int(r["alert_id"]),
                channel=r["channel"],
                target=r["target"],
                event=Event(r["event"]),
                attempts=int(r["attempts"]),
                created_at=r["created_at"],
                payload=r["payload"],
                trigger_received_at=r["trigger_received_at"],
            )
            for r in rows
        ),
        key=lambda o: o.id,
    )


async def finish(
    conn: psycopg.AsyncConnection[TupleRow],
    notification_id: int,
    *,
    status: str,
    error: str | None = None,
    retry_in_s: float = 0.0,
) -> None:
    """Record a delivery outcome: sent, failed (retry later), dead, or silenced."""
    await conn.execute(
        "UPDATE kuzet.notifications SET status = %s, attempts = attempts + 1,"
        " lease_until = NULL, last_error = %s,"
        " sent_at = CASE WHEN %s = 'sent' THEN now() ELSE sent_at END,"
        " next_attempt_at = now() + make_interval(secs => %s)"
        " WHERE id = %s",
        (status, error, status, retry_in_s, notification_id),
    )


async def db_now(conn: psycopg.AsyncConnection[TupleRow]) -> datetime:
    """The database's clock (one clock for deadlines shared by replicas)."""
    cur = await conn.execute("SELECT now()")
    row = await cur.fetchone()
    assert row is not None  # noqa: S101 - SELECT now() returns one row
    value: datetime = row[0]
    return value


async def list_alerts(
    conn: psycopg.AsyncConnection[TupleRow], *, state: str, limit: int
) -> list[Alert]:
    """Alerts newest first; `state` is firing, resolved or all."""
    where = "" if state == "all" else "WHERE state = %(state)s"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_ALERT_COLUMNS} FROM kuzet.alerts {where}"
            " ORDER BY started_at DESC, id DESC LIMIT %(limit)s",
            {"state": state, "limit": limit},
        )
        return [_alert(r) for r in await cur.fetchall()]


async def get_alert(conn: psycopg.AsyncConnection[TupleRow], alert_id: int) -> Alert | None:
    """One alert by id."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_ALERT_COLUMNS} FROM kuzet.alerts WHERE id = %s", (alert_id,))
        row = await cur.fetchone()
    return _alert(row) if row else None


async def notification_history(
    conn: psycopg.AsyncConnection[TupleRow], alert_id: int
) -> list[dict[str, Any]]:
    """The notifications of one alert, oldest first (no payloads)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, channel, target, event, status, attempts, created_at, sent_at,"
            " next_attempt_at, last_error FROM kuzet.notifications WHERE alert_id = %s"
            " ORDER BY id",
            (alert_id,),
        )
        return list(await cur.fetchall())


async def ack(
    conn: psycopg.AsyncConnection[TupleRow], alert_id: int, *, by: str
) -> tuple[bool, Alert | None]:
    """Acknowledge a firing alert at the database's `now()`.

    Returns:
        (True, the acknowledged alert) when this call acknowledged it; else (False, the
        alert as stored: resolved, or already acknowledged — the first acknowledgement is
        kept), or (False, None) when there is no such alert.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE kuzet.alerts SET acked_at = now(), acked_by = %s"
            " WHERE id = %s AND state = 'firing' AND acked_at IS NULL"
            f" RETURNING {_ALERT_COLUMNS}",
            (by, alert_id),
        )
        row = await cur.fetchone()
    if row is not None:
        return True, _alert(row)
    return False, await get_alert(conn, alert_id)


async def escalations(
    conn: psycopg.AsyncConnection[TupleRow], alert_ids: Sequence[int]
) -> dict[int, list[tuple[Severity, datetime]]]:
    """Each alert's escalations (severity reached, when recorded), from its notifications.

    An escalation is known from the outbox rows written with it: an alert escalated while
    no channel was configured has none. A payload without a severity label counts as an
    escalation to the alert's current severity.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT n.alert_id,"
            " COALESCE(n.payload -> 'alert' -> 'labels' ->> 'severity', a.severity) AS severity,"
            " min(n.created_at) AS at"
            " FROM kuzet.notifications AS n JOIN kuzet.alerts AS a ON a.id = n.alert_id"
            " WHERE n.alert_id = ANY(%s) AND n.event = 'escalated'"
            " GROUP BY n.alert_id, 2 ORDER BY n.alert_id, at",
            (list(alert_ids),),
        )
        rows = await cur.fetchall()
    found: dict[int, list[tuple[Severity, datetime]]] = {int(i): [] for i in alert_ids}
    known = {s.value for s in Severity}
    for row in rows:
        if row["severity"] in known:
            found[int(row["alert_id"])].append((Severity(row["severity"]), row["at"]))
    return found
