"""The benchmark streams: deterministic native payloads (spec §3) and the stations files they need.

A stream is described by a small JSON-able `StreamSpec`, so the load generator (another
process) and the runner agree on every message without shipping payloads around.

Air: message j goes to station j mod S and carries reading round j div S (single) or readings
B·round … B·round + B − 1 (batch of B); reading i of a station is at `base + 60 s · i`, i.e. the
stream replays one-minute data, as the bundled network sends it. Values stay below every
default alert threshold, so the ingest rows measure ingest and not notifications.
Seismic: station k sends one 1 s packet of 100 samples per axis per second (100 Hz, native
form), data time = `base` + seconds.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from collector.stations import bundled_stations_path

READING_SPACING_S = 60
SEISMIC_SR = 100.0
# Seismic noise: a pool of pre-drawn samples, sliced per packet (data content does not change
# the detector's cost; the values look like a quiet city site, ~0.07 gal RMS).
_NOISE_POOL = 100 * 97


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What a stream publishes (shared by the runner and the load generator)."""

    kind: str  # "air" or "seismic"
    prefix: str  # topic prefix
    stations: int  # S
    batch: int = 1  # readings per message (air)
    base: float = 0.0  # Unix seconds of reading 0 / sample 0
    id_prefix: str = "BAIR-"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for the helper processes)."""
        return asdict(self)

    def station_id(self, k: int) -> str:
        """Station k's id."""
        return f"{self.id_prefix}{k:05d}"

    def topic(self, k: int) -> str:
        """Station k's topic."""
        return f"{self.prefix}/{self.kind}/{self.station_id(k)}"

    def time_range(self, first: int, end: int) -> tuple[datetime, datetime]:
        """Reading times [lo, hi) of air messages first … end − 1 (both multiples of S)."""
        lo = self.base + (first // self.stations) * self.batch * READING_SPACING_S
        hi = self.base + (end // self.stations) * self.batch * READING_SPACING_S
        return datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=65536)
def _ts_field(base: float, i: int) -> bytes:
    return b'{"ts":"' + _ts(base + i * READING_SPACING_S).encode() + b'",'


@functools.lru_cache(maxsize=4096)
def _values(kind: str, h: int) -> bytes:
    """The measurement fields of a reading with hash h (JSON object body without `ts`)."""
    if kind == "lake":
        values: dict[str, float] = {
            "level_m": round(2.0 + h % 100 / 1000, 3),
            "water_temp": round(2.0 + h % 40 / 10, 1),
            "precip_mm": round(h % 7 / 10, 1),
        }
    else:
        # Below every default air threshold (pm25 < 35, no2 < 40, AQI < 151).
        values = {
            "pm25": round(5.0 + h % 250 / 10, 1),
            "pm10": round(10.0 + h % 500 / 10, 1),
            "no2": round(8.0 + h % 300 / 10, 1),
            "temp": round(-10.0 + h % 200 / 10, 1),
            "rh": float(30 + h % 60),
        }
    return orjson.dumps(values)[1:]


def reading(spec: StreamSpec, k: int, i: int) -> bytes:
    """Reading i of station k as one JSON object (air: every field of the native form)."""
    h = (i * 7919 + k * 104729) % 1000
    return _ts_field(spec.base, i) + _values(spec.kind, h)


def message(spec: StreamSpec, j: int) -> tuple[str, bytes]:
    """Message j of an air or lake stream: (topic, payload)."""
    k, rnd = j % spec.stations, j // spec.stations
    if spec.batch == 1:
        return spec.topic(k), reading(spec, k, rnd)
    first = rnd * spec.batch
    items = b",".join(reading(spec, k, i) for i in range(first, first + spec.batch))
    return spec.topic(k), b"[" + items + b"]"


class SeismicPackets:
    """Packets of a seismic stream (noise only), cheap to make at hundreds of stations."""

    def __init__(self, spec: StreamSpec, seed: int = 7) -> None:
        self._spec = spec
        rng = np.random.default_rng(seed)
        self._noise = np.round(rng.normal(0.0, 0.07, (3, _NOISE_POOL)), 4)

    def message(self, k: int, second: int) -> tuple[str, bytes]:
        """Station k's packet of data second `second`."""
        n = int(SEISMIC_SR)
        offset = (k * 7919 + second * 101) % (_NOISE_POOL - n)
        block = self._noise[:, offset : offset + n]
        payload = {
            "ts": _ts(self._spec.base + second),
            "sr": SEISMIC_SR,
            "x": block[0].tolist(),
            "y": block[1].tolist(),
            "z": block[2].tolist(),
        }
        return self._spec.topic(k), orjson.dumps(payload)


def _station(
    sid: str, kind: str, k: int, *, interval_s: float, district: str = "Almaly"
) -> list[str]:
    # Positions on a grid around the city: plausible and distinct (the associator needs them).
    lat = 43.05 + (k % 100) * 0.004
    lon = 76.70 + (k // 100 % 100) * 0.006
    lines = [
        "[[station]]",
        f'id = "{sid}"',
        f'kind = "{kind}"',
        f'name = "benchmark {sid}"',
        f"lat = {lat:.4f}",
        f"lon = {lon:.4f}",
        "elevation_m = 800.0",
        f'district = "{district}"',
        f"interval_s = {interval_s:g}",
    ]
    if kind == "seismic":
        lines.append(f"sr = {SEISMIC_SR}")
    if kind == "lake":
        lines += ["warning_level_m = 4.0", "critical_level_m = 5.0", 'downstream = "Bench"']
    return [*lines, ""]


@dataclass(frozen=True, slots=True)
class StationGroup:
    """`count` stations `<id_prefix>00000…` of one kind."""

    id_prefix: str
    kind: str
    count: int
    interval_s: float = 60.0


def write_stations(path: Path, groups: list[StationGroup], *, bundled: bool) -> Path:
    """Write a stations file: the bundled Almaty network (if `bundled`) plus generated groups."""
    parts = [bundled_stations_path().read_text(encoding="utf-8")] if bundled else []
    parts.append("# generated by tests.benchmarks (positions are a grid, not real sites)\n")
    for group in groups:
        for k in range(group.count):
            sid = f"{group.id_prefix}{k:05d}"
            parts.append("\n".join(_station(sid, group.kind, k, interval_s=group.interval_s)))
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
