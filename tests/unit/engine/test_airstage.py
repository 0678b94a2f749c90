from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import load_alert_settings
from alerts.model import Observation
from collector.airstage import AirStage
from collector.models import AirReading
from collector.stations import Station, Stations

T0 = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Observation] = []

    async def observe(self, obs: Observation) -> None:
        self.seen.append(obs)


def stations(n: int = 1) -> Stations:
    return Stations(
        [
            Station(id=f"AIR-{i:02d}", kind="air", district="Almaly", interval_s=60)
            for i in range(1, n + 1)
        ]  # type: ignore[arg-type]
    )


def minutes(
    start: datetime, count: int, pm25: float, no2: float | None = None, station: str = "AIR-01"
) -> list[AirReading]:
    return [
        AirReading(station, start + timedelta(minutes=m), pm25=pm25, no2=no2) for m in range(count)
    ]


def by_rule(observations: list[Observation]) -> dict[str, float | None]:
    return {o.rule.name: o.value for o in observations}


def test_sparse_data_gives_no_values() -> None:
    # fewer than ⌊0.75 · w / interval⌋ readings: every mean is null, nothing can fire
    stage = AirStage(stations(), load_alert_settings({}), Recorder())
    stage.preload(minutes(T0, 44, 500.0))
    values = by_rule(stage.observations(stations().get("AIR-01"), None))  # type: ignore[arg-type]
    assert values["pm25_1h"] is None
    assert values["pm25_24h"] is None
    assert values["aqi"] is None


def test_complete_hour_gives_1h_mean_and_aqi() -> None:
    # 60 one-minute readings: the 1 h mean is valid; NowCast needs 2 of the 3 last hours
    st = stations()
    stage = AirStage(st, load_alert_settings({}), Recorder())
    stage.preload(minutes(T0, 180, 40.0, no2=250.0))
    values = by_rule(stage.observations(st.get("AIR-01"), None))  # type: ignore[arg-type]
    assert values["pm25_1h"] == pytest.approx(40.0)
    assert values["no2_1h"] == pytest.approx(250.0)
    assert values["pm25_24h"] is None  # 3 h of data is not 75 % of a day
    # NowCast of a steady 40 µg/m³ is 40 → AQI 112 (35.5–55.4 → 101–150)
    assert values["aqi"] == 112.0


async def test_a_late_reading_is_evaluated_at_the_station_newest_time() -> None:
    # spec §6: t is the station's latest reading, also when an older one arrives late
    st = stations()
    sink = Recorder()
    stage = AirStage(st, load_alert_settings({}), sink)
    stage.preload(minutes(T0, 60, 10.0))
    late = AirReading("AIR-01", T0 + timedelta(minutes=30, seconds=30), pm25=10.0)
    received = datetime(2026, 1, 10, 1, 0, 5, tzinfo=UTC)
    task = asyncio.create_task(stage.run())
    await stage.put([late], received)
    for _ in range(100):
        if sink.seen:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert sink.seen
    assert {o.at for o in sink.seen} == {T0 + timedelta(minutes=59)}
    assert {o.received_at for o in sink.seen} == {received}


def test_city_rule_counts_stations_above() -> None:
    # the city entry fires when at least min_stations stations exceed the station rule
    st = stations(3)
    settings = load_alert_settings(
        {"city": [{"rule": "pm25_1h", "min_stations": 2, "severity": "critical"}]}
    )
    stage = AirStage(st, settings, Recorder())
    for i in (1, 2, 3):
        stage.preload(minutes(T0, 60, 200.0 if i < 3 else 10.0, station=f"AIR-{i:02d}"))
    observations: list[Observation] = []
    for i in (1, 2, 3):
        observations = stage.observations(st.get(f"AIR-{i:02d}"), None)  # type: ignore[arg-type]
    city = [o for o in observations if o.rule.name == "pm25_1h_city"]
    assert len(city) == 1
    assert city[0].value == 2.0
    assert city[0].key == "pm25_1h_city:Almaty"
    assert city[0].station_id is None
