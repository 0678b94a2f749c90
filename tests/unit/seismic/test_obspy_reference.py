"""The detector against ObsPy's classic STA/LTA and AR picker on real records shipped with ObsPy.

Two recordings nobody here wrote, both of station BW.RJOB (velocity counts, not acceleration):

* ``example``: ObsPy's example stream (``obspy.read()``), 30 s at 100 Hz. Its local event starts
  at about 4.8 s, inside the 10 s LTA warm-up, so neither ObsPy nor we can pick that onset: both
  first trigger on a ~0.3 Hz swell in the coda at 18–21 s. That ratio is made by low frequencies,
  which the detector's 0.075 Hz high-pass shapes: on the raw counts ObsPy triggers on z at
  18.29 s, on the high-passed counts at 20.19 s. So ObsPy gets the same high-pass (written out
  sample by sample in `reference_highpass`) and the comparison is exact.
* ``local event``: the 3-component local event of ObsPy's own AR-picker test
  (``signal/tests/data/loc_RJOB20050801145719850.[zne]``, 60 s at 200 Hz, P at 30.64 s). It has
  30 s of noise before the P wave, so the first trigger is the event's onset, which the
  high-pass does not move: there the pick is also held to ObsPy's trigger on the raw counts and
  to ObsPy's AR picker.

Scaling counts to gal would change nothing: the ratio is scale-free, and the LTA floor
(`min_lta_gal2`, 1e-4) is far below these records' noise (10² to 10⁵ counts²).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from collector.seismic import COMPONENTS, DetectorConfig, Pick, StationDetector
from tests.unit.seismic._support import Array, packets, reference_highpass

obspy = pytest.importorskip(
    "obspy", reason="obspy is not installed: it comes with the test extra (pip install obspy)"
)
from obspy.signal.trigger import (  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: E402
    ar_pick,
    classic_sta_lta,
    trigger_onset,
)

CFG = DetectorConfig()
STATION = "BW.RJOB"
OBSPY_DATA = Path(obspy.__file__).parent / "signal" / "tests" / "data"
LOCAL_EVENT = "loc_RJOB20050801145719850"
# Same sample: the input and the filter are identical, so any difference is a definition bug.
SAME_SAMPLE = 0.5
# Against ObsPy on raw counts and its AR picker: 0.05 s is 10 samples at 200 Hz and half a period
# of the event's ~10 Hz P energy; the high-pass's phase lead there is below 1 ms.
ONSET_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class Record:
    """Three components (x, y, z) = (E, N, Z) as float32 packets carry them."""

    sr: float
    start: datetime
    data: Array


def _example() -> Record:
    stream = obspy.read()
    by_channel = {trace.stats.channel[-1]: trace for trace in stream}
    z = by_channel["Z"]
    data = np.stack([by_channel[c].data for c in "ENZ"]).astype(np.float32)
    start = z.stats.starttime.datetime.replace(tzinfo=UTC)
    return Record(float(z.stats.sampling_rate), start, data.astype(np.float64))


def _local_event() -> Record:
    files = [OBSPY_DATA / f"{LOCAL_EVENT}.{c}" for c in "enz"]
    if not all(f.is_file() for f in files):
        pytest.skip(f"this obspy build ships no test data ({LOCAL_EVENT}.*)")
    data = np.stack([np.loadtxt(f, dtype=np.float32) for f in files])
    # The file name is the record's start time; the files carry no header.
    start = datetime(2005, 8, 1, 14, 57, 19, 850_000, tzinfo=UTC)
    return Record(200.0, start, data.astype(np.float64))


RECORDS = {"example": _example, "local event": _local_event}


def _detect(record: Record, size: int) -> tuple[list[Pick], Array]:
    """Replay a record as packets of `size` samples: final picks and the STA/LTA of every sample."""
    detector = StationDetector(STATION, CFG)
    picks: list[Pick] = []
    ratios: list[Array] = []
    for packet in packets(record.data, record.sr, size, start=record.start, station=STATION):
        result = detector.process(packet)
        picks.extend(p for p in result.picks if p.final)
        ratios.append(result.ratio)
    return picks, np.concatenate(ratios, axis=1)


def _obspy_cft(data: Array, sr: float) -> Array:
    """ObsPy's classic STA/LTA of each component, with the detector's window lengths."""
    nsta, nlta = round(CFG.sta_s * sr), round(CFG.lta_s * sr)
    return np.stack([classic_sta_lta(component, nsta, nlta) for component in data])


def _obspy_first_on(cft: Array) -> int:
    """ObsPy's first trigger-on: the detector triggers when any component's ratio does."""
    onsets = trigger_onset(cft.max(axis=0), CFG.trigger_on, CFG.trigger_off)
    assert len(onsets), "ObsPy does not trigger on this record"
    return int(onsets[0][0])


def _offset_s(pick: Pick, record: Record, sample: float) -> float:
    return abs((pick.time - record.start).total_seconds() - sample / record.sr)


# Packet splits: the native 1 s packet, and OpenEEW's 32 samples (windows straddle packets).
CASES = [
    # example, 1 s packets of 100 samples
    ("example", 100),
    # example, 32-sample packets (0.32 s)
    ("example", 32),
    # local event, 1 s packets of 200 samples
    ("local event", 200),
    # local event, 32-sample packets (0.16 s)
    ("local event", 32),
]


@pytest.mark.parametrize(("name", "size"), CASES)
def test_characteristic_function_is_obspys(name: str, size: int) -> None:
    # The streamed STA/LTA equals ObsPy's classic_sta_lta on the same high-passed samples,
    # warm-up zeros included, whatever the packet split.
    record = RECORDS[name]()
    _, ours = _detect(record, size)
    expected = _obspy_cft(reference_highpass(record.data, record.sr, CFG), record.sr)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("name", "size"), CASES)
def test_first_pick_is_obspys_first_trigger(name: str, size: int) -> None:
    # Same input, same filter, same thresholds: the first pick is on ObsPy's first trigger-on
    # sample, on the component whose ratio crossed there.
    record = RECORDS[name]()
    picks, _ = _detect(record, size)
    cft = _obspy_cft(reference_highpass(record.data, record.sr, CFG), record.sr)
    first = _obspy_first_on(cft)
    assert picks, "no pick"
    assert _offset_s(picks[0], record, first) <= SAME_SAMPLE / record.sr
    assert picks[0].component == COMPONENTS[int(np.argmax(cft[:, first] >= CFG.trigger_on))]


@pytest.mark.parametrize("size", [200, 32])
def test_local_event_onset_matches_obspy_raw_and_ar_picker(size: int) -> None:
    # A sharp P onset after 30 s of noise: the pick lies within 0.05 s of ObsPy's trigger on
    # the raw counts (no high-pass at all) and of ObsPy's AR picker, for either packet split.
    record = _local_event()
    picks, _ = _detect(record, size)
    raw_first = _obspy_first_on(_obspy_cft(record.data, record.sr))
    east, north, vertical = record.data.astype(np.float32)
    # The arguments of ObsPy's own test of ar_pick on this record (P at 30.635 s).
    p_s, _ = ar_pick(
        vertical, north, east, record.sr, 1.0, 20.0, 1.0, 0.1, 4.0, 1.0, 2, 8, 0.1, 0.2
    )
    assert picks, "no pick"
    assert 30.0 < raw_first / record.sr < 31.0, "ObsPy's raw trigger is not the P onset"
    assert _offset_s(picks[0], record, raw_first) <= ONSET_TOLERANCE_S
    assert _offset_s(picks[0], record, p_s * record.sr) <= ONSET_TOLERANCE_S
