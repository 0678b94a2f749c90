"""Scenarios and clocks: simulated start and end, argument checks, seasons, event placement."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from collector.models import Feed
from collector.simulate.air import HEATING_SEASON
from collector.simulate.common import ALMATY_TZ, DAY_S, HOUR_S
from collector.simulate.scenario import (
    MELT_SEASON,
    SCENARIOS,
    ScenarioOptions,
    choose_glof,
    make_timeline,
    plan,
    season_shift_days,
)
from tests.unit.simulate._support import network

WALL = 1_795_000_000.0  # 2026-11-18, whole seconds
NOVEMBER = datetime(2026, 11, 22, 12, tzinfo=ALMATY_TZ).timestamp()


@pytest.mark.parametrize(
    ("speed", "duration", "start", "sim_start", "sim_end"),
    [
        # Real time: simulated time is wall time.
        (1.0, 60.0, None, WALL, WALL + 60),
        # 5 minutes at speed 288 replay the last day and end at "now".
        (288.0, 300.0, None, WALL - 287 * 300, WALL + 300),
        # A huge speed is capped at 29 days of history; the clock then catches up and waits.
        (10_000.0, 3600.0, None, WALL - 29 * DAY_S, WALL + 3600),
        # Unbounded: catches up with the wall clock after one hour of wall time.
        (60.0, None, None, WALL - 59 * HOUR_S, WALL + HOUR_S),
        # Slower than real time starts now and falls behind.
        (0.5, 100.0, None, WALL, WALL + 50),
        # An explicit start in the past: speed 10 from there, capped by the wall clock.
        (10.0, 60.0, WALL - 300, WALL - 300, WALL + 60),
    ],
)
def test_timeline(
    speed: float, duration: float | None, start: float | None, sim_start: float, sim_end: float
) -> None:
    timeline = make_timeline(WALL, speed=speed, duration=duration, start=start)
    assert timeline.sim_start == sim_start
    assert timeline.sim_end == pytest.approx(sim_end)
    # Never ahead of the wall clock: no reading is from the future.
    for elapsed in np.linspace(0, duration or HOUR_S, 50):
        assert timeline.sim_time(WALL + elapsed) <= WALL + elapsed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # Speed must be a positive finite number.
        ({"speed": 0.0, "duration": 10.0}, "speed"),
        ({"speed": -2.0, "duration": 10.0}, "speed"),
        ({"speed": float("nan"), "duration": 10.0}, "speed"),
        ({"speed": float("inf"), "duration": 10.0}, "speed"),
        # Duration positive when given.
        ({"speed": 1.0, "duration": 0.0}, "duration"),
        # A start in the future would make readings the daemon rejects.
        ({"speed": 1.0, "duration": 10.0, "start": WALL + 10}, "future"),
        # Older than the default 29-day history: beyond KUZET_MAX_AGE.
        ({"speed": 1.0, "duration": 10.0, "start": WALL - 30 * DAY_S}, "days ago"),
    ],
)
def test_timeline_refuses_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_timeline(WALL, **kwargs)


def _local(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, 12, tzinfo=ALMATY_TZ).timestamp()


@pytest.mark.parametrize(
    ("t", "season", "target", "shift"),
    [
        # November is in the heating season: smog plays on the real date.
        (_local(2026, 11, 22), HEATING_SEASON, (1, 15), 0),
        # July is not: air climate moves to the nearest 15 January (176 days back).
        (_local(2026, 7, 10), HEATING_SEASON, (1, 15), -176),
        # November is not in the melt season: lakes play 25 July (120 days back).
        (_local(2026, 11, 22), MELT_SEASON, (7, 25), -120),
        # Early August is: no shift.
        (_local(2026, 8, 1), MELT_SEASON, (7, 25), 0),
        # Late December: the next 15 January is nearer than the last.
        (_local(2026, 12, 20), MELT_SEASON, (1, 15), 26),
    ],
)
def test_season_shift(
    t: float, season: tuple[int, int], target: tuple[int, int], shift: int
) -> None:
    assert season_shift_days(t, season, target) == shift


@pytest.mark.parametrize(
    ("lake_id", "expected"),
    [
        # Default: the hazardous lake whose flood reaches its gauge soonest (Lake No. 6,
        # above the Medeu dam, ~19 min).
        (None, ("LAKE-16", "LAKE-21", 19.0)),
        # An explicit choice: Zharsai Lake above Esik, the farthest gauge.
        ("LAKE-29", ("LAKE-29", "LAKE-31", 54.4)),
    ],
)
def test_choose_glof(lake_id: str | None, expected: tuple[str, str, float]) -> None:
    lake, gauge, travel = choose_glof(list(network()), lake_id)
    assert (lake.id, gauge.id, round(travel / 60, 1)) == expected


@pytest.mark.parametrize(
    "lake_id",
    [
        # A lake without a downstream_of gauge cannot show the surge.
        "LAKE-02",
        # Not a station at all.
        "NOPE",
    ],
)
def test_choose_glof_refuses_lakes_without_a_gauge(lake_id: str) -> None:
    with pytest.raises(ValueError, match="downstream_of"):
        choose_glof(list(network()), lake_id)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        # calm: no events at all.
        ("calm", set()),
        ("smog", {"smog_onset", "smog_clearing"}),
        ("quake", {"quake"}),
        ("glof", {"glof_onset", "glof_surge"}),
        # all: every event.
        ("all", {"smog_onset", "smog_clearing", "quake", "glof_onset", "glof_surge"}),
    ],
)
def test_scenarios_schedule_their_events(name: str, kinds: set[str]) -> None:
    the_plan = plan(
        SCENARIOS[name],
        make_timeline(NOVEMBER, speed=288, duration=300),
        list(network()),
        np.random.default_rng(1),
    )
    assert {e.kind for e in the_plan.events} == kinds
    assert (the_plan.smog is not None) is SCENARIOS[name].smog
    assert (the_plan.quake is not None) is SCENARIOS[name].quake
    assert (the_plan.glof is not None) is SCENARIOS[name].glof


@pytest.mark.parametrize(
    ("speed", "duration", "onset_after_start"),
    [
        # A one-day window: the inversion is already in place a day before it begins.
        (288.0, 300.0, -DAY_S),
        # A ten-day window (2880 × 300 s): clean air first, the inversion a quarter of the way in.
        (2880.0, 300.0, 0.25 * 2880 * 300),
    ],
)
def test_smog_placement(speed: float, duration: float, onset_after_start: float) -> None:
    timeline = make_timeline(NOVEMBER, speed=speed, duration=duration)
    the_plan = plan(SCENARIOS["smog"], timeline, list(network()), np.random.default_rng(1))
    assert the_plan.smog is not None
    assert the_plan.smog.onset - timeline.sim_start == pytest.approx(onset_after_start)
    assert the_plan.smog.end - the_plan.smog.onset == 4 * DAY_S
    # November is in the heating season: no climate shift.
    assert the_plan.air_season_shift_days == 0


def test_glof_and_quake_placement() -> None:
    # The outburst sits on the simulated clock, the quake on the wall clock.
    options = ScenarioOptions(quake_at_s=25.0)
    timeline = make_timeline(NOVEMBER, speed=288, duration=300)
    the_plan = plan(SCENARIOS["all"], timeline, list(network()), np.random.default_rng(1), options)
    assert the_plan.glof is not None and the_plan.quake is not None
    # The outburst half-way through the simulated span, the quake on the wall clock.
    assert the_plan.glof.onset == pytest.approx((timeline.sim_start + timeline.sim_end) / 2)
    assert the_plan.quake.origin == NOVEMBER + 25.0
    # In November the lakes play late July, so there is melt water to release.
    assert the_plan.lake_season_shift_days == -120
    # A storm over the valley ends shortly before the outburst.
    storm = [e for e in the_plan.rain if e.factor("Malaya Almatinka") == 1.0]
    assert storm and storm[-1].end <= the_plan.glof.onset
    clocks = {e.kind: (e.clock, e.feed) for e in the_plan.events}
    assert clocks["quake"] == ("wall", Feed.SEISMIC)
    assert clocks["glof_surge"] == ("sim", Feed.LAKE)
