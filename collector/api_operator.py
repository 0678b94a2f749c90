"""HTTP routes for operators and the public: CAP messages and feed, acks, silences (spec §7).

Writes need `Authorization: Bearer <KUZET_API_TOKEN>`: a missing or wrong token gets 401,
and every write gets 403 while no token is configured. The token check comes first, so a
write answers 401/403 before anything about the alert or silence is revealed.

Acknowledging keeps the first acknowledgement (a repeat answers 200 with the stored one) and
refuses a resolved alert with 409. Silences follow the Alertmanager API v2 shapes: POST
answers `{"silenceID": "<id>"}` (with `id` in the body it replaces that silence), DELETE
expires the silence and keeps it for the record.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from aiohttp import web
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from alerts.cap import ATOM_CONTENT_TYPE, CAP_CONTENT_TYPE, CapBuilder, CapMessage
from alerts.catalogue import RenderError
from alerts.silences import Matcher, Silence, SilenceCache, SilenceState, matcher_problems
from collector.api_alerts import alert_dict
from collector.http import CONTEXT, Routes, json_error, json_response
from storage import alerts as alert_store
from storage import silences as silence_store

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]
FEED_LIMIT: Final = 500
MAX_LIMIT: Final = 1000
MAX_NAME: Final = 200
# PostgreSQL text and jsonb cannot hold NUL: such input was a 500 (found by schemathesis).
# Also the OpenAPI patterns (collector/openapi.py).
NO_NUL: Final = r"^[^\x00]*$"
NOT_BLANK: Final = r"^[^\x00]*\S[^\x00]*$"


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """What the operator routes need besides the database."""

    api_token: SecretStr | None
    cap: CapBuilder
    # this replica's dispatcher cache, refreshed at once after a silence changes
    silences: SilenceCache | None = None


OPERATOR: web.AppKey[OperatorConfig] = web.AppKey("kuzet_operator", OperatorConfig)


class _Input(BaseModel):
    # Alertmanager clients round-trip whole silences: fields we do not use are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AckIn(_Input):
    """Body of POST /api/v1/alerts/{id}/ack."""

    by: str = Field(min_length=1, max_length=MAX_NAME, pattern=NOT_BLANK)


class MatcherIn(_Input):
    """One matcher (Alertmanager API v2)."""

    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    value: str = Field(max_length=1000, pattern=NO_NUL)
    is_regex: bool = Field(alias="isRegex")
    is_equal: bool = Field(default=True, alias="isEqual")


class SilenceIn(_Input):
    """Body of POST /api/v1/silences (Alertmanager API v2 PostableSilence)."""

    id: str | None = None
    matchers: list[MatcherIn] = Field(min_length=1, max_length=100)
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime = Field(alias="endsAt")
    created_by: str = Field(alias="createdBy", min_length=1, max_length=MAX_NAME, pattern=NOT_BLANK)
    comment: str = Field(min_length=1, max_length=2000, pattern=NOT_BLANK)

    @model_validator(mode="after")
    def _check(self) -> SilenceIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("endsAt must be after startsAt")
        problems = matcher_problems(
            [Matcher(m.name, m.value, m.is_regex, m.is_equal) for m in self.matchers]
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def fields(self) -> silence_store.SilenceFields:
        """The stored fields."""
        return silence_store.SilenceFields(
            matchers=[
                Matcher(m.name, m.value, m.is_regex, m.is_equal).as_dict() for m in self.matchers
            ],
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            created_by=self.created_by.strip(),
            comment=self.comment.strip(),
        )


def _problems(exc: ValidationError) -> str:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        out.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(out)


def _pool(request: web.Request) -> Pool:
    pool: Pool = request.app[CONTEXT].service("pool")
    return pool


def _int_id(request: web.Request, what: str) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{what} id must be an integer") from None


def _refuse(request: web.Request) -> web.Response | None:
    """401/403 unless the request carries the configured bearer token; None when it does."""
    token = request.app[OPERATOR].api_token
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        return json_error(403, "writes are disabled: no API token is configured")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken must not tell how much of a guessed token is right
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        response = json_error(401, "missing or invalid bearer token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="kuzet"'
        return response
    return None


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(reason="body must be JSON") from None


async def get_cap(request: web.Request) -> web.Response:
    """GET /api/v1/alerts/{id}/cap: the alert's current CAP 1.2 message."""
    alert_id = _int_id(request, "alert")
    async with _pool(request).connection() as conn:
        alert = await alert_store.get_alert(conn, alert_id)
        if alert is None:
            return json_error(404, f"no alert {alert_id}")
        steps = await alert_store.escalations(conn, [alert_id])
    message = request.app[OPERATOR].cap.current(alert, steps[alert_id])
    return web.Response(body=message.xml, content_type=CAP_CONTENT_TYPE, charset="utf-8")


async def get_feed(request: web.Request) -> web.Response:
    """GET /api/v1/cap/feed: Atom feed of the firing alerts' CAP messages, newest first."""
    cap = request.app[OPERATOR].cap
    async with _pool(request).connection() as conn:
        alerts = await alert_store.list_alerts(conn, state="firing", limit=FEED_LIMIT)
        steps = await alert_store.escalations(conn, [a.id for a in alerts])
    messages: list[CapMessage] = []
    for alert in alerts:
        try:
            messages.append(cap.current(alert, steps[alert.id]))
        except (RenderError, ValueError) as exc:
            # one alert the templates cannot render must not hide the others
            logger.warning("alert %d left out of the CAP feed: %s", alert.id, exc)
    body = cap.feed(messages, request.app[CONTEXT].clock())
    return web.Response(body=body, content_type=ATOM_CONTENT_TYPE, charset="utf-8")


