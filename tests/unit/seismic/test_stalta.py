"""Streaming STA/LTA detector: equality with the reference, picks, duplicates, gaps, PGA, Pd."""

from __future__ import annotations

import functools
import math
import timeit
from datetime import timedelta

import numpy as np
import pytest

from collector.models import SeismicPacket
from collector.seismic import (
    DetectorConfig,
    DetectorResult,
    PacketStatus,
    StationDetector,
)
from tests.unit.seismic._support import (
    T0,
    Array,
    acceleration,
    as_sent,
    at,
    first_above,
    noise,
    packets,
    reference_highpass,
    reference_sta_lta,
    wavelet,
    with_onset,
)

CFG = DetectorConfig()
ONSET_S = 25.0


@functools.cache
def _signal(sr: float) -> tuple[Array, Array]:
    """40 s of noise with a P-like onset at 25 s, and its reference STA/LTA."""
    data = as_sent(with_onset(noise(40.0, sr), sr, ONSET_S, amplitude_gal=2.0))
    return data, reference_sta_lta(reference_highpass(data, sr, CFG), sr, CFG)


def _run(det: StationDetector, stream: list[SeismicPacket]) -> list[DetectorResult]:
    return [det.process(p) for p in stream]


def _ratio(results: list[DetectorResult]) -> Array:
    return np.concatenate([r.ratio for r in results], axis=1)


@pytest.mark.parametrize(
    ("sr", "size"),
    [
        # sample-by-sample delivery: every window straddles packet boundaries
        (100.0, 1),
        # OpenEEW packet length at a strong-motion rate
        (100.0, 32),
        # the usual one-second packet of a 100 Hz station
        (100.0, 100),
        # the largest packet the contract allows (20 s, longer than the LTA)
        (100.0, 2000),
        # OpenEEW sensors: 32 samples at 31.25 Hz (1.024 s packets, not second-aligned)
        (31.25, 32),
        # one sample at a time at 31.25 Hz
        (31.25, 1),
        # 31.25 Hz in 100-sample packets
        (31.25, 100),
        # the whole 40 s in one packet at 31.25 Hz
        (31.25, 2000),
    ],
)
def test_ratio_equals_reference_whatever_the_split(sr: float, size: int) -> None:
    data, expected = _signal(sr)
    results = _run(StationDetector("SEIS-01"), packets(data, sr, size))
    assert all(r.status in {PacketStatus.FIRST, PacketStatus.CONTIGUOUS} for r in results)
    np.testing.assert_allclose(_ratio(results), expected, rtol=1e-9, atol=1e-9)
    picks = [p for r in results for p in r.picks]
    # exactly one pick, at the reference's first sample above 3.5, whatever the split
    assert {p.time for p in picks} == {at(first_above(expected, CFG.trigger_on) / sr)}


@pytest.mark.parametrize(
    ("sr", "size"),
    [
        # 100 Hz strong-motion station, one-second packets
        (100.0, 100),
        # OpenEEW sensor: 32-sample packets at 31.25 Hz
        (31.25, 32),
    ],
)
def test_pick_at_the_onset_sample(sr: float, size: int) -> None:
    data, expected = _signal(sr)
    picks = [p for r in _run(StationDetector("SEIS-01"), packets(data, sr, size)) for p in r.picks]
    first = picks[0]
    # the pick is the first sample above the on-threshold, within 0.1 s after the true onset
    assert first.time == at(first_above(expected, CFG.trigger_on) / sr)
    onset = at(round(ONSET_S * sr) / sr)  # the first sample of the onset
    assert timedelta(0) <= first.time - onset <= timedelta(seconds=0.1)
    assert first.sta_lta > CFG.trigger_on


@pytest.mark.parametrize(
    ("sr", "sigma", "seed"),
    [
        # quiet 100 Hz strong-motion sensor, two minutes
        (100.0, 0.01, 3),
        # noisy MEMS sensor at 100 Hz
        (100.0, 1.0, 4),
        # OpenEEW MEMS sensor at 31.25 Hz (16-sample STA: the noisiest ratio)
        (31.25, 0.3, 5),
    ],
)
def test_no_pick_on_noise(sr: float, sigma: float, seed: int) -> None:
    data = noise(120.0, sr, sigma=sigma, seed=seed)
    results = _run(StationDetector("SEIS-01"), packets(data, sr, 100))
    assert not [p for r in results for p in r.picks]
    # the detector is warm and sees ordinary noise, not a silent channel
    assert 0.3 < float(_ratio(results)[:, -1000:].mean()) < 1.5


