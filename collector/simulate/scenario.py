"""Scenarios (calm, smog, quake, glof, all), the simulated clock and the schedule of events.

Two clocks run during a simulation:

* Air and lake readings carry *simulated* event time: `sim = start + speed × elapsed`, never
  ahead of the wall clock (`min(…, now)`). Unless `start` is given it is chosen so that the
  simulated clock reaches the wall clock exactly at the end of the run:
  `start = wall_start − (speed − 1) × duration` (for an unbounded run, after `horizon_s` of
  wall time, then it runs in real time). So a 5-minute run at speed 288 replays the last
  24 hours and ends at "now", every reading is in the past, and none is older than
  `max_history_s` (29 days by default, inside the daemon's 30-day `KUZET_MAX_AGE`).
* Seismic packets always run in real time (speed 1, event time = wall time): detectors work on
  seconds of signal, and compressing 100 Hz waveforms would need `speed` × 28 packets per
  second. The quake is scheduled on the wall clock, `quake_at_s` (20 s) after the start, so the
  detector has a full 10 s LTA window of background before the P wave.

Seasons: smog is a heating-season phenomenon and outbursts happen in the melt season, but the
readings must carry real time. A scenario that needs a season the calendar does not have
shifts that feed's *climate* by whole days (Jan 15 for smog, Jul 25 for a GLOF); time of day
and weekdays stay real. In `all` each feed plays its own season.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal

import numpy as np

from collector.models import Feed
from collector.simulate.air import HEATING_SEASON, SmogEpisode
from collector.simulate.common import ALMATY_TZ, DAY_S, HOUR_S, in_season, to_datetime
from collector.simulate.lake import Glof, RainEvent, rain_events, travel_time_s
from collector.simulate.seismic import Quake, QuakeSource
from collector.stations import Station

MELT_SEASON: Final = (615, 915)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Which events a scenario plays on top of the normal network."""

    name: str
    description: str
    smog: bool = False
    quake: bool = False
    glof: bool = False


SCENARIOS: Final[Mapping[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario("calm", "normal network: daily cycles, noise, dropouts, occasional rain"),
        Scenario("smog", "multi-day winter inversion: PM2.5 well above 35 µg/m³", smog=True),
        Scenario(
            "quake", "an M5.5 earthquake in the Chilik zone, 20 s after the start", quake=True
        ),
        Scenario("glof", "a glacial-lake outburst: lake drop, surge at the gauge", glof=True),
        Scenario("all", "smog, quake and outburst together (a drill)", True, True, True),
    )
}


@dataclass(frozen=True, slots=True)
class ScenarioOptions:
    """Where and when the events happen (defaults documented in the module docstring)."""

    quake_source: QuakeSource = field(default_factory=QuakeSource)
    quake_at_s: float = 20.0
    # None: the hazardous lake whose flood reaches its downstream_of gauge soonest.
    glof_lake: str | None = None
    # Position of the outburst and of the smog onset in the simulated span (0..1).
    glof_at: float = 0.5
    smog_at: float = 0.25
    smog_days: float = 4.0
    # Spans shorter than this start inside an episode already in progress.
    smog_min_span_s: float = 2 * DAY_S
    # A storm over the outburst valley before it (heavy rain often triggers outbursts).
    glof_storm_mm_h: float = 4.0


@dataclass(frozen=True, slots=True)
class Timeline:
    """Maps wall-clock time to simulated event time for the air and lake feeds."""

    wall_start: float
    sim_start: float
    speed: float
    duration: float | None
    horizon_s: float = HOUR_S

    def sim_time(self, wall: float) -> float:
        """Simulated event time at wall-clock time `wall` (never ahead of it)."""
        return min(self.sim_start + self.speed * (wall - self.wall_start), wall)

    @property
    def wall_end(self) -> float | None:
        """When the run stops, or None for an unbounded run."""
        return None if self.duration is None else self.wall_start + self.duration

    @property
    def sim_end(self) -> float:
        """Simulated time at the end of the run (unbounded: after `horizon_s` of wall time)."""
        return self.sim_time(self.wall_start + (self.duration or self.horizon_s))


