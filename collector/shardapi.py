"""Per-station API requests for another shard's station, answered by that shard."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from collector.http import Handler, Routes
from collector.shard import Shard, shard_of

logger = logging.getLogger(__name__)

# The endpoints served from a shard's memory (windows, trends) for one station.
PER_STATION = re.compile(r"^/api/v1/(?:air|lakes)/(?P<station>[^/]+)(?:/daily)?$")
# Set on forwarded requests: the owner answers them itself, so a bad peer list cannot loop.
FORWARDED = "X-Kuzet-Shard-Forwarded"
FORWARD_TIMEOUT_S = 5.0
# The owner's answer is relayed with these headers only.
_RELAYED = ("Content-Type", "Cache-Control")


def owner_url(shard: Shard, peers: Sequence[str], path: str) -> str | None:
    """The owner's URL for a per-station GET, None when this shard answers it itself."""
    match = PER_STATION.match(path)
    if match is None or not peers or shard.owns(match["station"]):
        return None
    return peers[shard_of(match["station"], shard.count)].rstrip("/") + path


def forwarding(shard: Shard, peers: Sequence[str]) -> Routes:
    """A route adder installing the forwarding middleware (nothing when there are no peers)."""

    def add(app: web.Application) -> None:
        if not shard.sharded or not peers:
            return

        @web.middleware
        async def forward(request: web.Request, handler: Handler) -> web.StreamResponse:
            url = None
            if request.method == "GET" and FORWARDED not in request.headers:
                url = owner_url(shard, peers, request.path)
            if url is None:
                return await handler(request)
            if request.query_string:
                url += f"?{request.query_string}"
            timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
            try:
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.get(url, headers={FORWARDED: str(shard.index)}) as answer,
                ):
                    body = await answer.read()
                    headers = {k: answer.headers[k] for k in _RELAYED if k in answer.headers}
                    return web.Response(body=body, status=answer.status, headers=headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("shard API forward to %s failed: %r", url, exc)
                return web.json_response(
                    {"error": "the shard that owns this station is unreachable"}, status=502
                )

        app.middlewares.append(forward)

    return add
