"""Component schemas of the OpenAPI document (collector/openapi.py) and their builders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerts.model import Event, Severity
from alerts.silences import SilenceState
from collector.air import AqiCategory
from collector.lake.evaluate import LakeState
from collector.models import Feed
from collector.tracker import StationStatus

JSON = dict[str, Any]


def ref(name: str) -> JSON:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def typed(kind: str, *, nullable: bool = False, **extra: Any) -> JSON:
    """A schema of one JSON type, or that type or null."""
    return {"type": [kind, "null"] if nullable else kind, **extra}


def obj(props: Mapping[str, JSON], required: Sequence[str] = (), *, extra: bool = False) -> JSON:
    """An object schema; closed (no other properties) unless `extra`."""
    schema: JSON = {"type": "object", "properties": dict(props), "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def one_of(values: Sequence[str], *, nullable: bool = False) -> JSON:
    """An enumeration, optionally with null."""
    return {"enum": [*values, None] if nullable else list(values)}


def array(items: JSON) -> JSON:
    """An array of `items`."""
    return {"type": "array", "items": items}


STR, NUM, INT, BOOL = typed("string"), typed("number"), typed("integer"), typed("boolean")
TIME = typed("string", format="date-time")
NTIME, NNUM = typed("string", nullable=True, format="date-time"), typed("number", nullable=True)
NSTR, NINT = typed("string", nullable=True), typed("integer", nullable=True)
# Text the database can store (no NUL), and not only white space (collector/api_operator.py).
_NO_NUL, _NOT_BLANK = r"^[^\u0000]*$", r"^[^\u0000]*\S[^\u0000]*$"


def _pollutant(*, nowcast: bool) -> JSON:
    props = {
        "mean_1h": NNUM,
        "mean_8h": NNUM,
        "mean_24h": NNUM,
        "aqi": NINT,
        "category": one_of([c.value for c in AqiCategory], nullable=True),
        "limit_multiple": obj({"kz_one_time": NNUM, "kz_daily": NNUM, "who_24h": NNUM}),
    }
    if nowcast:
        props["nowcast"] = NNUM
    return obj(props, ["mean_1h", "mean_24h", "aqi", "category"])


def schemas() -> JSON:
    """The component schemas."""
    station_props = {
        "station_id": STR,
        "kind": one_of([f.value for f in Feed]),
        "name": STR,
        "name_ru": STR,
        "name_kk": STR,
        "lat": NNUM,
        "lon": NNUM,
        "elevation_m": NNUM,
        "district": STR,
        "area": STR,
        "interval_s": NUM,
        "auto_registered": BOOL,
        "last_reading_time": NTIME,
        "last_received_at": NTIME,
        "status": one_of([s.value for s in StationStatus]),
    }
    air = {p: _pollutant(nowcast=p != "no2") for p in ("pm25", "pm10", "no2")}
    daily_value = obj({"mean": NNUM, "n": INT, "completeness": NUM})
    alert_props = {
        "id": INT,
        "key": STR,
        "rule": STR,
        "kind": STR,
        "severity": one_of([s.value for s in Severity]),
        "state": one_of(["firing", "resolved"]),
        "station_id": NSTR,
        "area": STR,
        "value": NNUM,
        "threshold": NNUM,
        "unit": STR,
        "started_at": TIME,
        "resolved_at": NTIME,
        "acked_at": NTIME,
        "acked_by": NSTR,
        "details": obj({}, extra=True),
        "fingerprint": STR,
    }
    notification = obj(
        {
            "id": INT,
            "channel": STR,
            "target": STR,
            "event": one_of([e.value for e in Event]),
            "status": one_of(["pending", "sent", "failed", "dead", "silenced"]),
            "attempts": INT,
            "created_at": TIME,
            "sent_at": NTIME,
            "next_attempt_at": TIME,
            "last_error": NSTR,
        }
    )
    # Length limits and "not blank" as the handlers check them (collector/api_operator.py).
    matcher = obj(
        {
            "name": {**STR, "minLength": 1, "maxLength": 100, "pattern": _NO_NUL},
            "value": {**STR, "maxLength": 1000, "pattern": _NO_NUL},
            "isRegex": BOOL,
            "isEqual": {**BOOL, "default": True},
        },
        ["name", "value", "isRegex"],
    )
    silence_fields = {
        "matchers": {**array(ref("Matcher")), "minItems": 1, "maxItems": 100},
        "startsAt": TIME,
        "endsAt": {**TIME, "description": "after startsAt"},
        "createdBy": {**STR, "minLength": 1, "maxLength": 200, "pattern": _NOT_BLANK},
        "comment": {**STR, "minLength": 1, "maxLength": 2000, "pattern": _NOT_BLANK},
    }
    lake_props = {
        "station_id": STR,
        "time": NTIME,
        "level_m": NNUM,
        "rise_rate_m_h": NNUM,
        "state": one_of([s.value for s in LakeState]),
        "name": STR,
        "valley": STR,
        "outburst_hazard": BOOL,
        "downstream_of": NSTR,
        "warning_level_m": NNUM,
        "critical_level_m": NNUM,
    }
    event_props = {
        "event_id": STR,
        "detected_at": TIME,
        "origin_time": NTIME,
        "lat": NNUM,
        "lon": NNUM,
        "depth_km": NNUM,
        "magnitude": NNUM,
        "intensity_city": NNUM,
        "station_count": INT,
        "details": obj({}, extra=True),
        "updated_at": TIME,
    }
    return {
        "Error": obj({"error": STR}, ["error"]),
        "Health": obj({"status": one_of(["ok"])}, ["status"]),
        "Readiness": obj(
            {"status": one_of(["ready", "not ready"]), "reasons": array(STR)}, ["status"]
        ),
        "Station": obj(station_props, ["station_id", "kind", "status"]),
        "StationList": obj({"stations": array(ref("Station")), "count": INT}),
        "AirStation": obj(
            {"station_id": STR, "name": STR, "district": STR, "time": NTIME, **air},
            ["station_id", "time", "pm25", "no2", "pm10"],
            extra=True,
        ),
        "AirAll": obj(
            {
                "time": TIME,
                "stations": array(ref("AirStation")),
                "city": obj({"station_count": INT, **air}),
                "categories": array(obj({"key": STR, "label": STR, "aqi_low": INT})),
            }
        ),
        "AirDaily": obj(
            {
                "station_id": STR,
                "time_zone": STR,
                "days": array(
                    obj(
                        {"date": typed("string", format="date"), "n": INT}
                        | dict.fromkeys(("pm25", "pm10", "no2"), daily_value)
                    )
                ),
            }
        ),
        "Lake": obj(
            lake_props, ["station_id", "time", "level_m", "rise_rate_m_h", "state"], extra=True
        ),
        "LakeList": obj({"lakes": array(ref("Lake")), "count": INT}),
        "SeismicEvent": obj(event_props, ["event_id", "detected_at"], extra=True),
        "SeismicEventList": obj({"events": array(ref("SeismicEvent")), "count": INT}),
        "Alert": obj(alert_props, list(alert_props)),
        "AlertList": obj({"alerts": array(ref("Alert")), "count": INT}),
        # Not allOf(Alert, …): Alert forbids additional properties, so no detail matched it.
        "AlertDetail": obj(
            {**alert_props, "notifications": array(notification)},
            [*alert_props, "notifications"],
        ),
        "AckRequest": obj(
            {"by": {**STR, "minLength": 1, "maxLength": 200, "pattern": _NOT_BLANK}}, ["by"]
        ),
        "Matcher": matcher,
        "PostableSilence": obj(
            {"id": {**STR, "description": "replace this silence"}, **silence_fields},
            list(silence_fields),
            extra=True,
        ),
        "GettableSilence": obj(
            {
                "id": STR,
                "status": obj({"state": one_of([s.value for s in SilenceState])}, ["state"]),
                "updatedAt": TIME,
                **silence_fields,
            },
            ["id", "status", *silence_fields],
        ),
        "SilenceCreated": obj({"silenceID": STR}, ["silenceID"]),
        "PushSubscription": obj(
            {
                "endpoint": typed("string", format="uri", maxLength=2048),
                "keys": obj({"p256dh": STR, "auth": STR}, ["p256dh", "auth"]),
                "lang": one_of(["kk", "ru", "en"]),
            },
            ["endpoint", "keys"],
            extra=True,
        ),
        "PushSaved": obj(
            {
                "endpoint": STR,
                "lang": one_of(["kk", "ru", "en"]),
                "status": one_of(["created", "updated"]),
            },
            ["endpoint", "lang", "status"],
        ),
        "VapidPublicKey": obj({"publicKey": STR}, ["publicKey"]),
    }
