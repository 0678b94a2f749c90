"""Association: synthetic P arrivals at the bundled stations → events, or (rightly) nothing."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import numpy as np
import pytest

from collector.seismic import (
    Associator,
    AssociatorConfig,
    EventChange,
    EventUpdate,
    Pick,
    VelocityModel,
    epicentral_km,
    hypocentral_km,
)
from tests.unit.seismic._support import arrival, at, pick, sites

LATENCY = timedelta(seconds=0.5)
ORIGIN = at(100)

# Four stations around each source, and the source (lat, lon, depth km).
CITY = (["SEIS-01", "SEIS-04", "SEIS-06", "SEIS-09"], (43.26, 76.93, 10.0))
CHILIK = (["SEIS-18", "SEIS-19", "SEIS-20", "SEIS-21"], (43.25, 78.45, 15.0))
KASTEK = (["SEIS-10", "SEIS-11", "SEIS-12", "SEIS-13"], (43.10, 76.25, 5.0))
TALGAR = (["SEIS-02", "SEIS-09", "SEIS-14", "SEIS-15"], (43.25, 77.15, 10.0))


def _add(assoc: Associator, p: Pick, now: datetime) -> tuple[EventUpdate, ...]:
    site = sites()[p.station_id]
    return assoc.add_pick(p, site.lat, site.lon, now, elevation_m=site.elevation_m)


def _arrivals(
    ids: list[str], source: tuple[float, float, float], origin: datetime = ORIGIN
) -> list[tuple[datetime, str]]:
    return sorted((arrival(sites()[i], source, origin), i) for i in ids)


def _feed(assoc: Associator, picks: list[Pick]) -> list[EventUpdate]:
    """Add picks in time order, each `LATENCY` after its time (detector + network delay)."""
    updates: list[EventUpdate] = []
    for p in sorted(picks, key=lambda p: p.time):
        updates.extend(_add(assoc, p, p.time + LATENCY))
    return updates


def _picks(ids: list[str], source: tuple[float, float, float]) -> list[Pick]:
    return [pick(i, t) for t, i in _arrivals(ids, source)]


@pytest.mark.parametrize(
    ("ids", "source"),
    [
        # under the city
        CITY,
        # Chilik zone, 120 km east
        CHILIK,
        # Kastek zone, 60 km west
        KASTEK,
        # Talgar, between the city and the Chilik zone
        TALGAR,
    ],
)
def test_four_consistent_stations_declare_one_located_event(
    ids: list[str], source: tuple[float, float, float]
) -> None:
    assoc = Associator()
    picks = _picks(ids, source)
    # nothing from the first three picks (fewer than 4 stations)
    assert _feed(assoc, picks[:3]) == []
    (update,) = _feed(assoc, picks[3:])
    assert update.change is EventChange.DECLARED
    event = update.event
    assert event.station_count == 4
    assert set(event.station_ids) == set(ids)
    # located within 10 km and 1 s of the truth
    assert float(epicentral_km(event.lat, event.lon, source[0], source[1])) < 10.0
    assert abs((event.origin_time - ORIGIN).total_seconds()) < 1.0
    assert event.detected_at == picks[3].time + LATENCY
    assert assoc.events == (event,)


@pytest.mark.parametrize(
    ("ids", "source"),
    [
        # three city stations: an event needs four
        (CITY[0][:3], CITY[1]),
        # three Chilik stations
        (CHILIK[0][1:], CHILIK[1]),
    ],
)
def test_three_stations_make_no_event(ids: list[str], source: tuple[float, float, float]) -> None:
    assoc = Associator()
    assert _feed(assoc, _picks(ids, source)) == []
    assert assoc.events == ()


def test_min_stations_is_configurable() -> None:
    # with min_stations = 3, the same three stations do declare
    assoc = Associator(AssociatorConfig(min_stations=3))
    updates = _feed(assoc, _picks(CITY[0][:3], CITY[1]))
    assert [u.change for u in updates] == [EventChange.DECLARED]


@pytest.mark.parametrize(
    "partners",
    [
        # alone: one station spiking every 1.3 s for two minutes
        [],
        # plus two real stations of an event at the same time: still three distinct stations
        ["SEIS-01", "SEIS-09"],
    ],
)
def test_one_noisy_station_never_declares(partners: list[str]) -> None:
    assoc = Associator()
    spikes = [pick("SEIS-04", ORIGIN + timedelta(seconds=1.3 * k)) for k in range(90)]
    real = _picks(partners, CITY[1]) if partners else []
    assert _feed(assoc, spikes + real) == []
    assert assoc.events == ()


@pytest.mark.parametrize(
    "offsets",
    [
        # city stations (< 25 km apart) picking 15 s apart: P crosses them in < 5 s
        [0.0, 15.0, 30.0, 45.0],
        # three consistent picks and a fourth 8 s late: the location rejects it, 3 remain
        None,
    ],
)
def test_inconsistent_times_make_no_event(offsets: list[float] | None) -> None:
    assoc = Associator()
    ids, source = CITY
    if offsets is None:
        picks = _picks(ids, source)
        picks[3] = pick(picks[3].station_id, picks[3].time + timedelta(seconds=8))
    else:
        picks = [pick(i, ORIGIN + timedelta(seconds=o)) for i, o in zip(ids, offsets, strict=True)]
    assert _feed(assoc, picks) == []


def test_event_ends_20_s_after_the_last_station_joined() -> None:
    assoc = Associator()
    ids, source = TALGAR
    (declared,) = _feed(assoc, _picks(ids, source))
    start = declared.event.detected_at
    # 19.999 s of silence: still active
    assert assoc.expire(start + timedelta(seconds=19.999)) == ()
    # a fifth station joins 10 s after the declaration: the clock restarts from then
    fifth = pick("SEIS-25", arrival(sites()["SEIS-25"], source, ORIGIN))
    (joined,) = _add(assoc, fifth, start + timedelta(seconds=10))
    assert joined.change is EventChange.UPDATED
    assert joined.event.station_count == 5
    assert assoc.expire(start + timedelta(seconds=29.999)) == ()
    # 20 s after the fifth station: ended, and no longer active
    (ended,) = assoc.expire(start + timedelta(seconds=30))
    assert ended.change is EventChange.ENDED
    assert ended.event.event_id == declared.event.event_id
    assert assoc.events == ()


def test_event_id_is_deterministic_whatever_the_arrival_order() -> None:
    ids, source = CHILIK
    picks = _picks(ids, source)
    late = max(p.time for p in picks) + LATENCY
    forward, backward = Associator(), Associator()
    (a,) = [u for p in picks for u in _add(forward, p, late)]
    (b,) = [u for p in reversed(picks) for u in _add(backward, p, late)]
    first = picks[0]
    # eq-<earliest pick, UTC, milliseconds>-<its station>
    assert re.fullmatch(r"eq-\d{8}T\d{6}\.\d{3}Z-SEIS-\d\d", a.event.event_id)
    assert a.event.event_id == b.event.event_id
    stamp = f"{first.time:%Y%m%dT%H%M%S}.{first.time.microsecond // 1000:03d}Z"
    assert a.event.event_id == f"eq-{stamp}-{first.station_id}"


def test_s_wave_retriggers_are_absorbed() -> None:
    assoc = Associator()
    ids, source = TALGAR
    _feed(assoc, _picks(ids, source))
    # the same four stations trigger again on the S wave: no second event, no change
    model = VelocityModel()
    s_picks = []
    for i in ids:
        site = sites()[i]
        epi = float(epicentral_km(source[0], source[1], site.lat, site.lon))
        s_time = float(model.s_time(epi, source[2], site.elevation_m / 1000))
        s_picks.append(pick(i, ORIGIN + timedelta(seconds=s_time)))
    assert _feed(assoc, s_picks) == []
    assert len(assoc.events) == 1


def test_more_stations_join_the_event() -> None:
    assoc = Associator()
    ids = ["SEIS-02", "SEIS-09", "SEIS-14", "SEIS-15", "SEIS-25", "SEIS-06", "SEIS-16"]
    updates = _feed(assoc, _picks(ids, TALGAR[1]))
    # declared on the 4th, then one update per joining station
    assert [u.change for u in updates] == [EventChange.DECLARED] + [EventChange.UPDATED] * 3
    final = updates[-1].event
    assert final.station_count == 7
    assert len({u.event.event_id for u in updates}) == 1
    assert float(epicentral_km(final.lat, final.lon, 43.25, 77.15)) < 2.0
    assert max(abs(r) for r in final.residuals_s) < 0.2


def _pd(magnitude: float, station: str, source: tuple[float, float, float]) -> float:
    """Pd in cm from the forward Wu & Zhao (2006) relation at the station's hypocentral distance."""
    site = sites()[station]
    epi = float(epicentral_km(source[0], source[1], site.lat, site.lon))
    r = float(hypocentral_km(epi, source[2], site.elevation_m / 1000))
    return 10 ** (-3.463 + 0.729 * magnitude - 1.374 * math.log10(r))


