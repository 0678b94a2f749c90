"""The OpenAPI 3.1 description of the HTTP API (spec §7), built in code from typed pieces.

A static document rather than one generated from the handlers: aiohttp routes carry no
schemas, and the contract should change only on purpose. A test checks that every route
the application registers is described here. Enumerations are taken from the code (station
status, lake state, AQI category, severities, silence states), so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Final

import orjson
from aiohttp import web

from alerts.silences import SilenceState
from collector.models import Feed
from collector.openapi_schemas import (
    INT,
    JSON,
    STR,
    TIME,
    array,
    obj,
    one_of,
    ref,
    schemas,
    typed,
)

OPENAPI_PATH: Final = "/api/v1/openapi.json"
_TAGS: Final = (
    "system",
    "stations",
    "air",
    "lakes",
    "seismic",
    "alerts",
    "cap",
    "silences",
    "push",
)


_ERRORS: Final[Mapping[str, str]] = {
    "400": "invalid request",
    "401": "missing or invalid bearer token",
    "403": "refused: no API token is configured (writes), or an origin not allowed (CORS)",
    "404": "not found (or the feature is disabled)",
    "409": "the alert is resolved",
    "429": "too many requests from this address; see Retry-After",
    "503": "starting (the database or a stage is not ready yet), or a limit was reached",
}


def _content(schema: JSON, media: str = "application/json") -> JSON:
    return {media: {"schema": schema}}


def _op(
    tag: str,
    summary: str,
    ok: JSON,
    errors: str = "",
    *,
    params: Sequence[JSON] = (),
    body: JSON | None = None,
    write: bool = False,
) -> JSON:
    """One operation: `ok` is the success response, `errors` the error statuses it may give."""
    codes = sorted({*errors.split(), *(("400", "401", "403") if write else ())})
    responses = {
        **ok,
        **{c: {"description": _ERRORS[c], "content": _content(ref("Error"))} for c in codes},
    }
    operation: JSON = {"tags": [tag], "summary": summary, "responses": responses}
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _content(body)}
    if write:
        operation["security"] = [{"bearer": []}]
    return operation


def _ok(
    description: str,
    schema: JSON | None = None,
    media: str = "application/json",
    *,
    status: str = "200",
) -> JSON:
    response: JSON = {"description": description}
    if schema is not None:
        response["content"] = _content(schema, media)
    return {status: response}


def _merged(ok: JSON) -> JSON:
    """A list merged over the shards (docs/scaling.md): the header naming absent shards."""
    missing = {
        "description": "Sharded deployments: the shards (indices, comma-separated) that did"
        " not answer; their stations are absent from this partial answer.",
        "schema": {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
    }
    return {
        status: {**r, "headers": {"X-Kuzet-Shards-Missing": missing}} for status, r in ok.items()
    }


def _path(name: str, kind: str = "string") -> JSON:
    return {"name": name, "in": "path", "required": True, "schema": typed(kind)}


def _query(name: str, schema: JSON, description: str) -> JSON:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def paths() -> JSON:
    """Every endpoint of the API."""
    by_id, station = [_path("id", "integer")], [_path("station_id")]
    limit = _query("limit", {**INT, "minimum": 1, "maximum": 1000, "default": 100}, "most items")
    days = _query("days", {**INT, "minimum": 1, "maximum": 366, "default": 7}, "days back")
    alert_state = {**one_of(["firing", "resolved", "all"]), "default": "firing"}
    silence_state = one_of([s.value for s in SilenceState])
    xml = typed("string")
    return {
        "/healthz": {"get": _op("system", "Liveness", _ok("running", ref("Health")))},
        "/readyz": {
            "get": _op(
                "system",
                "Readiness: MQTT connected and the database answering",
                {**_ok("ready", ref("Readiness")), "503": _ok("not", ref("Readiness"))["200"]},
            )
        },
        "/metrics": {"get": _op("system", "Prometheus metrics", _ok("text", STR, "text/plain"))},
        OPENAPI_PATH: {
            "get": _op("system", "This document", _ok("OpenAPI 3.1", obj({}, extra=True)))
        },
        "/api/v1/stations": {
            "get": _op(
                "stations",
                "Stations with kind, position, last reading time and status",
                _merged(_ok("stations", ref("StationList"))),
                "400",
                params=[_query("kind", one_of([f.value for f in Feed]), "only this kind")],
            )
        },
        "/api/v1/air": {
            "get": _op(
                "air",
                "Every air station, plus a city entry",
                _merged(_ok("air", ref("AirAll"))),
                "503",
            )
        },
        "/api/v1/air/{station_id}": {
            "get": _op(
                "air",
                "Means, NowCast and AQI of one air station (null where data is insufficient)",
                _ok("station", ref("AirStation")),
                "404 503",
                params=station,
            )
        },
        "/api/v1/air/{station_id}/daily": {
            "get": _op(
                "air",
                "Local-day (Asia/Almaty) means of one air station",
                _ok("days", ref("AirDaily")),
                "400 404 503",
                params=[*station, days],
            )
        },
        "/api/v1/lakes": {
            "get": _op("lakes", "Every lake station", _merged(_ok("lakes", ref("LakeList"))), "503")
        },
        "/api/v1/lakes/{station_id}": {
            "get": _op(
                "lakes",
                "Level, rise rate and state of one lake station",
                _ok("lake", ref("Lake")),
                "404 503",
                params=station,
            )
        },
        "/api/v1/seismic/events": {
            "get": _op(
                "seismic",
                "Recent associated seismic events, newest first",
                _ok("events", ref("SeismicEventList")),
                "400 503",
                params=[
                    _query("limit", {**INT, "minimum": 1, "maximum": 500, "default": 50}, "most"),
                    _query("since", TIME, "only events detected from then on (with an offset)"),
                ],
            )
        },
        "/api/v1/alerts": {
            "get": _op(
                "alerts",
                "Alerts, newest first",
                _ok("alerts", ref("AlertList")),
                "400 503",
                params=[_query("state", alert_state, "which alerts"), limit],
            )
        },
        "/api/v1/alerts/{id}": {
            "get": _op(
                "alerts",
                "One alert with its notification history",
                _ok("alert", ref("AlertDetail")),
                "400 404 503",
                params=by_id,
            )
        },
        "/api/v1/alerts/{id}/cap": {
            "get": _op(
                "cap",
                "The alert's current CAP 1.2 message (Alert, Update or Cancel)",
                _ok("CAP 1.2", xml, "application/cap+xml"),
                "400 404 503",
                params=by_id,
            )
        },
        "/api/v1/alerts/{id}/ack": {
            "post": _op(
                "alerts",
                "Acknowledge a firing alert (the first acknowledgement is kept)",
                _ok("the alert with acked_at and acked_by", ref("Alert")),
                "404 409 503",
                params=by_id,
                body=ref("AckRequest"),
                write=True,
            )
        },
        "/api/v1/cap/feed": {
            "get": _op(
                "cap",
                "Atom feed of the firing alerts' CAP messages",
                _ok("Atom 1.0", xml, "application/atom+xml"),
                "503",
            )
        },
        "/api/v1/silences": {
            "get": _op(
                "silences",
                "Silences, newest first (Alertmanager API v2 shape)",
                _ok("silences", array(ref("GettableSilence"))),
                "400 503",
                params=[_query("state", silence_state, "only this state"), limit],
            ),
            "post": _op(
                "silences",
                "Create a silence, or replace the one named by id",
                _ok("stored", ref("SilenceCreated")),
                "404 503",
                body=ref("PostableSilence"),
                write=True,
            ),
        },
        "/api/v1/silences/{id}": {
            "get": _op(
                "silences",
                "One silence",
                _ok("silence", ref("GettableSilence")),
                "400 404 503",
                params=by_id,
            ),
            "delete": _op(
                "silences",
                "Expire a silence now (kept for the record)",
                _ok("the expired silence", ref("GettableSilence")),
                "404 503",
                params=by_id,
                write=True,
            ),
        },
        "/api/v1/push/subscriptions": {
            "post": _op(
                "push",
                "Subscribe to Web Push alerts: PushSubscription.toJSON() plus lang (public)",
                _ok("subscribed", ref("PushSaved"), status="201")
                | _ok("updated (the endpoint was known)", ref("PushSaved")),
                "400 404 429 503",
                body=ref("PushSubscription"),
            ),
            "delete": _op(
                "push",
                "Unsubscribe an endpoint",
                _ok("unsubscribed", status="204"),
                "400 404 429 503",
                body=obj({"endpoint": STR}, ["endpoint"]),
            ),
            "options": _op(
                "push",
                "CORS preflight for allowed origins",
                _ok("allowed", status="204"),
                "403 404 503",
            ),
        },
        "/api/v1/push/vapid-public-key": {
            "get": _op(
                "push",
                "The VAPID applicationServerKey for PushManager.subscribe()",
                _ok("key (base64url)", ref("VapidPublicKey")),
                "404 503",
            )
        },
    }


def openapi_document(server_url: str | None = None) -> JSON:
    """The OpenAPI 3.1 document; `server_url` names the server when known."""
    document: JSON = {
        "openapi": "3.1.0",
        "info": {
            "title": "Kuzet API",
            "version": "1",
            "summary": "Air quality, earthquakes and moraine lakes of Almaty, in real time",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": tag} for tag in _TAGS],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "KUZET_API_TOKEN"}
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url.rstrip("/")}]
    return document


@cache
def _document_json() -> bytes:
    return orjson.dumps(openapi_document())


async def get_openapi(_request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json."""
    return web.Response(body=_document_json(), content_type="application/json")


def add_openapi_routes(app: web.Application) -> None:
    """Register GET /api/v1/openapi.json."""
    app.router.add_get(OPENAPI_PATH, get_openapi)
