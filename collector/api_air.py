"""HTTP routes of the air analytics: per-station and city means, NowCast, AQI (spec §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from collector.air import (
    AqiCategory,
    Authority,
    AveragingPeriod,
    Pollutant,
    aqi,
    limit_multiple,
    required_readings,
)
from collector.airstage import AirStage, PollutantView, pollutant_view
from collector.http import CONTEXT, json_error, json_response
from collector.models import Feed
from collector.shardlist import cluster_list, cluster_view
from collector.stations import Stations
from storage.airstats import DEFAULT_TZ, daily_means

POLLUTANTS = (Pollutant.PM25, Pollutant.PM10, Pollutant.NO2)


@dataclass(frozen=True, slots=True)
class AirApi:
    """Dependencies of the air routes."""

    stage: AirStage
    stations: Stations
    clock: Callable[[], datetime]


def _api(request: web.Request) -> AirApi:
    ctx = request.app[CONTEXT]
    stage: AirStage = ctx.service("air")
    return AirApi(stage, ctx.stations, ctx.clock)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _limits(pollutant: Pollutant, view: PollutantView) -> dict[str, float | None]:
    """Multiples of the Kazakhstan ПДК (1 h vs one-time, 24 h vs daily) and WHO 2021 (24 h)."""
    one_time = (
        limit_multiple(view.mean_1h, pollutant, AveragingPeriod.ONE_TIME, Authority.KZ)
        if view.mean_1h is not None
        else None
    )
    daily = (
        limit_multiple(view.mean_24h, pollutant, AveragingPeriod.DAY, Authority.KZ)
        if view.mean_24h is not None
        else None
    )
    who = (
        limit_multiple(view.mean_24h, pollutant, AveragingPeriod.DAY, Authority.WHO)
        if view.mean_24h is not None
        else None
    )
    return {
        "kz_one_time": _round(one_time, 2),
        "kz_daily": _round(daily, 2),
        "who_24h": _round(who, 2),
    }


def _view_dict(pollutant: Pollutant, view: PollutantView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mean_1h": _round(view.mean_1h),
        "mean_8h": _round(view.mean_8h),
        "mean_24h": _round(view.mean_24h),
    }
    if pollutant is not Pollutant.NO2:
        data["nowcast"] = view.nowcast
    data["aqi"] = view.aqi
    data["category"] = view.category.value if view.category else None
    data["limit_multiple"] = _limits(pollutant, view)
    return data


def station_air(api: AirApi, station_id: str, now: datetime) -> dict[str, Any] | None:
    """The air summary of one station, or None when it has no data."""
    windows = api.stage.windows(station_id)
    if windows is None or windows.newest is None:
        return None
    station = api.stations.get(station_id)
    result: dict[str, Any] = {
        "station_id": station_id,
        "name": station.name if station else "",
        "district": station.district if station else "",
        "time": windows.newest,
    }
    for pollutant in POLLUTANTS:
        result[pollutant.value] = _view_dict(pollutant, pollutant_view(windows, pollutant, now))
    return result


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def city_air(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """City entry: each value the mean over stations that have it; AQI from the mean NowCast."""
    city: dict[str, Any] = {"station_count": len(entries)}
    for pollutant in POLLUTANTS:
        key = pollutant.value
        data: dict[str, Any] = {
            name: _round(_mean([e[key][name] for e in entries]))
            for name in ("mean_1h", "mean_8h", "mean_24h")
        }
        if pollutant is not Pollutant.NO2:
            conc = _mean([e[key]["nowcast"] for e in entries])
            data["nowcast"] = _round(conc)
            result = aqi(pollutant, conc) if conc is not None else None
            data["aqi"] = result.aqi if result else None
            data["category"] = result.category.value if result else None
        else:
            data["aqi"] = None
            data["category"] = None
        city[key] = data
    return city


async def get_station(request: web.Request) -> web.Response:
    """GET /api/v1/air/{station_id}."""
    api = _api(request)
    station_id = request.match_info["station_id"]
    station = api.stations.get(station_id)
    if station is None or station.kind is not Feed.AIR:
        return json_error(404, f"no air station {station_id!r}")
    data = station_air(api, station_id, api.clock())
    if data is None:
        empty = {"mean_1h": None, "mean_8h": None, "mean_24h": None, "aqi": None, "category": None}
        data = {"station_id": station_id, "time": None}
        data.update({p.value: dict(empty) for p in POLLUTANTS})
    return json_response(data)


async def get_all(request: web.Request) -> web.Response:
    """GET /api/v1/air: every air station, plus a `city` entry."""
    api = _api(request)
    now = api.clock()
    air = api.stations.of_kind(Feed.AIR)

    def build(owns: Callable[[str], bool]) -> list[dict[str, Any]]:
        return [
            data
            for station in air
            if owns(station.id) and (data := station_air(api, station.id, now)) is not None
        ]

    # Sharded: every shard's own stations (the others' windows here are as of the start);
    # the city entry is then computed from the merged stations, as one process does.
    view = cluster_view(request.app[CONTEXT].services)
    listing = await cluster_list(request, view, "stations", build, [s.id for s in air])
    entries = listing.items
    response = json_response(
        {"time": now, "stations": entries, "city": city_air(entries), "categories": _categories()}
    )
    response.headers.update(listing.headers)
    return response


def _categories() -> list[dict[str, Any]]:
    return [{"key": c.value, "label": c.label, "aqi_low": c.aqi_low} for c in AqiCategory]


MAX_DAYS = 366


async def get_daily(request: web.Request) -> web.Response:
    """GET /api/v1/air/{station_id}/daily?days=N: local-day (Asia/Almaty) means.

    A day's mean is null unless it has ≥ 75 % of the readings `interval_s` implies.
    """
    ctx = request.app[CONTEXT]
    station = ctx.stations.get(request.match_info["station_id"])
    if station is None or station.kind is not Feed.AIR:
        return json_error(404, f"no air station {request.match_info['station_id']!r}")
    try:
        days = int(request.query.get("days", "7"))
    except ValueError:
        return json_error(400, "days must be an integer")
    if not 1 <= days <= MAX_DAYS:
        return json_error(400, f"days must be between 1 and {MAX_DAYS}")
    today = ctx.clock().astimezone(ZoneInfo(DEFAULT_TZ)).date()
    start = today - timedelta(days=days - 1)
    async with ctx.service("pool").connection() as conn:
        rows = await daily_means(conn, station.id, start, today + timedelta(days=1))
    need = required_readings(timedelta(days=1), station.interval_s)
    items = []
    for row in rows:
        item: dict[str, Any] = {"date": row.day.isoformat(), "n": row.n}
        for pollutant in POLLUTANTS:
            mean = row.of(pollutant)
            complete = mean.n >= need
            item[pollutant.value] = {
                "mean": _round(mean.value) if complete else None,
                "n": mean.n,
                "completeness": round(mean.n / (need / 0.75), 3),
            }
        items.append(item)
    return json_response({"station_id": station.id, "time_zone": DEFAULT_TZ, "days": items})


def add_air_routes(app: web.Application) -> None:
    """Register the air routes (they answer 503 until the air stage runs)."""
    app.router.add_get("/api/v1/air", get_all)
    app.router.add_get("/api/v1/air/{station_id}", get_station)
    app.router.add_get("/api/v1/air/{station_id}/daily", get_daily)