def make_timeline(
    wall_start: float,
    *,
    speed: float,
    duration: float | None,
    start: float | None = None,
    horizon_s: float = HOUR_S,
    max_history_s: float = 29 * DAY_S,
) -> Timeline:
    """Choose the simulated start (see the module docstring) and check the arguments.

    Raises:
        ValueError: a non-positive speed or duration, or a `start` in the future or older
            than `max_history_s`.
    """
    if not speed > 0 or not np.isfinite(speed):
        raise ValueError(f"speed must be a positive number, got {speed}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if start is None:
        window = duration if duration is not None else horizon_s
        start = max(wall_start - max(speed - 1.0, 0.0) * window, wall_start - max_history_s)
    elif start > wall_start:
        raise ValueError("start is in the future: readings would be rejected as bad_timestamp")
    elif start < wall_start - max_history_s:
        days = max_history_s / DAY_S
        raise ValueError(f"start is more than {days:g} days ago: readings would be too old")
    # Whole seconds: every reading time is then a whole second, exact in every ts form.
    return Timeline(wall_start, float(np.floor(start)), speed, duration, horizon_s)


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """Something the scenario makes happen, reported through `on_event` when its time comes.

    `clock` says which clock `at` is on: `sim` (air, lake) or `wall` (seismic).
    """

    kind: str
    feed: Feed
    at: float
    clock: Literal["sim", "wall"]
    summary: str
    station_id: str | None = None

    @property
    def time(self) -> datetime:
        """`at` as an aware UTC datetime."""
        return to_datetime(self.at)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run will do, fixed before the first message."""

    scenario: Scenario
    timeline: Timeline
    smog: SmogEpisode | None
    quake: Quake | None
    glof: Glof | None
    rain: tuple[RainEvent, ...]
    air_season_shift_days: int
    lake_season_shift_days: int
    events: tuple[ScenarioEvent, ...]


def season_shift_days(t: float, season: tuple[int, int], target: tuple[int, int]) -> int:
    """Whole days to add to `t`'s climate so it falls in `season` (0 if it already does)."""
    if bool(in_season(t, *season)):
        return 0
    today = to_datetime(t).astimezone(ALMATY_TZ).date()
    candidates = [date(today.year + k, *target) for k in (-1, 0, 1)]
    return min(((c - today).days for c in candidates), key=abs)


def choose_glof(stations: list[Station], lake_id: str | None) -> tuple[Station, Station, float]:
    """The outburst lake, its downstream gauge and the flood travel time between them.

    Raises:
        ValueError: `lake_id` is not a lake with a `downstream_of` gauge, or no lake is.
    """
    by_id = {s.id: s for s in stations}
    pairs = [
        (by_id[g.downstream_of], g)
        for g in stations
        if g.kind is Feed.LAKE and g.downstream_of in by_id
    ]
    if lake_id is not None:
        pairs = [(lake, gauge) for lake, gauge in pairs if lake.id == lake_id]
        if not pairs:
            raise ValueError(f"glof lake {lake_id!r}: no lake station has a downstream_of gauge")
    else:
        pairs = [(lake, gauge) for lake, gauge in pairs if lake.outburst_hazard]
        if not pairs:
            raise ValueError("no outburst-hazardous lake with a downstream_of gauge")
    timed = [(lake, gauge, travel_time_s(lake, gauge)) for lake, gauge in pairs]
    return min(timed, key=lambda item: item[2])


def plan(
    scenario: Scenario,
    timeline: Timeline,
    stations: list[Station],
    rng: np.random.Generator,
    options: ScenarioOptions | None = None,
) -> Plan:
    """Place the scenario's events on the timeline and draw the storms.

    Raises:
        ValueError: the stations cannot host the scenario (no lake for a GLOF).
    """
    o = options or ScenarioOptions()
    start, end = timeline.sim_start, timeline.sim_end
    span = end - start
    events: list[ScenarioEvent] = []
    smog = quake = glof = None
    air_shift = lake_shift = 0
    valleys = sorted({s.downstream or s.district for s in stations if s.kind is Feed.LAKE})
    rain = list(rain_events(rng, valleys, start - DAY_S, end))
    if scenario.smog:
        in_progress = span < o.smog_min_span_s
        onset = start - DAY_S if in_progress else start + o.smog_at * span
        smog = SmogEpisode(onset=onset, end=onset + o.smog_days * DAY_S)
        air_shift = season_shift_days(onset, HEATING_SEASON, (1, 15))
        what = "inversion already in place" if in_progress else "inversion sets in"
        events.append(ScenarioEvent("smog_onset", Feed.AIR, onset, "sim", what))
        events.append(ScenarioEvent("smog_clearing", Feed.AIR, smog.end, "sim", "a front clears"))
    if scenario.quake:
        src = o.quake_source
        quake = Quake(src, timeline.wall_start + o.quake_at_s)
        summary = (
            f"M{src.magnitude:.1f} earthquake, {src.depth_km:g} km deep, {src.name} "
            f"({src.lat:.2f}°N {src.lon:.2f}°E)"
        )
        events.append(ScenarioEvent("quake", Feed.SEISMIC, quake.origin, "wall", summary))
    if scenario.glof:
        lake, gauge, travel = choose_glof(stations, o.glof_lake)
        onset = start + o.glof_at * span
        glof = Glof(lake_id=lake.id, gauge_id=gauge.id, onset=onset, travel_s=travel)
        lake_shift = season_shift_days(onset, MELT_SEASON, (7, 25))
        valley = lake.downstream or lake.district
        rain.append(
            RainEvent(onset - 3 * HOUR_S, onset - HOUR_S / 2, o.glof_storm_mm_h, ((valley, 1.0),))
        )
        events.append(
            ScenarioEvent(
                "glof_onset", Feed.LAKE, onset, "sim", f"outburst of {lake.name}", lake.id
            )
        )
        events.append(
            ScenarioEvent(
                "glof_surge",
                Feed.LAKE,
                glof.arrival,
                "sim",
                f"flood wave reaches {gauge.name} ({travel / 60:.0f} min)",
                gauge.id,
            )
        )
    return Plan(
        scenario=scenario,
        timeline=timeline,
        smog=smog,
        quake=quake,
        glof=glof,
        rain=tuple(sorted(rain, key=lambda e: e.start)),
        air_season_shift_days=air_shift,
        lake_season_shift_days=lake_shift,
        events=tuple(events),
    )