def test_magnitude_and_city_intensity_follow_the_pd_window() -> None:
    assoc = Associator()
    ids, source = TALGAR
    picks = _picks(ids, source)
    # first reports: Pd over half a second, too short to use: no magnitude, no intensity
    early = [
        pick(p.station_id, p.time, pd_cm=_pd(5.8, p.station_id, source) / 3, window_s=0.5)
        for p in picks
    ]
    (declared,) = _feed(assoc, early)
    assert declared.event.magnitude is None
    assert declared.event.intensity_city is None
    # re-reports with the full 3 s window and the Pd of a M 5.8: one update per station
    now = picks[-1].time + timedelta(seconds=3)
    updates = [
        u
        for p in picks
        for u in _add(
            assoc,
            pick(p.station_id, p.time, pd_cm=_pd(5.8, p.station_id, source), window_s=3.0),
            now,
        )
    ]
    assert [u.change for u in updates] == [EventChange.UPDATED] * 4
    event = updates[-1].event
    assert event.station_count == 4
    assert event.magnitude_stations == 4
    m = event.magnitude
    assert m == pytest.approx(5.8, abs=0.1)
    assert m is not None
    # the city impact is the cited chain applied to the located event
    impact = event.city
    expected_pga = 10 ** (
        0.41 * m
        - math.log10(impact.hypocentral_km + 0.032 * 10 ** (0.41 * m))
        - 0.0034 * impact.hypocentral_km
        + 1.30
    )
    assert impact.pga_gal == pytest.approx(expected_pga, rel=1e-9)
    assert event.intensity_city == pytest.approx(-1.60 + 3.70 * math.log10(expected_pga))
    # M 5.8 ~20 km from the centre: strong shaking, intensity ≥ 4 (the earthquake rule)
    assert event.intensity_city is not None
    assert event.intensity_city >= 4
    # S reaches the centre origin + hypo/Vs; lead time counted from `now`
    s_at = event.origin_time + timedelta(seconds=impact.hypocentral_km / 3.5)
    assert abs((impact.s_arrival - s_at).total_seconds()) < 1e-5
    assert impact.lead_time_s == pytest.approx((impact.s_arrival - now).total_seconds())


