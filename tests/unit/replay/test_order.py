"""Event-time order: the reorder buffer, merging several files, and miniSEED through ObsPy."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from collector.export_format import to_json_line
from collector.models import AirReading, Reading, SeismicPacket
from collector.replay_files import (
    ReadOptions,
    ReplayError,
    in_time_order,
    merged_readings,
    read_file,
)
from tests.unit.replay._support import DATA, SAMPLE, key, utc

T0 = utc("2026-01-10T08:00:00+00:00")


def _air(minute: int, station: str = "AIR-01") -> AirReading:
    return AirReading(station, T0 + timedelta(minutes=minute), pm25=float(minute))


def _numbered(readings: list[AirReading]) -> list[tuple[int, Reading]]:
    return [(line, r) for line, r in enumerate(readings, start=1)]


@pytest.mark.parametrize(
    ("minutes", "window"),
    [
        # Already sorted: unchanged, whatever the window.
        ([0, 1, 2, 3], 0),
        # Locally shuffled within the window: sorted.
        ([1, 0, 3, 2, 5, 4], 1),
        # Reversed entirely, but the window holds the whole file: sorted.
        ([5, 4, 3, 2, 1, 0], 8),
    ],
)
def test_reorder_buffer_sorts_within_its_window(minutes: list[int], window: int) -> None:
    out = in_time_order(_numbered([_air(m) for m in minutes]), window, "f")
    assert [r.time for r in out] == sorted(T0 + timedelta(minutes=m) for m in minutes)


def test_reorder_buffer_refuses_what_it_cannot_sort() -> None:
    # A reading older than one already released: an error naming the line, never a silent
    # out-of-order publication (the daemon's windows assume event-time order per station).
    readings = _numbered([_air(m) for m in (3, 4, 5, 0)])
    with pytest.raises(ReplayError, match=r"f:4: .* sort the file"):
        list(in_time_order(readings, 1, "f"))


def test_several_files_are_merged_by_time(tmp_path: Path) -> None:
    # Two recordings interleave by event time; the OpenEEW one (2019) comes first.
    first = tmp_path / "a.jsonl"
    first.write_bytes(b"".join(to_json_line(_air(m, "AIR-09")) for m in (0, 2, 4)))
    files = [first, DATA / "export_sample.jsonl", DATA / "openeew_sample.jsonl"]
    merged = list(merged_readings(files, ReadOptions()))
    times = [r.time for r in merged]
    assert times == sorted(times)
    assert len(merged) == 3 + len(SAMPLE) + 3
    assert [r.station_id for r in merged[:3]] == ["000", "001", "000"]
    interleaved = [r.station_id for r in merged if r.station_id in ("AIR-02", "AIR-09")]
    assert interleaved == ["AIR-09", "AIR-02", "AIR-09", "AIR-09"]


def test_merging_is_lazy(tmp_path: Path) -> None:
    # Streaming: a bad line far down a file is only met when the merge reaches it.
    path = tmp_path / "late.jsonl"
    path.write_bytes(to_json_line(_air(0)) + b"{broken\n")
    merged = merged_readings([path], ReadOptions(reorder_window=0))
    assert key(next(merged)) == key(_air(0))
    with pytest.raises(ReplayError, match=":2: not JSON"):
        next(merged)


def test_miniseed_without_gain_is_refused() -> None:
    # Counts are not gal: without a gain replay refuses instead of publishing nonsense.
    with pytest.raises(ReplayError, match="--gain"):
        read_file(DATA / "kz_tlg.mseed", ReadOptions())


def test_miniseed_without_obspy(monkeypatch: pytest.MonkeyPatch) -> None:
    # ObsPy is an optional extra: its absence is one clear line saying how to install it.
    real = importlib.import_module

    def no_obspy(name: str, package: str | None = None) -> ModuleType:
        if name == "obspy":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_obspy)
    with pytest.raises(ReplayError, match=r"kuzet\[replay\]"):
        read_file(DATA / "kz_tlg.mseed", ReadOptions(gain=100.0))


@pytest.mark.parametrize(
    ("options", "sizes", "station"),
    [
        # Default packets hold one second (100 samples at 100 Hz); the station code is the id.
        (ReadOptions(gain=100.0), [100, 100, 50], "TLG"),
        # --packet-samples and --station-map NET.STA=ID.
        (
            ReadOptions(gain=100.0, packet_samples=120, station_map={"KZ.TLG": "SEIS-01"}),
            [120, 120, 10],
            "SEIS-01",
        ),
    ],
)
def test_miniseed_packets(options: ReadOptions, sizes: list[int], station: str) -> None:
    pytest.importorskip("obspy", reason="miniSEED support is the optional extra kuzet[replay]")
    packets = [p for p in read_file(DATA / "kz_tlg.mseed", options) if isinstance(p, SeismicPacket)]
    assert [p.n for p in packets] == sizes
    assert all(p.station_id == station for p in packets)
    first = packets[0]
    assert first.time == T0
    assert packets[1].time == T0 + timedelta(seconds=sizes[0] / 100)
    # The sample file holds counts k·(i+1) − 100·i on HNE/HNN/HNZ: gal = counts / gain.
    assert np.allclose(first.x[:3], [0.0, 0.01, 0.02])
    assert np.allclose(first.y[:3], [-1.0, -0.98, -0.96])
    assert np.allclose(first.z[:3], [-2.0, -1.97, -1.94])