@pytest.mark.parametrize(
    "amplitude",
    [
        # a flat (dead) channel: the LTA floor keeps the ratio at 0, not 0/0
        0.0,
        # a constant offset only (gravity on z): removed by the high-pass without transient
        981.0,
    ],
)
def test_flat_channel_does_not_trigger(amplitude: float) -> None:
    data = np.full((3, 3000), amplitude)
    data[1, 2000] += 0.001  # one quantisation step on an otherwise flat trace
    results = _run(StationDetector("SEIS-01"), packets(data, 100.0, 100))
    assert not [p for r in results for p in r.picks]


def test_duplicates_and_overlaps_are_dropped() -> None:
    sr = 100.0
    data, expected = _signal(sr)
    stream = packets(data, sr, 100)
    # redelivery: packet 12 again after 13, and a packet overlapping 20 and 21 half-way
    half = stream[21]
    overlap = SeismicPacket(
        "SEIS-01",
        half.time - timedelta(seconds=0.5),
        sr,
        *(
            np.concatenate([a[50:], b[:50]])
            for a, b in zip(
                (stream[20].x, stream[20].y, stream[20].z), (half.x, half.y, half.z), strict=True
            )
        ),
    )
    fed = [*stream[:14], stream[12], *stream[14:21], overlap, *stream[21:]]
    results = _run(StationDetector("SEIS-01"), fed)
    statuses = [r.status for r in results]
    # the repeated packet is a duplicate: nothing processed, nothing reported
    assert statuses[14] is PacketStatus.DUPLICATE
    assert results[14].dropped_samples == 100
    assert not results[14].picks
    assert not results[14].pga
    # the overlap contributes only its 50 unseen samples, and so does the packet after it
    for k in (22, 23):
        assert statuses[k] is PacketStatus.OVERLAP
        assert (results[k].dropped_samples, results[k].new_samples) == (50, 50)
    # and the stream is exactly the clean one
    np.testing.assert_allclose(_ratio(results), expected, rtol=1e-9, atol=1e-9)
    seconds = [s.second for r in results for s in r.pga]
    assert len(seconds) == len(set(seconds)) == 40


def test_timestamp_jitter_below_half_a_sample_is_contiguous() -> None:
    sr = 100.0
    data, expected = _signal(sr)
    rng = np.random.default_rng(7)
    stream = [
        SeismicPacket(p.station_id, p.time + timedelta(milliseconds=float(j)), sr, p.x, p.y, p.z)
        for p, j in zip(packets(data, sr, 100), rng.uniform(-4, 4, 40), strict=True)
    ]
    results = _run(StationDetector("SEIS-01"), stream)
    # ±4 ms at 100 Hz is under half a sample: no gap, no overlap, identical ratios
    assert {r.status for r in results[1:]} == {PacketStatus.CONTIGUOUS}
    np.testing.assert_allclose(_ratio(results), expected, rtol=1e-9, atol=1e-9)


def test_device_clock_drift_costs_single_samples() -> None:
    sr = 100.0
    stream = packets(noise(60.0, sr), sr, 100)
    # the device stamps each 100-sample packet 1.002 s after the previous one: 0.2 sample/packet
    drifted = [
        SeismicPacket(p.station_id, p.time + timedelta(seconds=0.002 * k), sr, p.x, p.y, p.z)
        for k, p in enumerate(stream)
    ]
    results = _run(StationDetector("SEIS-01"), drifted)
    bridged = [r.bridged_samples for r in results if r.status is PacketStatus.BRIDGED]
    # 60 × 0.2 = 12 samples of drift: a one-sample bridge each time it reaches half a sample
    assert bridged == [1] * 12
    assert {r.status for r in results[1:]} <= {PacketStatus.CONTIGUOUS, PacketStatus.BRIDGED}
    assert not [p for r in results for p in r.picks]


