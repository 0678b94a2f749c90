"""Seismic generator: background noise and a quake's P and S waves at each station, in gal.

The model (coefficients in `SeismicParams`):

* Sampling: each station's `sr` (100 Hz strong-motion sensors: 1 s packets of 100 samples in
  the native form; 31.25 Hz OpenEEW sensors: 32-sample packets, 1.024 s, in the OpenEEW form).
  Sample n of every station is at `epoch + n / sr`, so packets tile time without gaps.
* Background: RMS 0.05–0.10 gal in the city (traffic), 0.02–0.05 gal at remote stations and
  0.08–0.10 gal on the low-cost OpenEEW MEMS sensors: peaks per second of roughly 0.05–0.3 gal.
* Travel times: straight rays in a homogeneous crust, Vp = 6.0 km/s and Vs = 3.5 km/s
  (Vp/Vs ≈ 1.71, typical average crust of the northern Tien Shan), over the hypocentral
  distance from the source to the station (station elevation included).
* Amplitude: peak horizontal acceleration from Joyner & Boore (1981, BSSA 71(6), 2011–2038):
  log10 PGA[g] = −1.02 + 0.249 M − log10 r − 0.00255 r, with r the hypocentral distance
  (at least 7.3 km, their fictitious depth). M 5.5 at 15 km depth: ~135 gal above the
  hypocentre, ~30 gal at 50 km, ~6 gal at 150 km.
* Waveforms: Gaussian noise with Brune's ω² acceleration spectrum (corner frequency from
  the magnitude, 30 bar stress drop; flat above it, falling as f² below) band-limited above
  at 15 Hz, losing high frequencies with distance, under envelopes with a sharp onset and an
  exponential decay whose length grows with distance and magnitude. The P wave is strongest on
  the vertical and scaled so that its peak displacement in the first 3 s (Pd) follows Wu & Zhao
  (2006), log10 Pd = −3.463 + 0.729 M − 1.374 log10 R: a Pd-based magnitude estimator (the
  daemon's) recovers the source magnitude. The S wave carries the PGA on the horizontals.
  Waveforms are computed once per quake.
* Background noise is shaped the same way with a 1 Hz corner up to 20 Hz (cultural noise),
  so that it does not masquerade as long-period displacement in Pd.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np

from collector.models import Feed
from collector.simulate.common import FloatArray, TsStyle, distance_km, ts_style_for
from collector.stations import Station

G_GAL: Final = 980.665
_JB_DEPTH_KM: Final = 7.3


@dataclass(frozen=True, slots=True)
class SeismicParams:
    """Coefficients of the seismic model (km, s, Hz, gal)."""

    vp_km_s: float = 6.0
    vs_km_s: float = 3.5
    # Source spectrum (Brune): stress drop, and the P corner relative to the S corner.
    stress_drop_bar: float = 30.0
    p_corner_ratio: float = 1.5
    # Pd as Wu & Zhao (2006) measure it: 3 s after the P onset, 0.075 Hz high-pass.
    pd_window_s: float = 3.0
    pd_highpass_hz: float = 0.075
    noise_city_gal: tuple[float, float] = (0.05, 0.10)
    noise_remote_gal: tuple[float, float] = (0.02, 0.05)
    noise_openeew_gal: tuple[float, float] = (0.08, 0.10)
    city_district: str = "Almaty"
    openeew_rate_hz: float = 31.25
    openeew_samples: int = 32
    packet_s: float = 1.0
    band_high_hz: float = 15.0
    band_loss_hz_per_km: float = 0.04
    band_min_hz: float = 4.0
    # Background noise: cultural (traffic, machinery) noise lives at 1–20 Hz.
    noise_low_hz: float = 1.0
    noise_high_hz: float = 20.0
    noise_block_packets: int = 64
    # Below the spec's 5000 gal limit: a misconfigured source must not produce rejected packets.
    clip_gal: float = 4000.0
    # OpenEEW device clocks run slightly off; cloud_t (the time we trust) is exact.
    device_skew_s: float = 0.05


@dataclass(frozen=True, slots=True)
class QuakeSource:
    """Where and how big an earthquake is.

    The default is an illustrative M 5.5 about 50 km east-southeast of the city centre,
    between the Issyk and Chilik valleys (the western Chilik zone).
    """

    lat: float = 43.15
    lon: float = 77.55
    depth_km: float = 15.0
    magnitude: float = 5.5
    name: str = "western Chilik zone (illustrative)"


@dataclass(frozen=True, slots=True)
class Quake:
    """A source and its origin time (Unix seconds)."""

    source: QuakeSource
    origin: float


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a quake does at one station: distances, P and S arrival times, peak acceleration."""

    station_id: str
    epicentral_km: float
    hypocentral_km: float
    p_time: float
    s_time: float
    pga_gal: float


