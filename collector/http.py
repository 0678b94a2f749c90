"""HTTP server (aiohttp): health, readiness, metrics and the read-only station API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.metrics import Metrics
from collector.models import Feed
from collector.shardlist import cluster_list, cluster_view
from collector.stations import Station, Stations
from collector.tracker import LastSeenTracker, station_status

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Readiness:
    """What /readyz checks; updated by the MQTT loop and the database probes."""

    mqtt_connected: bool = False
    db_ok: bool = False
    db_error: str = ""

    def reasons(self) -> list[str]:
        """Why the daemon is not ready (empty when ready)."""
        reasons = []
        if not self.mqtt_connected:
            reasons.append("mqtt: not connected")
        if not self.db_ok:
            reasons.append(f"database: {self.db_error or 'not answering'}")
        return reasons


@dataclass(slots=True)
class ApiContext:
    """Everything the handlers read.

    The server starts before the database is reached (so /healthz and /readyz answer during
    start-up); `services` holds what becomes available later, by name.
    """

    metrics: Metrics
    stations: Stations
    tracker: LastSeenTracker
    readiness: Readiness
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    services: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Any:
        """A late-bound service; raises 503 while the daemon is still starting."""
        try:
            return self.services[name]
        except KeyError:
            raise web.HTTPServiceUnavailable(reason="starting: database not ready yet") from None


CONTEXT: web.AppKey[ApiContext] = web.AppKey("kuzet_context", ApiContext)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response (orjson: datetimes as RFC 3339, NaN never emitted)."""
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
    )


def json_error(status: int, message: str) -> web.Response:
    """The error shape of the API: `{"error": "..."}`."""
    return json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error as JSON; never leak a stack trace."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects pass through
            raise
        response = json_error(exc.status, exc.reason)
        # Keep what the exception says beyond its status: 405 must carry `Allow` (RFC 9110),
        # 401 `WWW-Authenticate` (found by schemathesis, HARDEN).
        for name in ("Allow", "WWW-Authenticate", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return json_error(500, "internal error")


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process runs and its loop answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: MQTT connected and the database answering."""
    reasons = request.app[CONTEXT].readiness.reasons()
    if reasons:
        return json_response({"status": "not ready", "reasons": reasons}, status=503)
    return json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    body = generate_latest(request.app[CONTEXT].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def stations(request: web.Request) -> web.Response:
    """Every station with kind, position, last reading time and status."""
    ctx = request.app[CONTEXT]
    now = ctx.clock()
    kind = request.query.get("kind")
    # An unknown kind is an error, not an empty list (found by schemathesis, HARDEN).
    if kind is not None and kind not in {f.value for f in Feed}:
        return json_error(400, "kind must be air, seismic or lake")
    listed = [s for s in ctx.stations if not kind or s.kind.value == kind]

    def build(owns: Callable[[str], bool]) -> list[dict[str, Any]]:
        # Sharded: a station's last reading is current only on the shard that stores it.
        return [_station_item(ctx, s, now) for s in listed if owns(s.id)]

    view = cluster_view(ctx.services)
    listing = await cluster_list(request, view, "stations", build, [s.id for s in listed])
    response = json_response({"stations": listing.items, "count": len(listing.items)})
    response.headers.update(listing.headers)
    return response


def _station_item(ctx: ApiContext, station: Station, now: datetime) -> dict[str, Any]:
    seen = ctx.tracker.get(station.id)
    return {
        "station_id": station.id,
        "kind": station.kind.value,
        "name": station.name,
        "name_ru": station.name_ru,
        "name_kk": station.name_kk,
        "lat": station.lat,
        "lon": station.lon,
        "elevation_m": station.elevation_m,
        "district": station.district,
        "area": station.area,
        "interval_s": station.interval_s,
        "auto_registered": station.auto,
        "last_reading_time": seen.time if seen else None,
        "last_received_at": seen.received_at if seen else None,
        "status": station_status(station, seen, now).value,
    }


Routes = Callable[[web.Application], None]


def build_app(ctx: ApiContext, extra: Sequence[Routes] = ()) -> web.Application:
    """The application: core routes plus each module's route table."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[CONTEXT] = ctx
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/stations", stations)
    for add_routes in extra:
        add_routes(app)
    return app
