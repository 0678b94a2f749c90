"""Station streams: every spec payload form, decoded by the daemon's decoders, reproducibly."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime

import numpy as np
import orjson
import pytest

from collector.models import Feed
from collector.simulate.common import ALMATY_TZ, to_datetime
from collector.simulate.scenario import SCENARIOS, Plan, make_timeline, plan
from collector.simulate.streams import NetworkStreams, Outgoing, build_streams
from tests.unit.simulate._support import decode, network

WALL = datetime(2026, 11, 22, 12, tzinfo=ALMATY_TZ).timestamp()


def _plan(scenario: str = "all", speed: float = 600.0, duration: float = 60.0) -> Plan:
    timeline = make_timeline(WALL, speed=speed, duration=duration)
    return plan(SCENARIOS[scenario], timeline, list(network()), np.random.default_rng(3))


def _streams(the_plan: Plan, seed: int = 9) -> NetworkStreams:
    return build_streams(the_plan, list(network()), np.random.SeedSequence(seed))


def _run(streams: NetworkStreams, the_plan: Plan, steps: int, wall_s: float) -> list[Outgoing]:
    """Advance both clocks from the start in `steps` equal ticks over `wall_s` wall seconds."""
    timeline = the_plan.timeline
    out: list[Outgoing] = []
    for wall in np.linspace(WALL, WALL + wall_s, steps + 1)[1:]:
        out += streams.due(timeline.sim_time(float(wall)), float(wall))
    return out + streams.air.flush()


def _form(out: Outgoing) -> str:
    doc = orjson.loads(out.payload)
    if isinstance(doc, list):
        return f"{out.feed.value}:batch"
    if "sensordatavalues" in doc:
        return "air:sensor.community+" + ("timestamp" if "timestamp" in doc else "ts")
    if "traces" in doc:
        return "seismic:openeew"
    return f"{out.feed.value}:native"


def _ts_styles(out: Outgoing) -> set[str]:
    doc = orjson.loads(out.payload)
    styles = set()
    for item in doc if isinstance(doc, list) else [doc]:
        ts = item.get("ts")
        if isinstance(ts, float | int):
            styles.add("unix")
        elif isinstance(ts, str):
            styles.add("Z" if ts.endswith("Z") else ts[-6:])
    return styles


def test_every_payload_form_decodes_without_rejections() -> None:
    # One simulated minute of wall time at speed 600 (10 h of air and lake), 60 s of seismic
    # including the quake: every message goes through the daemon's real decoders.
    the_plan = _plan()
    sent = _run(_streams(the_plan), the_plan, steps=600, wall_s=60.0)
    received = WALL + 61.0
    decoded = Counter[Feed]()
    expected = Counter[Feed]()
    for out in sent:
        result = decode(out.feed, out.station_id, out.payload, received)
        assert result.rejections == (), (out.station_id, result.rejections)
        expected[out.feed] += out.readings
        decoded[out.feed] += len(result.readings)
        # Event time is never ahead of the wall clock.
        assert all(r.time <= to_datetime(received) for r in result.readings)
    assert decoded == expected
    assert set(decoded) == set(Feed)
    forms = Counter(_form(out) for out in sent)
    assert set(forms) == {
        "air:native",
        "air:batch",
        "air:sensor.community+ts",
        "air:sensor.community+timestamp",
        "seismic:native",
        "seismic:openeew",
        "lake:native",
    }
    styles = set().union(*(_ts_styles(out) for out in sent))
    assert styles == {"Z", "+05:00", "unix"}


def test_decoded_times_are_the_event_times() -> None:
    # Whatever the form, the daemon reads back the reading's simulated time.
    the_plan = _plan(scenario="calm")
    streams = _streams(the_plan)
    first = streams.air.due(the_plan.timeline.sim_start + 3600)
    by_station: dict[str, list[datetime]] = {}
    for out in first:
        result = decode(out.feed, out.station_id, out.payload, WALL)
        by_station.setdefault(out.station_id, []).extend(r.time for r in result.readings)
    for station_id, times in by_station.items():
        interval = next(s.interval_s for s in network() if s.id == station_id)
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
        # Consecutive readings are interval_s apart (or a multiple, after a dropout).
        assert all(gap % interval == 0 and gap > 0 for gap in gaps), station_id
        assert times[0] >= to_datetime(the_plan.timeline.sim_start)


@pytest.mark.parametrize(
    ("steps_a", "steps_b", "seed_b", "same"),
    [
        # Same seed, same times: byte-identical messages.
        (100, 100, 9, True),
        # Same seed, ticks falling differently: still identical (per-station chunked noise).
        (100, 37, 9, True),
        # Another seed: different readings.
        (100, 100, 10, False),
    ],
)
def test_streams_are_reproducible(steps_a: int, steps_b: int, seed_b: int, same: bool) -> None:
    the_plan = _plan()
    a = _run(_streams(the_plan, 9), the_plan, steps_a, 30.0)
    b = _run(_streams(the_plan, seed_b), the_plan, steps_b, 30.0)

    def key(items: list[Outgoing]) -> list[tuple[str, bytes]]:
        return sorted((o.station_id, o.payload) for o in items)

    assert (key(a) == key(b)) is same


def test_batch_stations_send_arrays_of_five() -> None:
    # Data loggers send JSON arrays of 5 readings; the rest goes out when the run ends.
    the_plan = _plan(scenario="calm")
    streams = _streams(the_plan)
    sites = streams.air.sites
    batches = [o for o in streams.air.due(the_plan.timeline.sim_end) if o.readings > 1]
    assert batches
    for out in batches:
        assert sites[out.station_id].batch_size == 5
        assert len(orjson.loads(out.payload)) == out.readings == 5
    # At the end of a run the partial batches are sent too.
    partial = streams.air.flush()
    assert partial
    assert all(1 <= o.readings < 5 for o in partial)
    assert streams.air.flush() == []


def test_events_fire_on_their_own_clocks() -> None:
    the_plan = _plan(speed=288.0, duration=300.0)
    streams = _streams(the_plan)
    timeline = the_plan.timeline
    fired = {}
    for wall in np.arange(WALL, WALL + 301.0, 1.0):
        for event in streams.events.due(timeline.sim_time(float(wall)), float(wall)):
            fired[event.kind] = float(wall)
    # The quake comes 20 s of wall time after the start, whatever the speed.
    assert fired["quake"] == WALL + 20
    # The outburst at half the simulated span, i.e. half-way through the run at constant speed.
    assert fired["glof_onset"] == pytest.approx(WALL + 150, abs=1.0)
    assert fired["glof_surge"] > fired["glof_onset"]
    assert "smog_onset" in fired
