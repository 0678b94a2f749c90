"""Lake analytics stage: per-station level series → rise, drop, surge → lake alert rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from alerts.config import AlertSettings, Levels
from alerts.model import Observation, RuleSpec, alert_key
from collector.lake import LakeAnalyser, LakeConfig, LakeStatus
from collector.models import Feed, LakeReading
from collector.stage import ObservationSink, ReadingStage
from collector.stations import Station, Stations


class LakeStage(ReadingStage[LakeReading]):
    """Keeps a `LakeAnalyser` per lake station and maps its status to the lake rules.

    `lake_level` uses each lake's marks from the stations file; `lake_rise` the robust
    30-minute slope; `lake_outburst` the held 10-minute drop on an outburst-hazardous lake,
    or the held discharge surge at a gauge `downstream_of` a lake (both stay high for the
    hold period, so the alert does not resolve while the flood wave is still travelling).
    """

    reading_type = LakeReading

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
        self._analysers: dict[str, LakeAnalyser] = {}
        self._status: dict[str, LakeStatus] = {}
        self._config = _lake_config(alerts)

    def forget(self, station_ids: set[str]) -> None:
        """Drop the state of stations evaluated elsewhere from now on (or rebuilt next)."""
        for station_id in station_ids:
            self._analysers.pop(station_id, None)
            self._status.pop(station_id, None)

    def status(self, station_id: str) -> LakeStatus | None:
        """The latest evaluation of a station (None before its first reading)."""
        analyser = self._analysers.get(station_id)
        if analyser is None:
            return None
        if station_id not in self._status:
            self._status[station_id] = analyser.evaluate()
        return self._status[station_id]

    def add(self, reading: LakeReading) -> Station | None:
        """Screen and store a reading in its station's series."""
        station = self._stations.get(reading.station_id)
        if station is None or station.kind is not Feed.LAKE:
            return None
        analyser = self._analysers.get(station.id)
        if analyser is None:
            analyser = LakeAnalyser(station, self._config)
            self._analysers[station.id] = analyser
        if analyser.add(reading) is None:
            return None
        return station

    def observations(self, station: Station, received_at: datetime | None) -> list[Observation]:
        """The lake rules' inputs at the station's newest reading."""
        status = self._analysers[station.id].evaluate()
        self._status[station.id] = status
        if status.time is None:
            return []
        marks = Levels(warning=station.warning_level_m, critical=station.critical_level_m)
        inputs: list[tuple[RuleSpec | None, float | None]] = [
            (self._alerts.rule("lake_level", station.id, marks), status.level_m),
            (self._alerts.rule("lake_rise", station.id), status.rise_rate_m_h),
        ]
        if station.outburst_hazard:
            inputs.append((self._alerts.rule("lake_outburst", station.id), status.drop_peak_m))
        if station.downstream_of:
            surge = self._alerts.rule("lake_outburst_surge", station.id)
            if surge is not None:
                surge = replace(surge, name="lake_outburst")
            inputs.append((surge, status.discharge_ratio_peak))
        details: dict[str, Any] = {"state": status.state.value}
        if station.downstream_of:
            details["downstream_of"] = station.downstream_of
        return [
            Observation(
                rule=rule,
                key=alert_key(rule.name, station.id),
                value=value,
                at=status.time,
                station_id=station.id,
                area=station.area,
                received_at=received_at,
                details=details,
            )
            for rule, value in inputs
            if rule is not None
        ]


def _lake_config(alerts: AlertSettings) -> LakeConfig:
    """The analyser's own thresholds (display state) taken from the alert rules."""

    def level(rule: str, default: float) -> float:
        spec = alerts.rule(rule)
        return spec.thresholds[0].value if spec is not None and spec.thresholds else default

    defaults = LakeConfig()
    return LakeConfig(
        rise_warning_m_h=level("lake_rise", defaults.rise_warning_m_h),
        drop_critical_m=level("lake_outburst", defaults.drop_critical_m),
        surge_ratio=level("lake_outburst_surge", defaults.surge_ratio),
        hysteresis=alerts.hysteresis,
    )