def test_explaining_event_for_station_pga() -> None:
    assoc = Associator()
    ids, source = TALGAR
    _feed(assoc, _picks(ids, source))
    site = sites()["SEIS-07"]
    # strong shaking at Sairan 5 s after origin: within the event's P-to-S(+10 s) span
    found = assoc.explaining_event(site.lat, site.lon, ORIGIN + timedelta(seconds=5))
    assert found is not None
    assert found.event_id == assoc.events[0].event_id
    # 5 minutes later: nothing explains it (station_pga may fire)
    assert assoc.explaining_event(site.lat, site.lon, ORIGIN + timedelta(minutes=5)) is None
    # after the event ends it still explains shaking during it (kept in history)
    assoc.expire(ORIGIN + timedelta(seconds=60))
    assert assoc.events == ()
    assert assoc.explaining_event(site.lat, site.lon, ORIGIN + timedelta(seconds=5)) is not None


def test_two_simultaneous_events_far_apart() -> None:
    assoc = Associator()
    kastek = _picks(*KASTEK)
    # the Chilik event 1.5 s after the Kastek one: their picks interleave in time
    chilik = [pick(p.station_id, p.time + timedelta(seconds=1.5)) for p in _picks(*CHILIK)]
    updates = _feed(assoc, kastek + chilik)
    declared = [u.event for u in updates if u.change is EventChange.DECLARED]
    # two events, each from its own four stations, each where it happened
    assert len(declared) == 2
    by_zone = {min(e.station_ids): e for e in declared}
    assert set(by_zone["SEIS-10"].station_ids) == set(KASTEK[0])
    assert set(by_zone["SEIS-18"].station_ids) == set(CHILIK[0])
    for e, (_, src) in ((by_zone["SEIS-10"], KASTEK), (by_zone["SEIS-18"], CHILIK)):
        assert float(epicentral_km(e.lat, e.lon, src[0], src[1])) < 10.0


