"""HTTP routes for Web Push: the VAPID public key and the public subscription endpoint.

A browser cannot hold the operator's bearer token, so subscribing is public. What limits it:
each client address may call at most `subscribe_rate` times a minute (behind a reverse proxy
every client shares the proxy's address: limit there too), the table holds at most
`max_subscriptions` rows, bodies are capped by the server (64 KiB), and an endpoint must be
an https URL of a known push service, so the daemon cannot be made to POST to any URL.
Unsubscribing needs the endpoint URL itself, which only its browser knows.
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
import psycopg
from aiohttp import web
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.channels.webpush import InvalidSubscriptionError, PushSubscriptions
from collector.http import CONTEXT, json_error, json_response
from storage.push import Saved, delete_subscription, save_subscription

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]

# ctx.services key of the PushSubscriptions (alerts.channels.Channels.push); None: disabled.
PUSH_SERVICE = "push"
SUBSCRIPTIONS = "/api/v1/push/subscriptions"
PUBLIC_KEY = "/api/v1/push/vapid-public-key"
_CORS_MAX_AGE = "86400"


def _push(request: web.Request) -> PushSubscriptions:
    services = request.app[CONTEXT].services
    if PUSH_SERVICE not in services:
        raise web.HTTPServiceUnavailable(reason="starting: notification channels not ready yet")
    push: PushSubscriptions | None = services[PUSH_SERVICE]
    if push is None:
        raise web.HTTPNotFound(reason="web push is not enabled")
    return push


def _pool(request: web.Request) -> Pool:
    pool: Pool = request.app[CONTEXT].service("pool")
    return pool


def _cors(request: web.Request, push: PushSubscriptions, response: web.Response) -> web.Response:
    origin = request.headers.get("Origin")
    allowed = push.policy.allowed_origins
    if origin and (origin in allowed or "*" in allowed):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _throttled(request: web.Request, push: PushSubscriptions) -> web.Response | None:
    wait = push.admit(request.remote or "unknown", time.monotonic())
    if wait <= 0:
        return None
    response = json_error(429, "too many subscription requests; try again later")
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


async def _json(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise InvalidSubscriptionError("body must be JSON") from None


async def vapid_public_key(request: web.Request) -> web.Response:
    """GET: `{"publicKey": "<base64url>"}`, the applicationServerKey for subscribe()."""
    push = _push(request)
    return _cors(request, push, json_response({"publicKey": push.public_key}))


async def subscribe(request: web.Request) -> web.Response:
    """POST a PushSubscription (`toJSON()`) plus optional `lang`: 201 new, 200 updated."""
    push = _push(request)
    throttled = _throttled(request, push)
    if throttled is not None:
        return _cors(request, push, throttled)
    try:
        subscription = push.parse(await _json(request))
    except InvalidSubscriptionError as exc:
        return _cors(request, push, json_error(400, str(exc)))
    async with _pool(request).connection() as conn:
        saved = await save_subscription(conn, subscription, cap=push.policy.max_subscriptions)
    if saved is Saved.FULL:
        return _cors(request, push, json_error(503, "subscription limit reached"))
    body = {"endpoint": subscription.endpoint, "lang": subscription.lang, "status": saved.value}
    status = 201 if saved is Saved.CREATED else 200
    return _cors(request, push, json_response(body, status=status))


async def unsubscribe(request: web.Request) -> web.Response:
    """DELETE with `{"endpoint": "..."}`: 204 removed, 404 unknown."""
    push = _push(request)
    throttled = _throttled(request, push)
    if throttled is not None:
        return _cors(request, push, throttled)
    try:
        data = await _json(request)
    except InvalidSubscriptionError as exc:
        return _cors(request, push, json_error(400, str(exc)))
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return _cors(request, push, json_error(400, "endpoint is required"))
    async with _pool(request).connection() as conn:
        removed = await delete_subscription(conn, endpoint)
    if not removed:
        return _cors(request, push, json_error(404, "no such subscription"))
    return _cors(request, push, web.Response(status=204))


async def preflight(request: web.Request) -> web.Response:
    """OPTIONS (CORS preflight): allowed origins may POST and DELETE JSON."""
    push = _push(request)
    response = _cors(request, push, web.Response(status=204))
    if "Access-Control-Allow-Origin" not in response.headers:
        return json_error(403, "origin not allowed")
    response.headers["Access-Control-Allow-Methods"] = "POST, DELETE, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = _CORS_MAX_AGE
    return response


def add_push_routes(app: web.Application) -> None:
    """Register the Web Push routes (503 until the channels are built, 404 when disabled)."""
    app.router.add_get(PUBLIC_KEY, vapid_public_key)
    app.router.add_post(SUBSCRIPTIONS, subscribe)
    app.router.add_delete(SUBSCRIPTIONS, unsubscribe)
    app.router.add_route("OPTIONS", SUBSCRIPTIONS, preflight)