def pga_gal(magnitude: float, hypocentral_km: float) -> float:
    """Peak horizontal acceleration (gal) after Joyner & Boore (1981), mean (P = 0)."""
    r = max(hypocentral_km, _JB_DEPTH_KM)
    log_g = -1.02 + 0.249 * magnitude - math.log10(r) - 0.00255 * r
    return G_GAL * 10**log_g


def arrival(quake: Quake, station: Station, params: SeismicParams | None = None) -> Arrival:
    """P and S arrival times and PGA of `quake` at `station` (which needs a position)."""
    p = params or SeismicParams()
    if station.lat is None or station.lon is None:
        raise ValueError(f"station {station.id} has no position")
    src = quake.source
    epicentral = float(distance_km(station.lat, station.lon, src.lat, src.lon))
    vertical = src.depth_km + (station.elevation_m or 0.0) / 1000
    hypocentral = float(np.hypot(epicentral, vertical))
    return Arrival(
        station_id=station.id,
        epicentral_km=epicentral,
        hypocentral_km=hypocentral,
        p_time=quake.origin + hypocentral / p.vp_km_s,
        s_time=quake.origin + hypocentral / p.vs_km_s,
        pga_gal=pga_gal(src.magnitude, hypocentral),
    )


@dataclass(frozen=True, slots=True)
class SeismicSite:
    """The static, per-station part of the model."""

    station_id: str
    sr: float
    openeew: bool
    samples: int
    noise_gal: float
    ts_style: TsStyle
    device_skew_s: float


@dataclass(frozen=True, slots=True, eq=False)
class SeismicPacketData:
    """One packet: samples[0..2] are x, y, z in gal; sample i is at first_time + i / sr."""

    station_id: str
    index: int
    first_time: float
    sr: float
    samples: FloatArray

    @property
    def last_time(self) -> float:
        """Time of the last sample (OpenEEW's `device_t`/`cloud_t`)."""
        n: int = self.samples.shape[1]
        return self.first_time + (n - 1) / self.sr


def corner_hz(magnitude: float, stress_drop_bar: float, beta_km_s: float) -> float:
    """Brune (1970) corner frequency of the source spectrum, in Hz.

    fc = 4.906e6 · β · (Δσ / M0)^(1/3), β in km/s, Δσ in bar, M0 = 10^(1.5 M + 16.05) dyn·cm
    (Hanks & Kanamori 1979). M 5.5 with 30 bar: 0.42 Hz.
    """
    moment = 10 ** (1.5 * magnitude + 16.05)
    return float(4.906e6 * beta_km_s * (stress_drop_bar / moment) ** (1 / 3))


def wu_zhao_pd_cm(magnitude: float, hypocentral_km: float) -> float:
    """Peak vertical P displacement in the first 3 s, in cm (Wu & Zhao 2006, GRL 33, L16312).

    log10 Pd = −3.463 + 0.729 M − 1.374 log10 R, R the hypocentral distance in km.
    """
    r = max(hypocentral_km, 1.0)
    return float(10 ** (-3.463 + 0.729 * magnitude - 1.374 * math.log10(r)))


def _spectrum_noise(
    rng: np.random.Generator, n: int, sr: float, low_hz: float, high_hz: float
) -> FloatArray:
    """Unit-RMS Gaussian noise with a shaped acceleration spectrum.

    The spectrum rises as f² below `low_hz` (Brune's ω² source spectrum; a fair shape for
    cultural noise too) and falls off steeply above `high_hz` (attenuation, anti-alias filter).
    """
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, d=1 / sr)
    spectrum *= f**2 / (f**2 + low_hz**2) / np.sqrt(1 + (f / high_hz) ** 8)
    signal = np.fft.irfft(spectrum, n)
    rms = float(np.sqrt(np.mean(signal**2))) or 1.0
    return np.asarray(signal / rms)


