"""Seismic generator: travel times, attenuation, STA/LTA-detectable onsets, noise, wire forms."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pytest

from collector.models import Feed, SeismicPacket
from collector.simulate.common import FloatArray, to_datetime
from collector.simulate.payloads import seismic_item
from collector.simulate.seismic import (
    Quake,
    QuakeSource,
    SeismicModel,
    arrival,
    corner_hz,
    displacement_cm,
    pga_gal,
    wu_zhao_pd_cm,
)
from collector.stations import Station
from tests.unit.simulate._support import decode, network

EPOCH = 1_800_000_000.0
QUAKE = Quake(QuakeSource(), EPOCH + 20.0)
KM_PER_DEGREE = 2 * np.pi * 6371.0 / 360


def _model(quake: Quake | None = QUAKE, seed: int = 1) -> SeismicModel:
    return SeismicModel(network(), epoch=EPOCH, rng=np.random.default_rng(seed), quake=quake)


def _record(model: SeismicModel, station_id: str, seconds: float) -> FloatArray:
    site = model.sites[station_id]
    count = int(np.ceil(seconds * site.sr / site.samples))
    return np.concatenate([model.packet(station_id, k).samples for k in range(count)], axis=1)


def _sta_lta_pick(data: FloatArray, sr: float, on: float = 3.5) -> float | None:
    """Classic STA/LTA (0.5 s / 10 s) on the squared signal: seconds of the first pick."""
    ns, nl = int(0.5 * sr), int(10 * sr)
    first: float | None = None
    for trace in data:
        energy = np.concatenate([[0.0], np.cumsum(trace**2)])
        i = np.arange(nl, trace.size)
        ratio = ((energy[i + 1] - energy[i + 1 - ns]) / ns) / (
            (energy[i + 1] - energy[i + 1 - nl]) / nl
        )
        hits = np.nonzero(ratio >= on)[0]
        if hits.size:
            t = i[hits[0]] / sr
            first = t if first is None else min(first, t)
    return first


@pytest.mark.parametrize(
    ("north_km", "elevation_m"),
    [
        # Straight above the hypocentre: the rays run the depth only.
        (0.0, 0.0),
        # 20 km away: hypocentral distance √(20² + 15²) = 25 km.
        (20.0, 0.0),
        # 50 km away at 1.5 km elevation: the ray also climbs the mountain.
        (50.0, 1500.0),
        # Regional distance.
        (150.0, 700.0),
    ],
)
def test_arrival_times_are_distance_over_velocity(north_km: float, elevation_m: float) -> None:
    source = QuakeSource(lat=43.0, lon=77.0, depth_km=15.0, magnitude=5.5)
    station = Station(
        id="T-1",
        kind=Feed.SEISMIC,
        lat=43.0 + north_km / KM_PER_DEGREE,
        lon=77.0,
        elevation_m=elevation_m,
        sr=100.0,
    )
    hit = arrival(Quake(source, EPOCH), station)
    distance = float(np.hypot(north_km, 15.0 + elevation_m / 1000))
    assert hit.hypocentral_km == pytest.approx(distance, abs=0.01)
    assert hit.p_time - EPOCH == pytest.approx(distance / 6.0, abs=0.002)
    assert hit.s_time - EPOCH == pytest.approx(distance / 3.5, abs=0.002)


@pytest.mark.parametrize(
    ("magnitude", "distance_km", "expected_gal"),
    [
        # Joyner & Boore (1981), log10 PGA[g] = −1.02 + 0.249 M − log10 r − 0.00255 r, by hand:
        # M5.5 right above a 15 km deep source: 10^−0.865 g.
        (5.5, 15.0, 133.9),
        # M5.5 at the city (~50 km): a few tens of gal (10^−1.477 g), MMI ~4.
        (5.5, 50.0, 32.7),
        # Regional, 150 km: a few gal.
        (5.5, 150.0, 6.06),
        # One magnitude more: 10^0.249 ≈ 1.77 times the acceleration.
        (6.5, 50.0, 58.0),
        # Closer than JB's fictitious depth: saturates at r = 7.3 km.
        (5.5, 2.0, 287.8),
    ],
)
def test_pga_follows_joyner_boore(
    magnitude: float, distance_km: float, expected_gal: float
) -> None:
    assert pga_gal(magnitude, distance_km) == pytest.approx(expected_gal, rel=0.01)


def test_amplitude_decays_with_distance() -> None:
    # Peak of the noise-free motion = the model PGA, and it falls as stations get farther.
    model = _model()
    rows = []
    for sid, hit in model.arrivals.items():
        site = model.sites[sid]
        start = int((hit.p_time - EPOCH) * site.sr) - 10
        signal = model.quake_signal(sid, start, int(90 * site.sr))
        rows.append((hit.hypocentral_km, float(np.abs(signal[:2]).max()), hit.pga_gal))
    rows.sort()
    for _, measured, expected in rows:
        assert measured == pytest.approx(expected, rel=0.05)
    peaks = [expected for _, _, expected in rows]
    assert peaks == sorted(peaks, reverse=True)
    assert 20 <= peaks[0] <= 150  # tens of gal near the source
    assert peaks[-1] < peaks[0] / 5


def test_every_station_picks_at_the_p_arrival() -> None:
    # The daemon's default detector (STA 0.5 s, LTA 10 s, on 3.5) picks every station on the
    # P wave, within the associator's 1 s tolerance (typically a few samples), long before the
    # S wave: far more than the 4 stations an event needs.
    model = _model()
    delays = []
    for sid, hit in model.arrivals.items():
        site = model.sites[sid]
        pick = _sta_lta_pick(_record(model, sid, 75.0), site.sr)
        assert pick is not None, sid
        delays.append(EPOCH + pick - hit.p_time)
        assert 0.0 <= delays[-1] <= min(0.6, 0.5 * (hit.s_time - hit.p_time)), sid
    assert len(delays) >= 4
    assert float(np.median(delays)) < 0.15


def test_no_motion_before_the_p_wave() -> None:
    # Causality: nothing at a station before its P arrival, so picks cannot come early.
    model = _model()
    for sid, hit in model.arrivals.items():
        site = model.sites[sid]
        before = int((hit.p_time - EPOCH) * site.sr) - 1
        assert not model.quake_signal(sid, 0, before).any(), sid


@pytest.mark.parametrize("seed", [1, 2])
def test_background_noise_level(seed: int) -> None:
    # Without a quake a packet's peak stays in the quiet range of ~0.05–0.3 gal.
    model = _model(quake=None, seed=seed)
    for sid, site in model.sites.items():
        data = _record(model, sid, 10.0)
        per_packet = np.abs(data).reshape(3, -1, site.samples).max(axis=(0, 2))
        assert 0.04 <= float(np.median(per_packet)) <= 0.35, sid
        assert _sta_lta_pick(np.tile(data, 2), site.sr) is None, sid


@pytest.mark.parametrize(
    ("station_id", "sr", "samples", "openeew"),
    [
        # OpenEEW sensor at 31.25 Hz: 32-sample packets with device_t/cloud_t and traces.
        ("SEIS-03", 31.25, 32, True),
        # Strong-motion station at 100 Hz: 1 s packets of 100 samples, native form.
        ("SEIS-01", 100.0, 100, False),
        ("SEIS-24", 100.0, 100, False),
    ],
)
def test_packet_forms_decode_to_the_sample_times(
    station_id: str, sr: float, samples: int, openeew: bool
) -> None:
    model = _model()
    site = model.sites[station_id]
    times = []
    for k in range(3):
        packet = model.packet(station_id, k)
        payload = orjson.dumps(seismic_item(site, packet))
        document = orjson.loads(payload)
        assert ("traces" in document and "cloud_t" in document and "device_t" in document) is (
            openeew
        )
        assert ("ts" in document and "x" in document) is (not openeew)
        decoded = decode(Feed.SEISMIC, station_id, payload, packet.last_time + 1)
        assert decoded.rejections == ()
        (reading,) = decoded.readings
        assert isinstance(reading, SeismicPacket)
        assert (reading.sr, reading.n) == (sr, samples)
        assert reading.time == to_datetime(packet.first_time)
        np.testing.assert_allclose(reading.z, packet.samples[2], atol=1e-4)
        times.append(reading.time)
    # Packets tile time: each starts one packet length after the previous one.
    step = timedelta(seconds=samples / sr)
    assert times[1] - times[0] == step and times[2] - times[1] == step


@pytest.mark.parametrize(
    ("magnitude", "expected_hz"),
    [
        # Brune (1970), 30 bar: larger quakes radiate relatively more long-period energy.
        (4.5, 1.34),
        (5.5, 0.423),
        (6.5, 0.134),
    ],
)
def test_corner_frequency(magnitude: float, expected_hz: float) -> None:
    assert corner_hz(magnitude, 30.0, 3.5) == pytest.approx(expected_hz, rel=0.03)


@pytest.mark.parametrize(
    "magnitude",
    [
        # Across the range the demo uses, the early P displacement follows Wu & Zhao (2006),
        # so the daemon's Pd magnitude comes back as the simulated one.
        4.5,
        5.5,
        6.2,
    ],
)
def test_p_wave_displacement_follows_wu_zhao(magnitude: float) -> None:
    model = _model(Quake(QuakeSource(magnitude=magnitude), EPOCH + 20.0))
    for sid, hit in model.arrivals.items():
        site = model.sites[sid]
        start = int((hit.p_time - EPOCH) * site.sr) - int(5 * site.sr)
        signal = model.quake_signal(sid, start, int(20 * site.sr))
        p_only = np.where(np.arange(signal.shape[1]) + start < (hit.s_time - EPOCH) * site.sr, 1, 0)
        disp = displacement_cm(signal[2] * p_only, site.sr, 0.075)
        t = EPOCH + (start + np.arange(signal.shape[1])) / site.sr
        early = (t >= hit.p_time) & (t < hit.p_time + 3.0)
        pd = float(np.abs(disp[early]).max())
        assert pd == pytest.approx(wu_zhao_pd_cm(magnitude, hit.hypocentral_km), rel=0.15), sid
