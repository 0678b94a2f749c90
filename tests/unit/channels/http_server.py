"""A local HTTP server standing in for Telegram, ntfy, Alertmanager and push services."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict


@dataclass(slots=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Request:
    """One recorded request."""

    method: str
    path: str
    # case-insensitive, as HTTP header names are
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(slots=True)
class Server:
    """Recorded requests; replies are consumed in order, then `default` answers."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    # per-path answer, when set (the push service answers per subscription)
    by_path: Callable[[str], Reply | None] = lambda _path: None


@contextlib.asynccontextmanager
async def http_server() -> AsyncIterator[Server]:
    """Serve any method and path on 127.0.0.1 and a free port."""
    server = Server()

    async def handle(request: web.Request) -> web.Response:
        server.requests.append(
            Request(
                request.method, request.path, CIMultiDict(request.headers), await request.read()
            )
        )
        reply = server.by_path(request.path) or (
            server.replies.pop(0) if server.replies else server.default
        )
        body = reply.body
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        return web.Response(
            status=reply.status,
            body=data,
            headers={"Content-Type": "application/json", **reply.headers},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
