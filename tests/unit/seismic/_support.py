"""Helpers of the seismic tests: the bundled stations, packets, synthetic signals, references."""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from collector.models import SeismicPacket
from collector.seismic import DetectorConfig, Pick, VelocityModel, epicentral_km

Array = npt.NDArray[np.float64]

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
STATIONS_FILE = Path(__file__).parents[3] / "collector" / "data" / "stations.toml"


@dataclass(frozen=True)
class Site:
    id: str
    lat: float
    lon: float
    elevation_m: float
    sr: float


@functools.cache
def sites() -> dict[str, Site]:
    """The bundled network's seismic stations (`kind = "seismic"`)."""
    with STATIONS_FILE.open("rb") as f:
        table = tomllib.load(f)
    return {
        s["id"]: Site(s["id"], s["lat"], s["lon"], s["elevation_m"], s["sr"])
        for s in table["station"]
        if s["kind"] == "seismic"
    }


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def packets(
    data: Array, sr: float, size: int, *, start: datetime = T0, station: str = "SEIS-01"
) -> list[SeismicPacket]:
    """Cut (3, n) samples into packets of `size` samples; first sample at `start`."""
    out = []
    for k in range(0, data.shape[1], size):
        chunk = data[:, k : k + size].astype(np.float32)
        first = start + timedelta(microseconds=round(k * 1e6 / sr))
        out.append(SeismicPacket(station, first, sr, chunk[0], chunk[1], chunk[2]))
    return out


def as_sent(data: Array) -> Array:
    """The samples as a packet carries them (float32), back in float64 for the references."""
    return data.astype(np.float32).astype(np.float64)


def noise(seconds: float, sr: float, *, sigma: float = 0.1, seed: int = 1) -> Array:
    """Gaussian sensor noise in gal with a gravity offset on z, as a MEMS sensor reports it."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, sigma, (3, round(seconds * sr)))
    data[2] += 981.0
    return data


def wavelet(sr: float, *, duration: float = 2.0, freq: float = 2.0) -> Array:
    """A displacement wavelet sin(2πft)·sin²(πt/T) (unit peak order), smooth at its onset."""
    t = np.arange(round(duration * sr)) / sr
    return np.asarray(np.sin(2 * np.pi * freq * t) * np.sin(np.pi * t / duration) ** 2)


def acceleration(displacement: Array, sr: float) -> Array:
    """Second derivative by central differences (same length)."""
    return np.gradient(np.gradient(displacement, 1 / sr), 1 / sr)


def with_onset(data: Array, sr: float, at_s: float, amplitude_gal: float, seed: int = 2) -> Array:
    """Add an impulsive P-like onset: noise bursts that start at `at_s` and decay over 5 s."""
    out = data.copy()
    start = round(at_s * sr)
    rng = np.random.default_rng(seed)
    t = np.arange(out.shape[1] - start) / sr
    out[:, start:] += amplitude_gal * rng.normal(0.0, 1.0, (3, t.size)) * np.exp(-t / 5.0)
    return out


# --- straightforward (non-streaming) reference implementation of the detector's STA/LTA ---


def reference_highpass(
    raw: Array, sr: float, cfg: DetectorConfig, baseline: Array | None = None
) -> Array:
    """y[n] = a·(y[n−1] + x[n] − x[n−1]), sample by sample, from x[−1] = x[0], y = x[0] − baseline.

    Without a baseline y starts at 0 (the detector's start); with one, the filter resumes as it
    does after a bridged gap.
    """
    a = math.exp(-2 * math.pi * cfg.highpass_hz / sr)
    prev = raw[:, 0].copy()
    y = np.zeros(3) if baseline is None else raw[:, 0] - baseline
    out = np.empty_like(raw)
    for n in range(raw.shape[1]):
        y = a * (y + raw[:, n] - prev)
        prev = raw[:, n]
        out[:, n] = y
    return out


def reference_sta_lta(filtered: Array, sr: float, cfg: DetectorConfig) -> Array:
    """Windowed means of a² ending at each sample; 0 before LTA samples exist (ObsPy classic)."""
    nsta, nlta = round(cfg.sta_s * sr), round(cfg.lta_s * sr)
    energy = filtered**2
    ratio = np.zeros_like(energy)
    for i in range(nlta - 1, energy.shape[1]):
        sta = energy[:, i - nsta + 1 : i + 1].mean(axis=1)
        lta = energy[:, i - nlta + 1 : i + 1].mean(axis=1)
        ratio[:, i] = sta / np.maximum(lta, cfg.min_lta_gal2)
    return ratio


def first_above(ratio: Array, threshold: float) -> int:
    """Index of the first sample whose ratio on any component exceeds `threshold`."""
    return int(np.flatnonzero((ratio > threshold).any(axis=0))[0])


# --- synthetic arrivals for the associator ---


def arrival(site: Site, source: tuple[float, float, float], origin: datetime) -> datetime:
    """P arrival at `site` from (lat, lon, depth) in the default velocity model."""
    lat, lon, depth = source
    epi = float(epicentral_km(lat, lon, site.lat, site.lon))
    travel = float(VelocityModel().p_time(epi, depth, site.elevation_m / 1000))
    return origin + timedelta(seconds=travel)


def pick(
    station: str,
    time: datetime,
    *,
    pd_cm: float = 0.0,
    window_s: float = 0.5,
    final: bool = False,
) -> Pick:
    return Pick(
        station_id=station,
        time=time,
        sta_lta=8.0,
        pga_gal=1.0,
        pd_cm=pd_cm,
        window_s=window_s,
        component="z",
        final=final,
    )