def test_short_gap_is_bridged_with_zero_acceleration() -> None:
    sr = 100.0
    data = as_sent(with_onset(noise(40.0, sr), sr, 30.0, amplitude_gal=2.0))
    stream = packets(data, sr, 100)
    fed = stream[:15] + stream[16:]  # the packet of second 15 is lost
    results = _run(StationDetector("SEIS-01"), fed)
    assert results[15].status is PacketStatus.BRIDGED
    assert results[15].bridged_samples == 100
    # reference: high-passed data before the gap, 100 zeros, then the high-pass resumed from
    # the baseline (raw − high-passed) it had reached before the gap
    before = reference_highpass(data[:, :1500], sr, CFG)
    baseline = data[:, 1499] - before[:, -1]
    after = reference_highpass(data[:, 1600:], sr, CFG, baseline=baseline)
    series = np.concatenate([before, np.zeros((3, 100)), after], axis=1)
    expected = reference_sta_lta(series, sr, CFG)
    np.testing.assert_allclose(_ratio(results), expected, rtol=1e-9, atol=1e-9)
    # no warm-up after the gap: the onset 14 s later is picked where the reference says
    picks = [p for r in results for p in r.picks]
    assert {p.time for p in picks} == {at(first_above(expected, CFG.trigger_on) / sr)}
    # the bridged second has no samples, so it is not reported
    assert at(15) not in {s.second for r in results for s in r.pga}


def test_long_gap_restarts_with_warm_up() -> None:
    sr = 100.0
    data = with_onset(noise(60.0, sr), sr, 38.0, amplitude_gal=2.0)
    stream = packets(data, sr, 100)
    fed = stream[:20] + stream[30:]  # 10 s lost: more than max_bridge_s
    results = _run(StationDetector("SEIS-01"), fed)
    assert results[20].status is PacketStatus.RESET
    ratio = np.concatenate([r.ratio for r in results[20:]], axis=1)
    # warm-up: no ratio until 10 s (1000 samples) after the restart, then a valid one
    assert not ratio[:, :999].any()
    assert ratio[:, 999].all()
    # the onset 8 s after the restart is still on when the warm-up ends: not a (late) pick
    assert not [p for r in results for p in r.picks]
    assert results[29].triggered


@pytest.mark.parametrize(
    ("change", "status"),
    [
        # the station switches from 100 Hz to 31.25 Hz: windows are re-sized, warm-up again
        ("sr", PacketStatus.RESET),
        # the device clock jumps back 10 minutes: taken as a restart, not as 10 min of duplicates
        ("rewind", PacketStatus.RESET),
        # a packet 1 minute behind: already seen (the device clock must catch up)
        ("behind", PacketStatus.DUPLICATE),
    ],
)
def test_restarts(change: str, status: PacketStatus) -> None:
    sr = 100.0
    det = StationDetector("SEIS-01")
    _run(det, packets(noise(90.0, sr), sr, 100))
    data = noise(1.0, 31.25, seed=9)
    start = {"sr": at(90), "rewind": at(90 - 600), "behind": at(30)}[change]
    rate = 31.25 if change == "sr" else sr
    (result,) = _run(det, packets(data, rate, 100, start=start))
    assert result.status is status


def test_station_mismatch_is_refused() -> None:
    (packet,) = packets(noise(1.0, 100.0), 100.0, 100, station="SEIS-02")
    with pytest.raises(ValueError, match="SEIS-02"):
        StationDetector("SEIS-01").process(packet)


@pytest.mark.parametrize(
    ("sr", "size"),
    [
        # one-second packets aligned to the second: each second closes in its own packet
        (100.0, 100),
        # 1.024 s OpenEEW packets: seconds close when their last sample arrives
        (31.25, 32),
        # 20 s packets: twenty seconds per packet
        (100.0, 2000),
    ],
)
def test_pga_per_second_once_each(sr: float, size: int) -> None:
    n = round(40 * sr)
    data = np.zeros((3, n))
    data[2] += 981.0
    # spikes: z in second 3 (vertical, not PGA), x in second 5 and y in second 7 (horizontal)
    data[2, round(3.5 * sr)] += 100.0
    data[0, round(5.5 * sr)] = 30.0
    data[1, round(7.5 * sr)] = -40.0
    results = _run(StationDetector("SEIS-01"), packets(data, sr, size))
    seconds = [s for r in results for s in r.pga]
    # every whole second reported exactly once, in order, with all its samples
    assert [s.second for s in seconds] == [at(k) for k in range(40)]
    assert sum(s.samples for s in seconds) == n
    a = math.exp(-2 * math.pi * CFG.highpass_hz / sr)
    peaks = {s.second: s.pga_gal for s in seconds}
    # a one-sample spike A after silence leaves the high-pass as a·A
    assert peaks[at(5)] == pytest.approx(30.0 * a, rel=1e-9)
    assert peaks[at(7)] == pytest.approx(40.0 * a, rel=1e-9)
    # the vertical spike is not PGA: the horizontals are still silent in second 3
    assert peaks[at(3)] == 0.0