def displacement_cm(acc_gal: FloatArray, sr: float, highpass_hz: float) -> FloatArray:
    """Acceleration (gal) integrated twice to displacement (cm), behind a three-pole high-pass.

    This is the real-time Pd processing (0.075 Hz high-pass, double integration), done here in
    the frequency domain on a zero-padded record.
    """
    n = acc_gal.shape[-1]
    f = np.fft.rfftfreq(2 * n, d=1 / sr)
    spectrum = np.fft.rfft(acc_gal, 2 * n)
    w = 2j * np.pi * f
    ratio = 1j * f / highpass_hz
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer = np.where(f > 0, (ratio / (1 + ratio)) ** 3 / w**2, 0)
    return np.asarray(np.fft.irfft(spectrum * transfer, 2 * n)[..., :n])


def _envelope(tau: FloatArray, rise_s: float, decay_s: float) -> FloatArray:
    """0 before the onset, then a quick rise and an exponential decay."""
    after = np.maximum(tau, 0.0)
    return np.asarray(
        np.where(tau >= 0, (1 - np.exp(-after / rise_s)) * np.exp(-after / decay_s), 0)
    )


class SeismicModel:
    """The seismic network: sites and (with a quake) each station's precomputed ground motion."""

    def __init__(
        self,
        stations: Iterable[Station],
        *,
        epoch: float,
        rng: np.random.Generator,
        quake: Quake | None = None,
        params: SeismicParams | None = None,
    ) -> None:
        """Build the sites and the quake's waveforms.

        Args:
            stations: the network; only `seismic` stations are used.
            epoch: time of sample 0 at every station (Unix seconds).
            rng: draws noise levels, clock skews, the quake waveforms and the noise key.
            quake: the earthquake, or None.
            params: model coefficients.
        """
        self.params = p = params or SeismicParams()
        self.epoch = epoch
        self.quake = quake
        self.sites: dict[str, SeismicSite] = {}
        self.arrivals: dict[str, Arrival] = {}
        self._waves: dict[str, tuple[int, FloatArray]] = {}
        self._index: dict[str, int] = {}
        self._noise_cache: dict[str, tuple[int, FloatArray]] = {}
        self._noise_key = int(rng.integers(2**63))
        for index, s in enumerate(st for st in stations if st.kind is Feed.SEISMIC):
            sr = s.sr or 100.0
            openeew = sr == p.openeew_rate_hz
            band = (
                p.noise_openeew_gal
                if openeew
                else p.noise_city_gal
                if s.district == p.city_district
                else p.noise_remote_gal
            )
            self._index[s.id] = index
            self.sites[s.id] = SeismicSite(
                station_id=s.id,
                sr=sr,
                openeew=openeew,
                samples=p.openeew_samples if openeew else max(round(sr * p.packet_s), 1),
                noise_gal=float(rng.uniform(*band)),
                ts_style=ts_style_for(index),
                device_skew_s=float(rng.uniform(-p.device_skew_s, p.device_skew_s)),
            )
            if quake is not None and s.lat is not None and s.lon is not None:
                hit = arrival(quake, s, p)
                self.arrivals[s.id] = hit
                self._waves[s.id] = self._waveform(self.sites[s.id], hit, rng)

    def _waveform(
        self, site: SeismicSite, hit: Arrival, rng: np.random.Generator
    ) -> tuple[int, FloatArray]:
        """The quake's motion at one site: (index of its first sample, array (3, m))."""
        p, quake = self.params, self.quake
        assert quake is not None  # noqa: S101 - only called with a quake
        sr, magnitude = site.sr, quake.source.magnitude
        s_decay = (1.5 + 0.025 * hit.hypocentral_km) * 10 ** (0.3 * (magnitude - 5.5))
        p_decay = min(s_decay, 0.5 * (hit.s_time - hit.p_time) + 0.5)
        first = int(np.floor((hit.p_time - self.epoch) * sr))
        length = int(np.ceil((hit.s_time - hit.p_time + 8 * s_decay + 2) * sr))
        t = self.epoch + (first + np.arange(length)) / sr
        high = min(
            0.45 * sr,
            max(p.band_min_hz, p.band_high_hz - p.band_loss_hz_per_km * hit.hypocentral_km),
        )
        fc = corner_hz(magnitude, p.stress_drop_bar, p.vs_km_s)
        p_waves = [_spectrum_noise(rng, length, sr, p.p_corner_ratio * fc, high) for _ in "xyz"]
        s_waves = [_spectrum_noise(rng, length, sr, fc, high) for _ in "xyz"]
        env_p = _envelope(t - hit.p_time, 0.05, p_decay)
        env_s = _envelope(t - hit.s_time, 0.15, s_decay)
        # P: strongest on the vertical (z); S: on the horizontals (x, y).
        wave_p = np.array([0.4 * p_waves[0], 0.4 * p_waves[1], p_waves[2]]) * env_p
        wave_s = np.array([s_waves[0], s_waves[1], 0.5 * s_waves[2]]) * env_s
        # P amplitude: its peak displacement in the first 3 s follows Wu & Zhao (2006), the
        # relation an early-warning detector inverts for magnitude.
        early = (t >= hit.p_time) & (t < hit.p_time + p.pd_window_s)
        pd = float(np.abs(displacement_cm(wave_p[2], sr, p.pd_highpass_hz)[early]).max())
        wave_p *= wu_zhao_pd_cm(magnitude, hit.hypocentral_km) / (pd or 1.0)
        wave_s *= hit.pga_gal / (np.abs(wave_s[:2]).max() or 1.0)
        return first, np.clip(wave_p + wave_s, -p.clip_gal, p.clip_gal)

    def quake_signal(self, station_id: str, first_index: int, n: int) -> FloatArray:
        """The noise-free quake motion at samples first_index .. first_index + n − 1."""
        out = np.zeros((3, n))
        wave = self._waves.get(station_id)
        if wave is None:
            return out
        start, data = wave
        lo, hi = max(first_index, start), min(first_index + n, start + data.shape[1])
        if lo < hi:
            out[:, lo - first_index : hi - first_index] = data[:, lo - start : hi - start]
        return out

    def packet_end(self, station_id: str, index: int) -> float:
        """When packet `index` is complete: the end of its last sample period."""
        site = self.sites[station_id]
        return self.epoch + (index + 1) * site.samples / site.sr

    def _noise(self, station_id: str, block: int) -> FloatArray:
        """Background noise block `block` of a station, (3, block length), from its own seed.

        Noise is made in blocks of `noise_block_packets` packets, each from a generator keyed by
        (run seed, station, block): any packet can be computed alone, in any order, and always
        comes out the same.
        """
        cached = self._noise_cache.get(station_id)
        if cached is not None and cached[0] == block:
            return cached[1]
        p, site = self.params, self.sites[station_id]
        n = site.samples * p.noise_block_packets
        rng = np.random.default_rng([self._noise_key, self._index[station_id], block])
        high = min(0.45 * site.sr, p.noise_high_hz)
        data = np.array([_spectrum_noise(rng, n, site.sr, p.noise_low_hz, high) for _ in "xyz"])
        data *= site.noise_gal
        data[2] *= 0.8  # vertical cultural noise is a little weaker than horizontal
        self._noise_cache[station_id] = (block, data)
        return data

    def packet(self, station_id: str, index: int) -> SeismicPacketData:
        """Packet `index` of a station: background noise plus the quake, if any."""
        site = self.sites[station_id]
        first = index * site.samples
        block, offset = divmod(index, self.params.noise_block_packets)
        start = offset * site.samples
        noise = self._noise(station_id, block)[:, start : start + site.samples]
        data = noise + self.quake_signal(station_id, first, site.samples)
        return SeismicPacketData(
            station_id=station_id,
            index=index,
            first_time=self.epoch + first / site.sr,
            sr=site.sr,
            samples=np.round(data, 4),
        )