async def post_ack(request: web.Request) -> web.Response:
    """POST /api/v1/alerts/{id}/ack with `{"by": "<name>"}`."""
    if (refused := _refuse(request)) is not None:
        return refused
    alert_id = _int_id(request, "alert")
    try:
        body = AckIn.model_validate(await _body(request))
    except ValidationError as exc:
        return json_error(400, _problems(exc))
    async with _pool(request).connection() as conn:
        _acked, alert = await alert_store.ack(conn, alert_id, by=body.by.strip())
    if alert is None:
        return json_error(404, f"no alert {alert_id}")
    if alert.state == "resolved":
        return json_error(409, f"alert {alert_id} is resolved")
    return json_response(alert_dict(alert))


def silence_dict(silence: Silence, created_at: datetime, now: datetime) -> dict[str, Any]:
    """The Alertmanager API v2 GettableSilence shape (ids as strings)."""
    return {
        "id": str(silence.id),
        "status": {"state": silence.state(now).value},
        "updatedAt": silence.expired_at or created_at,
        "matchers": [m.as_dict() for m in silence.matchers],
        "startsAt": silence.starts_at,
        "endsAt": silence.ends_at,
        "createdBy": silence.created_by,
        "comment": silence.comment,
    }


def _silence_json(row: silence_store.SilenceRow, now: datetime) -> dict[str, Any]:
    return silence_dict(Silence.from_row(row), row.created_at, now)


async def _changed(request: web.Request) -> None:
    cache = request.app[OPERATOR].silences
    if cache is None:
        return
    try:
        await cache.refresh(_pool(request))
    except psycopg.Error as exc:  # the periodic refresh will catch up
        logger.warning("silence cache not refreshed after a change: %s", exc)


async def list_silences(request: web.Request) -> web.Response:
    """GET /api/v1/silences?state=active|pending|expired&limit=N, newest first."""
    state = request.query.get("state")
    if state is not None and state not in {s.value for s in SilenceState}:
        return json_error(400, "state must be active, pending or expired")
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return json_error(400, "limit must be an integer")
    # Refused, not clamped: the OpenAPI document says 1..1000 (found by schemathesis).
    if not 1 <= limit <= MAX_LIMIT:
        return json_error(400, f"limit must be 1..{MAX_LIMIT}")
    now = request.app[CONTEXT].clock()
    include_expired = state in {None, SilenceState.EXPIRED.value}
    async with _pool(request).connection() as conn:
        rows = await silence_store.list_silences(conn, include_expired=include_expired, limit=limit)
    items = [_silence_json(r, now) for r in rows]
    if state is not None:
        items = [i for i in items if i["status"]["state"] == state]
    return json_response(items)


async def get_silence(request: web.Request) -> web.Response:
    """GET /api/v1/silences/{id}."""
    silence_id = _int_id(request, "silence")
    async with _pool(request).connection() as conn:
        row = await silence_store.get_silence(conn, silence_id)
    if row is None:
        return json_error(404, f"no silence {silence_id}")
    return json_response(_silence_json(row, request.app[CONTEXT].clock()))


async def post_silence(request: web.Request) -> web.Response:
    """POST /api/v1/silences: create a silence, or replace the one named by `id`."""
    if (refused := _refuse(request)) is not None:
        return refused
    try:
        body = SilenceIn.model_validate(await _body(request))
    except ValidationError as exc:
        return json_error(400, _problems(exc))
    if body.ends_at <= request.app[CONTEXT].clock():
        return json_error(400, "endsAt must be in the future")
    async with _pool(request).connection() as conn:
        if body.id is None:
            row = await silence_store.create_silence(conn, body.fields())
        else:
            if not body.id.isdigit():
                return json_error(404, f"no silence {body.id}")
            found = await silence_store.replace_silence(conn, int(body.id), body.fields())
            if found is None:
                return json_error(404, f"no silence {body.id} that has not expired")
            row = found
    await _changed(request)
    return json_response({"silenceID": str(row.id)})


async def delete_silence(request: web.Request) -> web.Response:
    """DELETE /api/v1/silences/{id}: expire it now (deleting an expired one changes nothing)."""
    if (refused := _refuse(request)) is not None:
        return refused
    silence_id = _int_id(request, "silence")
    async with _pool(request).connection() as conn:
        row = await silence_store.expire_silence(conn, silence_id)
    if row is None:
        return json_error(404, f"no silence {silence_id}")
    await _changed(request)
    return json_response(_silence_json(row, request.app[CONTEXT].clock()))


def operator_routes(config: OperatorConfig) -> Routes:
    """The route adder for `build_app`: CAP, feed, acks and silences with `config`."""

    def add_operator_routes(app: web.Application) -> None:
        """Register the routes (503 until the database is ready; writes check the token)."""
        app[OPERATOR] = config
        app.router.add_get("/api/v1/alerts/{id}/cap", get_cap)
        app.router.add_post("/api/v1/alerts/{id}/ack", post_ack)
        app.router.add_get("/api/v1/cap/feed", get_feed)
        app.router.add_get("/api/v1/silences", list_silences)
        app.router.add_post("/api/v1/silences", post_silence)
        app.router.add_get("/api/v1/silences/{id}", get_silence)
        app.router.add_delete("/api/v1/silences/{id}", delete_silence)

    return add_operator_routes