def test_pga_second_closes_in_the_packet_that_completes_it() -> None:
    sr = 100.0
    results = _run(StationDetector("SEIS-01"), packets(noise(5.0, sr), sr, 100))
    # latency matters: the packet of second k reports second k, not the next one
    assert [[s.second for s in r.pga] for r in results] == [[at(k)] for k in range(5)]


@pytest.mark.parametrize(
    ("sr", "size"),
    [
        # 100 Hz, one-second packets
        (100.0, 100),
        # OpenEEW 31.25 Hz packets
        (31.25, 32),
        # one packet holds the whole window
        (100.0, 2000),
    ],
)
def test_pick_amplitudes_pd_and_pga(sr: float, size: int) -> None:
    duration = 40.0
    n = round(duration * sr)
    rng = np.random.default_rng(11)
    data = rng.normal(0.0, 0.002, (3, n))
    data[2] += 981.0
    start = round(25.0 * sr)
    # a 2 Hz displacement wavelet of 0.2 cm on z and 0.3 cm on x, smooth at its onset
    disp = wavelet(sr)
    data[2, start : start + disp.size] += acceleration(0.2 * disp, sr)
    data[0, start : start + disp.size] += acceleration(0.3 * disp, sr)
    results = _run(StationDetector("SEIS-01"), packets(data, sr, size))
    reports = [p for r in results for p in r.picks]
    # one pick, re-reported with a growing window until it is final at 3 s
    assert len({p.time for p in reports}) == 1
    assert [p.final for p in reports].count(True) == 1
    assert reports[-1].final
    assert reports[-1].window_s == pytest.approx(3.0, abs=1 / sr)
    windows = [p.window_s for p in reports]
    assert windows == sorted(windows)
    # Pd: the three-pole 0.075 Hz high-pass passes 2 Hz almost untouched (within 3 %)
    true_pd = 0.2 * float(np.abs(disp).max())
    assert reports[-1].pd_cm == pytest.approx(true_pd, rel=0.03)
    # PGA: the peak horizontal acceleration of the wavelet (x), not the vertical one
    true_pga = float(np.abs(acceleration(0.3 * disp, sr)).max())
    assert reports[-1].pga_gal == pytest.approx(true_pga, rel=0.03)


@pytest.mark.parametrize(
    ("dead_time_s", "expected"),
    [
        # without dead time the second burst, 1.5 s after the first, is a second pick
        (0.0, 2),
        # the default 2 s dead time after trigger-off swallows it (coda re-trigger)
        (2.0, 1),
    ],
)
def test_dead_time_suppresses_retrigger(dead_time_s: float, expected: int) -> None:
    sr = 100.0
    data = noise(60.0, sr, sigma=0.05)
    rng = np.random.default_rng(12)
    for start in (30.0, 31.5):
        k = round(start * sr)
        data[:, k : k + 30] += rng.normal(0.0, 3.0, (3, 30))  # 0.3 s bursts
    det = StationDetector("SEIS-01", DetectorConfig(dead_time_s=dead_time_s))
    finals = [p for r in _run(det, packets(data, sr, 100)) for p in r.picks if p.final]
    assert len(finals) == expected
    assert finals[0].time == at(30.0)


@pytest.mark.benchmark
@pytest.mark.parametrize(
    ("sr", "size", "bound_us"),
    [
        # 100 Hz station, one-second packets: measured ~150 µs per station-second
        (100.0, 100, 1500.0),
        # OpenEEW sensor, 32 samples at 31.25 Hz: measured ~150 µs per station-second
        (31.25, 32, 1500.0),
    ],
)
def test_cpu_per_station_second(sr: float, size: int, bound_us: float) -> None:
    stream = packets(with_onset(noise(60.0, sr), sr, 30.0, 2.0), sr, size)
    seconds = 60.0

    def run() -> None:
        det = StationDetector("SEIS-01")
        for p in stream:
            det.process(p)

    best = min(timeit.repeat(run, number=1, repeat=5))
    assert best / seconds * 1e6 < bound_us


def test_pick_time_is_the_sample_time_of_the_packet() -> None:
    sr = 100.0
    data, expected = _signal(sr)
    stream = packets(data, sr, 100, start=T0 + timedelta(milliseconds=3))
    picks = [p for r in _run(StationDetector("SEIS-01"), stream) for p in r.picks]
    # a station whose samples sit 3 ms after the second: the pick keeps that offset
    index = first_above(expected, CFG.trigger_on)
    assert picks[0].time == at(index / sr) + timedelta(milliseconds=3)
