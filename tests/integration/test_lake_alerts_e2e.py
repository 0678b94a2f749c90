"""End to end: lake scenarios through the real broker and database to the webhook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.receiver import webhook_receiver
from tests.integration.harness import (
    count,
    http_get,
    make_settings,
    publisher,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.integration

Series = Callable[[int], float]


def steady(level: float) -> Series:
    return lambda _m: level


def ramp(start: float, per_hour: float) -> Series:
    return lambda m: start + per_hour * m / 60


def drop_at(level: float, minute: int, depth: float, over: int) -> Series:
    # a steady lake that loses `depth` metres over `over` minutes from `minute` on
    def series(m: int) -> float:
        if m < minute:
            return level
        return level - depth * min(m - minute, over) / over

    return series


def spike_at(level: float, minute: int, height: float) -> Series:
    return lambda m: level + height if m == minute else level


def rise_then_hold(start: float, per_hour: float, until: int) -> Series:
    return lambda m: start + per_hour * min(m, until) / 60


SCENARIOS: list[tuple[str, str, Series, int, set[tuple[str, str]]]] = [
    # a steady lake raises nothing
    ("steady", "LAKE-01", steady(2.5), 60, set()),
    # seasonal filling at 0.05 m/h is far below the 0.5 m/h rise alert
    ("seasonal", "LAKE-01", ramp(2.0, 0.05), 90, set()),
    # 0.8 m/h for 40 minutes: rise warning (the level stays below its marks)
    ("fast rise", "LAKE-01", ramp(2.0, 0.8), 40, {("lake_rise", "firing")}),
    # climbing through both marks: level warning, escalated to critical, and the rise
    (
        "critical",
        "LAKE-01",
        ramp(3.0, 1.5),
        60,
        {("lake_rise", "firing"), ("lake_level", "firing"), ("lake_level", "escalated")},
    ),
    # 0.5 m lost in 5 minutes on an outburst-hazardous lake: outburst
    ("outburst", "LAKE-01", drop_at(3.0, 30, 0.5, 5), 45, {("lake_outburst", "firing")}),
    # the same drop on a lake that is not outburst-hazardous: no outburst alert
    ("drop, not hazardous", "LAKE-03", drop_at(3.0, 30, 0.5, 5), 45, set()),
    # a faulty sensor's single +5 m reading is a data-quality problem, not an event
    ("spike", "LAKE-01", spike_at(3.0, 30, 5.0), 45, set()),
    # a fast rise that stops: the warning fires once and resolves once
    (
        "recovery",
        "LAKE-01",
        rise_then_hold(2.0, 0.8, 40),
        100,
        {("lake_rise", "firing"), ("lake_rise", "resolved")},
    ),
]


@pytest.mark.parametrize(
    ("name", "station", "series", "minutes", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
async def test_lake_scenario(
    database_url: str,
    mqtt_url: str,
    topic_prefix: str,
    name: str,
    station: str,
    series: Series,
    minutes: int,
    expected: set[tuple[str, str]],
) -> None:
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    async with webhook_receiver() as receiver:
        settings = make_settings(
            database_url, mqtt_url, topic_prefix, channels={"webhook": {"urls": [receiver.url]}}
        )
        async with running_daemon(settings) as daemon, publisher(mqtt_url) as mqtt:
            for m in range(minutes):
                ts = (start + timedelta(minutes=m)).isoformat()
                body = {"ts": ts, "level_m": round(series(m), 4), "precip_mm": 0.0}
                await mqtt.publish(f"{topic_prefix}/lake/{station}", json.dumps(body), qos=1)

            async def stored() -> bool:
                return await count(database_url, "kuzet.lake_readings") == minutes

            await wait_for(stored, what="lake readings stored")
            await asyncio.sleep(1.5)  # let the dispatcher deliver what was raised
            _, lake = await http_get(daemon, f"/api/v1/lakes/{station}")
    got = {(a["labels"]["alertname"], a["annotations"]["event"]) for a in receiver.alerts()}
    assert got == expected, name
    # each transition once
    assert len(receiver.alerts()) == len(expected)
    assert lake["station_id"] == station
    assert lake["level_m"] == pytest.approx(series(minutes - 1), abs=1e-3)
    if name == "outburst":
        assert lake["state"] == "outburst"
        (alert,) = receiver.alerts()
        # the message names the lake and the valley below it, in each language
        assert (
            "Malaya Almatinka"
            in alert["annotations"]["summary"] + alert["annotations"]["description"]
        )
        assert alert["annotations"]["summary_kk"] != alert["annotations"]["summary_ru"]
    if name == "spike":
        assert lake["suspect_counts"]
