"""Per-station API requests for another shard's station, answered by that shard."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

import aiohttp
from aiohttp import web

from collector.http import Handler, Routes
from collector.shard import Shard, shard_of

logger = logging.getLogger(__name__)

# The endpoints served from a shard's memory (windows, trends) for one station.
PER_STATION = re.compile(r"^/api/v1/(?:air|lakes)/(?P<station>[^/]+)(?:/daily)?$")
# Set on forwarded requests: the owner answers them itself, so a bad peer list cannot loop.
FORWARDED = "X-Kuzet-Shard-Forwarded"
# Set when the owner was unreachable: answer only for a station handled here (adopted), else 421.
FALLBACK = "X-Kuzet-Shard-Fallback"
FORWARD_TIMEOUT_S = 5.0
# The owner's answer is relayed with these headers only.
_RELAYED = ("Content-Type", "Cache-Control")


def owner_url(
    shard: Shard,
    peers: Sequence[str],
    path: str,
    serves: Callable[[str], bool] | None = None,
) -> str | None:
    """The owner's URL for a per-station GET, None when this shard answers it itself.

    `serves` (default: `shard.owns`) says whether this process handles a station now: its
    own, or one of a shard it has taken over (collector.takeover).
    """
    match = PER_STATION.match(path)
    here = serves or shard.owns
    if match is None or not peers or here(match["station"]):
        return None
    return peers[shard_of(match["station"], shard.count)].rstrip("/") + path


def fallback_urls(shard: Shard, peers: Sequence[str], path: str) -> list[str]:
    """Where to ask when the owner of a per-station GET is unreachable: the other peers.

    One of them may have taken the owner's index over (collector.takeover); asked with
    FALLBACK, a peer answers only for a station it handles, else 421.
    """
    match = PER_STATION.match(path)
    if match is None:
        return []
    owner = shard_of(match["station"], shard.count)
    return [p.rstrip("/") + path for i, p in enumerate(peers) if i not in {owner, shard.index}]


async def _relay(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> web.Response:
    async with session.get(url, headers=headers) as answer:
        body = await answer.read()
        kept = {k: answer.headers[k] for k in _RELAYED if k in answer.headers}
        return web.Response(body=body, status=answer.status, headers=kept)


def forwarding(
    shard: Shard, peers: Sequence[str], serves: Callable[[str], bool] | None = None
) -> Routes:
    """A route adder installing the forwarding middleware (nothing when there are no peers)."""
    here = serves or shard.owns

    def add(app: web.Application) -> None:
        if not shard.sharded or not peers:
            return

        @web.middleware
        async def forward(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method == "GET" and FALLBACK in request.headers:
                match = PER_STATION.match(request.path)
                if match is not None and not here(match["station"]):
                    return web.json_response({"error": "station not handled here"}, status=421)
                return await handler(request)
            url = None
            if request.method == "GET" and FORWARDED not in request.headers:
                url = owner_url(shard, peers, request.path, serves)
            if url is None:
                return await handler(request)
            query = f"?{request.query_string}" if request.query_string else ""
            timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
            marker = {FORWARDED: str(shard.index)}
            async with aiohttp.ClientSession(timeout=timeout) as session:
                try:
                    return await _relay(session, url + query, marker)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    logger.warning("shard API forward to %s failed: %r", url, exc)
                # the owner is down: a shard that adopted its index answers instead
                for other in fallback_urls(shard, peers, request.path):
                    try:
                        answer = await _relay(session, other + query, {**marker, FALLBACK: "1"})
                    except (aiohttp.ClientError, TimeoutError):
                        continue
                    if answer.status != 421:  # noqa: PLR2004 - "not handled here"
                        return answer
            return web.json_response(
                {"error": "the shard that owns this station is unreachable"}, status=502
            )

        app.middlewares.append(forward)

    return add
