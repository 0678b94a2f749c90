"""Air analytics stage: per-station event-time windows → means, NowCast/AQI → alert rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.config import AlertSettings
from alerts.model import Observation, RuleSpec, Threshold, alert_key
from collector.air import (
    AIR_METRICS,
    AqiCategory,
    Pollutant,
    StationWindows,
    aqi,
    aqi_from_ugm3,
    nowcast,
)
from collector.models import AirReading, Feed
from collector.stage import ObservationSink, ReadingStage
from collector.stations import Station, Stations

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
WINDOWS = {"mean_1h": HOUR, "mean_8h": timedelta(hours=8), "mean_24h": timedelta(hours=24)}
# Rule → (metric, window) for the rolling-mean rules of spec §6.
MEAN_RULES: Mapping[str, tuple[str, timedelta]] = {
    "pm25_24h": ("pm25", timedelta(hours=24)),
    "pm25_1h": ("pm25", HOUR),
    "no2_1h": ("no2", HOUR),
    "no2_24h": ("no2", timedelta(hours=24)),
}
CITY_AREA = "Almaty"


@dataclass(frozen=True, slots=True)
class PollutantView:
    """What the API reports for one pollutant of one station."""

    mean_1h: float | None
    mean_8h: float | None
    mean_24h: float | None
    nowcast: float | None
    aqi: int | None
    category: AqiCategory | None


def nowcast_aqi(
    windows: StationWindows, pollutant: Pollutant, end: datetime
) -> tuple[float | None, int | None, AqiCategory | None]:
    """NowCast over the 12 clock hours ending with the one containing `end`, and its AQI."""
    try:
        hourly = windows.hourly_means(pollutant.value, end)
    except ValueError:
        return None, None, None
    value = nowcast(hourly, pollutant)
    if value is None:
        return None, None, None
    result = aqi(pollutant, value)
    return value, result.aqi, result.category


def pollutant_view(windows: StationWindows, pollutant: Pollutant, now: datetime) -> PollutantView:
    """Rolling means at the newest reading; NowCast/AQI at `now` (spec §6: API wall clock)."""
    means = {name: windows.mean(pollutant.value, width) for name, width in WINDOWS.items()}
    if pollutant is Pollutant.NO2:
        # NO2's AQI is defined on 1-hour means (ppb), not on a NowCast.
        mean = means["mean_1h"]
        result = aqi_from_ugm3(Pollutant.NO2, mean) if mean is not None else None
        return PollutantView(
            **means,
            nowcast=None,
            aqi=result.aqi if result else None,
            category=result.category if result else None,
        )
    value, index, category = nowcast_aqi(windows, pollutant, now)
    return PollutantView(**means, nowcast=value, aqi=index, category=category)


class AirStage(ReadingStage[AirReading]):
    """Keeps the windows of every air station and turns each reading into rule observations.

    Cost per reading is bounded by the window length (StationWindows), never by history.
    """

    reading_type = AirReading

    def __init__(
        self,
        stations: Stations,
        alerts: AlertSettings,
        sink: ObservationSink,
        *,
        queue_size: int = 10_000,
    ) -> None:
        super().__init__(sink, queue_size=queue_size)
        self._stations = stations
        self._alerts = alerts
        self._windows: dict[str, StationWindows] = {}
        # rule → station → whether its latest value crosses the rule's lowest threshold
        self._exceeding: dict[str, dict[str, bool]] = {}
        # rule → how many of those flags are set, kept as flags change: a city rule then
        # costs O(1) per reading instead of a sum over every air station.
        self._exceeding_count: dict[str, int] = {}
        # The city rules (base rule name, its spec, the city-wide spec), built once (the
        # settings are frozen), and each station's rules (`_rules_for`).
        self._city_rules: list[tuple[str, RuleSpec, RuleSpec]] | None = None
        self._station_rules: dict[str, tuple[tuple[str, RuleSpec, str, float], ...]] = {}
        # SCALE: the other shards' flags (shard → rule → station → crosses), and whether
        # this replica evaluates the city-wide rules (the leader; always when unsharded).
        self._remote: dict[int, Mapping[str, Mapping[str, bool]]] = {}
        self._leads_city: Callable[[], bool] = lambda: True
        self._newest: datetime | None = None
        # stations handed back to their shard whose flags this replica still reports
        self._handed: set[str] = set()

    def lead_city(self, leads: Callable[[], bool]) -> None:
        """Evaluate the city-wide rules only while `leads()` (one replica of several)."""
        self._leads_city = leads

    def flags(self) -> tuple[dict[str, dict[str, bool]], datetime | None]:
        """This replica's stations' flags, and the newest reading time behind them."""
        return {rule: dict(by) for rule, by in self._exceeding.items()}, self._newest

    def remote_flags(
        self, shard: int, flags: Mapping[str, Mapping[str, bool]], at: datetime
    ) -> list[Observation]:
        """Take another shard's flags; the city-wide observations if this replica leads.

        A station in them is this shard's now (it adopted the station's index, or got it
        back): an older report of it by another shard, or by this replica after a
        hand-back, no longer counts.
        """
        fresh = {station_id for by in flags.values() for station_id in by}
        for other, old in list(self._remote.items()):
            if other != shard and any(sid in fresh for by in old.values() for sid in by):
                self._remote[other] = {
                    rule: {sid: v for sid, v in by.items() if sid not in fresh}
                    for rule, by in old.items()
                }
        if self._handed & fresh:
            self._drop_flags(self._handed & fresh)
            self._handed -= fresh
        self._remote[shard] = flags
        return self._city_observations(at, None) if self._leads_city() else []

    def forget(self, station_ids: set[str]) -> None:
        """Drop the state of stations about to be rebuilt (an adopted shard's)."""
        for station_id in station_ids:
            self._windows.pop(station_id, None)
        self._drop_flags(station_ids)
        self._handed -= station_ids

    def hand_back(self, station_ids: set[str]) -> None:
        """Stop evaluating stations another replica evaluates from now on.

        Their flags are still reported until that replica reports them itself (its first
        report may come a few seconds later): the city-wide count never misses them.
        """
        for station_id in station_ids:
            self._windows.pop(station_id, None)
        self._handed |= station_ids

    def _drop_flags(self, station_ids: set[str]) -> None:
        for rule, flags in self._exceeding.items():
            for station_id in station_ids:
                if flags.pop(station_id, False):
                    self._exceeding_count[rule] -= 1

    def windows(self, station_id: str) -> StationWindows | None:
        """The windows of a station (None before its first reading)."""
        return self._windows.get(station_id)

    def station_ids(self) -> list[str]:
        """Air stations with data."""
        return list(self._windows)

    def _windows_for(self, station: Station) -> StationWindows:
        windows = self._windows.get(station.id)
        if windows is None:
            windows = StationWindows(interval_s=station.interval_s, metrics=AIR_METRICS)
            self._windows[station.id] = windows
        return windows

    def add(self, reading: AirReading) -> Station | None:
        """Add a reading to its station's windows."""
        station = self._stations.get(reading.station_id)
        if station is None or station.kind is not Feed.AIR:
            return None
        self._windows_for(station).add(reading.time, _values(reading))
        return station

    def add_all(self, readings: Sequence[AirReading]) -> dict[str, Station]:
        """Store a message's readings, each station's run of them in one `add_many`."""
        if len(readings) == 1:
            station = self.add(readings[0])
            return {station.id: station} if station is not None else {}
        touched: dict[str, Station] = {}
        start = 0
        while start < len(readings):
            # A message holds one station's readings; runs keep the order if it ever doesn't.
            station_id = readings[start].station_id
            end = start + 1
            while end < len(readings) and readings[end].station_id == station_id:
                end += 1
            run = readings[start:end]
            start = end
            station = self._stations.get(station_id)
            if station is None or station.kind is not Feed.AIR:
                continue
            self._windows_for(station).add_many(
                [r.time for r in run],
                {
                    "pm25": [r.pm25 for r in run],
                    "pm10": [r.pm10 for r in run],
                    "no2": [r.no2 for r in run],
                },
            )
            touched[station.id] = station
        return touched

    def observations(self, station: Station, received_at: datetime | None) -> list[Observation]:
        """The rule inputs of one station at its newest reading (pure given the windows)."""
        windows = self._windows[station.id]
        at = windows.newest
        if at is None:
            return []
        values: dict[str, float | None] = {
            rule: windows.mean(metric, width) for rule, (metric, width) in MEAN_RULES.items()
        }
        _, index, category = nowcast_aqi(windows, Pollutant.PM25, at)
        values["aqi"] = float(index) if index is not None else None
        result: list[Observation] = []
        self._newest = at if self._newest is None else max(self._newest, at)
        for rule_name, rule, key, lowest in self._rules_for(station.id):
            value = values[rule_name]
            details: dict[str, Any] = {}
            if rule_name == "aqi" and category is not None:
                details["category"] = category.value
            result.append(
                Observation(
                    rule=rule,
                    key=key,
                    value=value,
                    at=at,
                    station_id=station.id,
                    area=station.area,
                    received_at=received_at,
                    details=details,
                )
            )
            if value is not None:
                over = value > lowest if rule.op == ">" else value >= lowest
                self._set_exceeding(rule_name, station.id, over=over)
        if self._leads_city():
            result.extend(self._city_observations(at, received_at))
        return result

    def _rules_for(self, station_id: str) -> tuple[tuple[str, RuleSpec, str, float], ...]:
        """A station's enabled rules: name, spec, alert key, lowest threshold.

        Built at its first evaluation: the settings are frozen and never replaced, and
        `AlertSettings.rule` per rule and message still cost ~7 % of a single reading's CPU
        (pydantic's private-attribute access to its memo).
        """
        rules = self._station_rules.get(station_id)
        if rules is None:
            built = []
            for rule_name in (*MEAN_RULES, "aqi"):
                rule = self._alerts.rule(rule_name, station_id)
                if rule is not None:
                    lowest = min(t.value for t in rule.thresholds)
                    built.append((rule_name, rule, alert_key(rule_name, station_id), lowest))
            rules = self._station_rules[station_id] = tuple(built)
        return rules

    def _set_exceeding(self, rule_name: str, station_id: str, *, over: bool) -> None:
        flags = self._exceeding.setdefault(rule_name, {})
        if flags.get(station_id, False) != over:
            self._exceeding_count[rule_name] = self._exceeding_count.get(rule_name, 0) + (
                1 if over else -1
            )
        flags[station_id] = over

    def _city_observations(self, at: datetime, received_at: datetime | None) -> list[Observation]:
        result = []
        if self._city_rules is None:
            self._city_rules = [
                (
                    city.rule,
                    base,
                    RuleSpec(
                        name=f"{city.rule}_city",
                        kind="air",
                        unit="stations",
                        thresholds=(Threshold(city.severity, float(city.min_stations)),),
                        op=">=",
                        hysteresis=self._alerts.hysteresis,
                    ),
                )
                for city in self._alerts.city
                if (base := self._alerts.rule(city.rule)) is not None
            ]
        for base_rule, base, rule in self._city_rules:
            own = self._exceeding.get(base_rule, {})
            # a station this replica evaluates itself counts once, by its own flag
            count = self._exceeding_count.get(base_rule, 0) + sum(
                over
                for flags in self._remote.values()
                for sid, over in flags.get(base_rule, {}).items()
                if sid not in own
            )
            result.append(
                Observation(
                    rule=rule,
                    key=alert_key(rule.name, CITY_AREA),
                    value=float(count),
                    at=at,
                    station_id=None,
                    area=CITY_AREA,
                    received_at=received_at,
                    details={"base_rule": base_rule, "base_threshold": base.thresholds[0].value},
                )
            )
        return result


def _values(reading: AirReading) -> dict[str, float | None]:
    return {"pm25": reading.pm25, "pm10": reading.pm10, "no2": reading.no2}
