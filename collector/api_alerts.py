"""HTTP routes for alerts: list and detail with notification history (spec §7)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import psycopg
from aiohttp import web
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.model import Alert
from collector.http import CONTEXT, json_error, json_response
from storage import alerts as store

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
MAX_LIMIT = 1000


def _pool(request: web.Request) -> Pool:
    pool: Pool = request.app[CONTEXT].service("pool")
    return pool


def alert_dict(alert: Alert) -> dict[str, Any]:
    """The API shape of an alert."""
    data = asdict(alert)
    data["severity"] = alert.severity.value
    data["details"] = dict(alert.details)
    data["fingerprint"] = alert.fingerprint
    return data


async def list_alerts(request: web.Request) -> web.Response:
    """GET /api/v1/alerts?state=firing|resolved|all&limit=N, newest first."""
    state = request.query.get("state", "firing")
    if state not in ("firing", "resolved", "all"):
        return json_error(400, "state must be firing, resolved or all")
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return json_error(400, "limit must be an integer")
    # Refused, not clamped: the OpenAPI document says 1..1000 (found by schemathesis).
    if not 1 <= limit <= MAX_LIMIT:
        return json_error(400, f"limit must be 1..{MAX_LIMIT}")
    async with _pool(request).connection() as conn:
        alerts = await store.list_alerts(conn, state=state, limit=limit)
    return json_response({"alerts": [alert_dict(a) for a in alerts], "count": len(alerts)})


async def get_alert(request: web.Request) -> web.Response:
    """GET /api/v1/alerts/{id}: the alert with its notification history."""
    try:
        alert_id = int(request.match_info["id"])
    except ValueError:
        return json_error(400, "alert id must be an integer")
    async with _pool(request).connection() as conn:
        alert = await store.get_alert(conn, alert_id)
        if alert is None:
            return json_error(404, f"no alert {alert_id}")
        history = await store.notification_history(conn, alert_id)
    return json_response({**alert_dict(alert), "notifications": history})


def add_alert_routes(app: web.Application) -> None:
    """Register the alert routes (503 until the database is ready)."""
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/alerts/{id}", get_alert)
