"""HTTP routes of the lake analytics: level, rise rate and state per station (spec §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from collector.http import CONTEXT, json_error, json_response
from collector.lakestage import LakeStage
from collector.models import Feed
from collector.shardlist import cluster_list, cluster_view
from collector.stations import Station


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def lake_dict(station: Station, stage: LakeStage) -> dict[str, Any]:
    """The API shape of one lake station: the contract's fields first, then the rest."""
    status = stage.status(station.id)
    data: dict[str, Any] = {
        "station_id": station.id,
        "time": status.time if status else None,
        "level_m": _round(status.level_m, 3) if status else None,
        "rise_rate_m_h": _round(status.rise_rate_m_h, 3) if status else None,
        "state": status.state.value if status else "normal",
        "name": station.name,
        "valley": station.area,
        "outburst_hazard": station.outburst_hazard,
        "downstream_of": station.downstream_of,
        "warning_level_m": station.warning_level_m,
        "critical_level_m": station.critical_level_m,
    }
    if status is not None:
        data.update(
            {
                "level_time": status.level_time,
                "drop_10min_m": _round(status.drop_10min_m, 3),
                "discharge_m3s": _round(status.discharge_m3s, 3),
                "discharge_ratio": _round(status.discharge_ratio, 2),
                "precip_mm_h": _round(status.precip_mm_h, 2),
                "conditions": list(status.conditions),
                "level_quality": status.level_quality.value if status.level_quality else None,
                "suspect_counts": dict(status.suspect_counts),
            }
        )
    return data


async def get_lake(request: web.Request) -> web.Response:
    """GET /api/v1/lakes/{station_id}."""
    ctx = request.app[CONTEXT]
    stage: LakeStage = ctx.service("lake")
    station_id = request.match_info["station_id"]
    station = ctx.stations.get(station_id)
    if station is None or station.kind is not Feed.LAKE:
        return json_error(404, f"no lake station {station_id!r}")
    return json_response(lake_dict(station, stage))


async def get_lakes(request: web.Request) -> web.Response:
    """GET /api/v1/lakes: every lake station."""
    ctx = request.app[CONTEXT]
    stage: LakeStage = ctx.service("lake")
    lakes = ctx.stations.of_kind(Feed.LAKE)

    def build(owns: Callable[[str], bool]) -> list[dict[str, Any]]:
        return [lake_dict(s, stage) for s in lakes if owns(s.id)]

    view = cluster_view(request.app[CONTEXT].services)
    listing = await cluster_list(request, view, "lakes", build, [s.id for s in lakes])
    response = json_response({"lakes": listing.items, "count": len(listing.items)})
    response.headers.update(listing.headers)
    return response


def add_lake_routes(app: web.Application) -> None:
    """Register the lake routes (503 until the lake stage runs)."""
    app.router.add_get("/api/v1/lakes", get_lakes)
    app.router.add_get("/api/v1/lakes/{station_id}", get_lake)
