"""The OpenAPI 3.1 description of the HTTP API (spec §7), built in code from typed pieces.

A static document rather than one generated from the handlers: aiohttp routes carry no
schemas, and the contract should change only on purpose. A test checks that every route
the application registers is described here. Enumerations are taken from the code (station
status, lake state, AQI category, severities, silence states), so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Final

import orjson
from aiohttp import web

from alerts.model import Event, Severity
from alerts.silences import SilenceState
from collector.air import AqiCategory
from collector.lake.evaluate import LakeState
from collector.models import Feed
from collector.tracker import StationStatus

JSON = dict[str, Any]
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


def ref(name: str) -> JSON:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _t(kind: str, *, nullable: bool = False, **extra: Any) -> JSON:
    return {"type": [kind, "null"] if nullable else kind, **extra}


def _obj(props: Mapping[str, JSON], required: Sequence[str] = (), *, extra: bool = False) -> JSON:
    schema: JSON = {"type": "object", "properties": dict(props), "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def _enum(values: Sequence[str], *, nullable: bool = False) -> JSON:
    return {"enum": [*values, None] if nullable else list(values)}


def _array(items: JSON) -> JSON:
    return {"type": "array", "items": items}


_STR, _NUM, _INT, _BOOL = _t("string"), _t("number"), _t("integer"), _t("boolean")
_TIME = _t("string", format="date-time")
_NTIME, _NNUM = _t("string", nullable=True, format="date-time"), _t("number", nullable=True)
_NSTR, _NINT = _t("string", nullable=True), _t("integer", nullable=True)
# Text the database can store (no NUL), and not only white space (collector/api_operator.py).
_NO_NUL, _NOT_BLANK = r"^[^\u0000]*$", r"^[^\u0000]*\S[^\u0000]*$"


def _pollutant(*, nowcast: bool) -> JSON:
    props = {
        "mean_1h": _NNUM,
        "mean_8h": _NNUM,
        "mean_24h": _NNUM,
        "aqi": _NINT,
        "category": _enum([c.value for c in AqiCategory], nullable=True),
        "limit_multiple": _obj({"kz_one_time": _NNUM, "kz_daily": _NNUM, "who_24h": _NNUM}),
    }
    if nowcast:
        props["nowcast"] = _NNUM
    return _obj(props, ["mean_1h", "mean_24h", "aqi", "category"])


def schemas() -> JSON:
    """The component schemas."""
    station_props = {
        "station_id": _STR,
        "kind": _enum([f.value for f in Feed]),
        "name": _STR,
        "name_ru": _STR,
        "name_kk": _STR,
        "lat": _NNUM,
        "lon": _NNUM,
        "elevation_m": _NNUM,
        "district": _STR,
        "area": _STR,
        "interval_s": _NUM,
        "auto_registered": _BOOL,
        "last_reading_time": _NTIME,
        "last_received_at": _NTIME,
        "status": _enum([s.value for s in StationStatus]),
    }
    air = {p: _pollutant(nowcast=p != "no2") for p in ("pm25", "pm10", "no2")}
    daily_value = _obj({"mean": _NNUM, "n": _INT, "completeness": _NUM})
    alert_props = {
        "id": _INT,
        "key": _STR,
        "rule": _STR,
        "kind": _STR,
        "severity": _enum([s.value for s in Severity]),
        "state": _enum(["firing", "resolved"]),
        "station_id": _NSTR,
        "area": _STR,
        "value": _NNUM,
        "threshold": _NNUM,
        "unit": _STR,
        "started_at": _TIME,
        "resolved_at": _NTIME,
        "acked_at": _NTIME,
        "acked_by": _NSTR,
        "details": _obj({}, extra=True),
        "fingerprint": _STR,
    }
    notification = _obj(
        {
            "id": _INT,
            "channel": _STR,
            "target": _STR,
            "event": _enum([e.value for e in Event]),
            "status": _enum(["pending", "sent", "failed", "dead", "silenced"]),
            "attempts": _INT,
            "created_at": _TIME,
            "sent_at": _NTIME,
            "next_attempt_at": _TIME,
            "last_error": _NSTR,
        }
    )
    # Length limits and "not blank" as the handlers check them (collector/api_operator.py).
    matcher = _obj(
        {
            "name": {**_STR, "minLength": 1, "maxLength": 100, "pattern": _NO_NUL},
            "value": {**_STR, "maxLength": 1000, "pattern": _NO_NUL},
            "isRegex": _BOOL,
            "isEqual": {**_BOOL, "default": True},
        },
        ["name", "value", "isRegex"],
    )
    silence_fields = {
        "matchers": {**_array(ref("Matcher")), "minItems": 1, "maxItems": 100},
        "startsAt": _TIME,
        "endsAt": {**_TIME, "description": "after startsAt"},
        "createdBy": {**_STR, "minLength": 1, "maxLength": 200, "pattern": _NOT_BLANK},
        "comment": {**_STR, "minLength": 1, "maxLength": 2000, "pattern": _NOT_BLANK},
    }
    lake_props = {
        "station_id": _STR,
        "time": _NTIME,
        "level_m": _NNUM,
        "rise_rate_m_h": _NNUM,
        "state": _enum([s.value for s in LakeState]),
        "name": _STR,
        "valley": _STR,
        "outburst_hazard": _BOOL,
        "downstream_of": _NSTR,
        "warning_level_m": _NNUM,
        "critical_level_m": _NNUM,
    }
    event_props = {
        "event_id": _STR,
        "detected_at": _TIME,
        "origin_time": _NTIME,
        "lat": _NNUM,
        "lon": _NNUM,
        "depth_km": _NNUM,
        "magnitude": _NNUM,
        "intensity_city": _NNUM,
        "station_count": _INT,
        "details": _obj({}, extra=True),
        "updated_at": _TIME,
    }
    return {
        "Error": _obj({"error": _STR}, ["error"]),
        "Health": _obj({"status": _enum(["ok"])}, ["status"]),
        "Readiness": _obj(
            {"status": _enum(["ready", "not ready"]), "reasons": _array(_STR)}, ["status"]
        ),
        "Station": _obj(station_props, ["station_id", "kind", "status"]),
        "StationList": _obj({"stations": _array(ref("Station")), "count": _INT}),
        "AirStation": _obj(
            {"station_id": _STR, "name": _STR, "district": _STR, "time": _NTIME, **air},
            ["station_id", "time", "pm25", "no2", "pm10"],
            extra=True,
        ),
        "AirAll": _obj(
            {
                "time": _TIME,
                "stations": _array(ref("AirStation")),
                "city": _obj({"station_count": _INT, **air}),
                "categories": _array(_obj({"key": _STR, "label": _STR, "aqi_low": _INT})),
            }
        ),
        "AirDaily": _obj(
            {
                "station_id": _STR,
                "time_zone": _STR,
                "days": _array(
                    _obj(
                        {"date": _t("string", format="date"), "n": _INT}
                        | dict.fromkeys(("pm25", "pm10", "no2"), daily_value)
                    )
                ),
            }
        ),
        "Lake": _obj(
            lake_props, ["station_id", "time", "level_m", "rise_rate_m_h", "state"], extra=True
        ),
        "LakeList": _obj({"lakes": _array(ref("Lake")), "count": _INT}),
        "SeismicEvent": _obj(event_props, ["event_id", "detected_at"], extra=True),
        "SeismicEventList": _obj({"events": _array(ref("SeismicEvent")), "count": _INT}),
        "Alert": _obj(alert_props, list(alert_props)),
        "AlertList": _obj({"alerts": _array(ref("Alert")), "count": _INT}),
        # Not allOf(Alert, …): Alert forbids additional properties, so no detail matched it.
        "AlertDetail": _obj(
            {**alert_props, "notifications": _array(notification)},
            [*alert_props, "notifications"],
        ),
        "AckRequest": _obj(
            {"by": {**_STR, "minLength": 1, "maxLength": 200, "pattern": _NOT_BLANK}}, ["by"]
        ),
        "Matcher": matcher,
        "PostableSilence": _obj(
            {"id": {**_STR, "description": "replace this silence"}, **silence_fields},
            list(silence_fields),
            extra=True,
        ),
        "GettableSilence": _obj(
            {
                "id": _STR,
                "status": _obj({"state": _enum([s.value for s in SilenceState])}, ["state"]),
                "updatedAt": _TIME,
                **silence_fields,
            },
            ["id", "status", *silence_fields],
        ),
        "SilenceCreated": _obj({"silenceID": _STR}, ["silenceID"]),
        "PushSubscription": _obj(
            {
                "endpoint": _t("string", format="uri", maxLength=2048),
                "keys": _obj({"p256dh": _STR, "auth": _STR}, ["p256dh", "auth"]),
                "lang": _enum(["kk", "ru", "en"]),
            },
            ["endpoint", "keys"],
            extra=True,
        ),
        "PushSaved": _obj(
            {
                "endpoint": _STR,
                "lang": _enum(["kk", "ru", "en"]),
                "status": _enum(["created", "updated"]),
            },
            ["endpoint", "lang", "status"],
        ),
        "VapidPublicKey": _obj({"publicKey": _STR}, ["publicKey"]),
    }


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
    return {"name": name, "in": "path", "required": True, "schema": _t(kind)}


def _query(name: str, schema: JSON, description: str) -> JSON:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def paths() -> JSON:
    """Every endpoint of the API."""
    by_id, station = [_path("id", "integer")], [_path("station_id")]
    limit = _query("limit", {**_INT, "minimum": 1, "maximum": 1000, "default": 100}, "most items")
    days = _query("days", {**_INT, "minimum": 1, "maximum": 366, "default": 7}, "days back")
    alert_state = {**_enum(["firing", "resolved", "all"]), "default": "firing"}
    silence_state = _enum([s.value for s in SilenceState])
    xml = _t("string")
    return {
        "/healthz": {"get": _op("system", "Liveness", _ok("running", ref("Health")))},
        "/readyz": {
            "get": _op(
                "system",
                "Readiness: MQTT connected and the database answering",
                {**_ok("ready", ref("Readiness")), "503": _ok("not", ref("Readiness"))["200"]},
            )
        },
        "/metrics": {"get": _op("system", "Prometheus metrics", _ok("text", _STR, "text/plain"))},
        OPENAPI_PATH: {
            "get": _op("system", "This document", _ok("OpenAPI 3.1", _obj({}, extra=True)))
        },
        "/api/v1/stations": {
            "get": _op(
                "stations",
                "Stations with kind, position, last reading time and status",
                _merged(_ok("stations", ref("StationList"))),
                "400",
                params=[_query("kind", _enum([f.value for f in Feed]), "only this kind")],
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
                    _query("limit", {**_INT, "minimum": 1, "maximum": 500, "default": 50}, "most"),
                    _query("since", _TIME, "only events detected from then on (with an offset)"),
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
                _ok("silences", _array(ref("GettableSilence"))),
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
                body=_obj({"endpoint": _STR}, ["endpoint"]),
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
