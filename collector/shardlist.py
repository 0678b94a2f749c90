"""List endpoints over all shards: each shard answers for its stations, the asked one merges."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from collector.shard import Shard, shard_of

logger = logging.getLogger(__name__)

# On a request: answer only for the stations of the shards this process covers (its own,
# plus any it has taken over), without asking the others. Never set by API clients.
PART = "X-Kuzet-Shard-Part"
# On a part's answer: the shard indices it covers, comma-separated.
COVERS = "X-Kuzet-Shard-Covers"
# On a merged answer: the shards nobody answered for (their stations are absent), e.g. "2".
MISSING = "X-Kuzet-Shards-Missing"
# A peer slower than this is left out: a list must answer while a node is failing.
PART_TIMEOUT_S = 3.0
CLUSTER_SERVICE = "cluster"


@dataclass(frozen=True, slots=True)
class Part:
    """One shard's share of a list: the shards it speaks for and their stations' items."""

    covers: frozenset[int]
    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Merged:
    """A whole list: items in the single process's order, and who did not answer."""

    items: list[dict[str, Any]]
    missing: tuple[int, ...]


def merge_parts(parts: Sequence[Part], count: int, order: Sequence[str]) -> Merged:
    """Merge shards' parts in `order` (station ids); stations not in it follow, by id.

    The same station from two parts (an adopter and the returning owner answering at the
    hand-back) is kept once, from the earlier part.
    """
    rank = {station_id: i for i, station_id in enumerate(order)}
    items: dict[str, dict[str, Any]] = {}
    covered: set[int] = set()
    for part in parts:
        covered |= part.covers
        for item in part.items:
            items.setdefault(item["station_id"], item)
    last = len(rank)
    ids = sorted(items, key=lambda station_id: (rank.get(station_id, last), station_id))
    ordered = [items[station_id] for station_id in ids]
    return Merged(ordered, tuple(i for i in range(count) if i not in covered))


def parse_covers(header: str | None, count: int) -> frozenset[int]:
    """The shard indices of a COVERS header; malformed or out-of-range entries are ignored."""
    if not header:
        return frozenset()
    found = (p.strip() for p in header.split(","))
    return frozenset(int(p) for p in found if p.isdigit() and int(p) < count)


@dataclass(slots=True)
class ClusterView:
    """What the list endpoints need to know about the deployment."""

    shard: Shard
    peers: tuple[str, ...]
    # the indices this process has taken over from dead shards (collector.takeover)
    adopted: Callable[[], frozenset[int]] = field(default=frozenset)

    def covers(self) -> frozenset[int]:
        """The shards whose stations this process answers for."""
        return frozenset({self.shard.index}) | self.adopted()

    def serves(self, station_id: str) -> bool:
        """Whether this process handles the station now (its shard's, or an adopted one)."""
        return shard_of(station_id, self.shard.count) in self.covers()

    def owns(self, covers: frozenset[int]) -> Callable[[str], bool]:
        """Whether a station belongs to one of `covers`."""
        return lambda station_id: shard_of(station_id, self.shard.count) in covers


def cluster_view(services: Mapping[str, Any]) -> ClusterView | None:
    """The deployment as the API's late-bound services know it; None when unsharded."""
    view: ClusterView | None = services.get(CLUSTER_SERVICE)
    return view if view is not None and view.shard.sharded else None


Build = Callable[[Callable[[str], bool]], list[dict[str, Any]]]


async def _fetch(
    session: aiohttp.ClientSession, url: str, key: str, view: ClusterView
) -> Part | None:
    try:
        headers = {PART: str(view.shard.index)}
        async with session.get(url, headers=headers) as answer:
            if answer.status != 200:  # noqa: PLR2004 - only a full part counts
                logger.warning("shard list part from %s: HTTP %d", url, answer.status)
                return None
            body = await answer.json()
            covers = parse_covers(answer.headers.get(COVERS), view.shard.count)
            return Part(covers, tuple(body[key]))
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
        logger.warning("shard list part from %s failed: %r", url, exc)
        return None


async def _peer_parts(request: web.Request, key: str, view: ClusterView) -> list[Part]:
    """The other shards' parts, asked concurrently; a failed peer is simply absent."""
    path = request.rel_url.path_qs
    urls = [p.rstrip("/") + path for i, p in enumerate(view.peers) if i != view.shard.index]
    timeout = aiohttp.ClientTimeout(total=PART_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        found = await asyncio.gather(*(_fetch(session, url, key, view) for url in urls))
    return [part for part in found if part is not None]


@dataclass(frozen=True, slots=True)
class Listing:
    """A list to answer with: the items, and the headers saying what is missing."""

    items: list[dict[str, Any]]
    headers: Mapping[str, str]


async def cluster_list(
    request: web.Request,
    view: ClusterView | None,
    key: str,
    build: Build,
    order: Sequence[str],
) -> Listing:
    """The whole deployment's items of a list, or (asked by a peer) this shard's part.

    `build(owns)` makes the items of the stations `owns` accepts from this process's
    memory. Unsharded: all of them. Sharded: the covered shards' stations here, the rest
    from the peers, concurrently; a shard nobody answers for is named in the MISSING
    header (the answer is partial rather than refused: the live shards' stations are still
    current). `key` is where the items are in the answer's JSON.
    """
    if view is None:
        return Listing(build(lambda _station_id: True), {})
    covers = view.covers()
    local = Part(covers, tuple(build(view.owns(covers))))
    if PART in request.headers:
        return Listing(list(local.items), {COVERS: ",".join(str(i) for i in sorted(covers))})
    parts = [local, *(await _peer_parts(request, key, view))] if view.peers else [local]
    merged = merge_parts(parts, view.shard.count, order)
    headers = {}
    if merged.missing:
        missing = ",".join(str(i) for i in merged.missing)
        logger.warning("%s answered without shard(s) %s: unreachable", request.path, missing)
        headers[MISSING] = missing
    return Listing(merged.items, headers)
