"""HTTP route of the seismic analytics: recent associated events (spec §7)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from collector.http import CONTEXT, json_error, json_response
from storage.seismic import recent_events

MAX_LIMIT = 500


async def get_events(request: web.Request) -> web.Response:
    """GET /api/v1/seismic/events?limit=N&since=<RFC 3339>: newest first."""
    ctx = request.app[CONTEXT]
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        return json_error(400, "limit must be an integer")
    if not 1 <= limit <= MAX_LIMIT:
        return json_error(400, f"limit must be between 1 and {MAX_LIMIT}")
    since = None
    if "since" in request.query:
        try:
            since = datetime.fromisoformat(request.query["since"])
        except ValueError:
            return json_error(400, "since must be an RFC 3339 time")
        if since.tzinfo is None:
            return json_error(400, "since needs a time zone offset")
    async with ctx.service("pool").connection() as conn:
        events = await recent_events(conn, limit=limit, since=since)
    return json_response({"events": events, "count": len(events)})


def add_seismic_routes(app: web.Application) -> None:
    """Register the seismic routes."""
    app.router.add_get("/api/v1/seismic/events", get_events)