def test_re_reported_pending_pick_is_kept_once() -> None:
    assoc = Associator()
    ids, source = CITY
    picks = _picks(ids, source)
    _feed(assoc, picks[:3])
    # the detector re-reports the third pick (bigger window): no duplicate station, no event
    assert _feed(assoc, [pick(picks[2].station_id, picks[2].time, window_s=2.0)]) == []
    (declared,) = _feed(assoc, picks[3:])
    assert declared.event.station_count == 4


def _report_all(assoc: Associator, until: datetime) -> None:
    """Every station of the network has data up to `until`."""
    for station_id, site in sites().items():
        assoc.station_seen(station_id, site.lat, site.lon, until, elevation_m=site.elevation_m)


def test_silent_stations_veto_four_unrelated_triggers() -> None:
    assoc = Associator()
    ids, source = CITY
    picks = _picks(ids, source)
    # four city stations trigger as one source would make them, but the data of the five other
    # city stations, as near to that source, covers their P arrivals and they stayed quiet
    late = picks[-1].time + timedelta(seconds=5)
    _report_all(assoc, late)
    assert [u for p in picks for u in _add(assoc, p, late)] == []


def test_a_real_event_passes_the_silence_check() -> None:
    assoc = Associator()
    source = TALGAR[1]
    # every station picks its P arrival; data everywhere runs to `now` as picks come in
    arrivals = _arrivals(list(sites()), source)
    updates: list[EventUpdate] = []
    for t, station in arrivals[:6]:
        _report_all(assoc, t + LATENCY)
        updates.extend(_add(assoc, pick(station, t), t + LATENCY))
    # declared on the fourth pick, from the four nearest stations, then grown
    assert [u.change for u in updates] == [EventChange.DECLARED, *[EventChange.UPDATED] * 2]
    assert set(updates[0].event.station_ids) == {s for _, s in arrivals[:4]}


@pytest.mark.parametrize(
    ("max_span_km", "declared"),
    [
        # Uzynagash to Shelek is ~160 km: over the default 150 km span, no event from them
        (150.0, False),
        # a wider span accepts the same, consistent, picks
        (400.0, True),
    ],
)
def test_founding_stations_must_lie_close_together(max_span_km: float, declared: bool) -> None:
    assoc = Associator(AssociatorConfig(max_span_km=max_span_km))
    ids = ["SEIS-11", "SEIS-10", "SEIS-14", "SEIS-18"]
    updates = _feed(assoc, _picks(ids, (43.3, 77.2, 10.0)))
    assert bool(updates) is declared


@pytest.mark.parametrize(
    "source",
    [
        # south-east, near Upper Chilik, outside the dense city cluster
        (42.75, 77.9, 10.0),
        # under the city
        (43.25, 76.92, 15.0),
    ],
)
def test_whole_network_with_pick_errors_makes_one_event(source: tuple[float, float, float]) -> None:
    assoc = Associator()
    rng = np.random.default_rng(3)
    updates: list[EventUpdate] = []
    for t, station in _arrivals(list(sites()), source):
        # picks off by up to ±0.3 s (emergent onsets, clock error)
        jitter = timedelta(seconds=float(rng.uniform(-0.3, 0.3)))
        updates += _add(assoc, pick(station, t + jitter), t + LATENCY)
    # one event, which every one of the 28 stations joins, still within a few km
    assert len({u.event.event_id for u in updates}) == 1
    final = updates[-1].event
    assert final.station_count == len(sites()) == 28
    assert float(epicentral_km(final.lat, final.lon, source[0], source[1])) < 5.0
