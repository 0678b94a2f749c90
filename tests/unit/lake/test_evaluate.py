"""LakeAnalyser scenarios on synthetic minute series: rule inputs, state, quality flags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from collector.lake import LakeAnalyser, LakeConfig, LakeState, Quality, Reason
from collector.models import LakeReading
from collector.stations import Station
from tests.unit.lake._synthetic import gauge, lake, minute, ramp, readings, run, wobble

NORMAL, WARNING = LakeState.NORMAL, LakeState.WARNING
CRITICAL, OUTBURST = LakeState.CRITICAL, LakeState.OUTBURST
STEADY = [3.0] * 60
DROP = [*STEADY, 2.9, 2.8, 2.7, 2.6, 2.5, 2.5, 2.5, 2.5]  # 0.5 m in 5 min, then holds


@pytest.mark.parametrize(
    ("station", "batch", "state", "conditions", "values", "suspects"),
    [
        pytest.param(
            # steady lake with centimetre noise: nothing to report
            lake(), readings("LAKE-01", level=wobble([3.0] * 90)),
            NORMAL, (), {"rise_rate_m_h": (-0.05, 0.05), "drop_10min_m": (0, 0.02)}, {},
            id="steady",
        ),
        pytest.param(
            # slow seasonal filling, 0.05 m/h: the rate is measured, far below 0.5, no alert input
            lake(), readings("LAKE-01", level=wobble(ramp(2.8, 0.05, 90))),
            NORMAL, (), {"rise_rate_m_h": (0.03, 0.07)}, {},
            id="seasonal-rise",
        ),
        pytest.param(
            # 0.8 m/h, still below the 3.6 m warning mark: lake_rise alone → warning
            lake(), readings("LAKE-01", level=ramp(2.5, 0.8, 60)),
            WARNING, ("rise",), {"rise_rate_m_h": (0.8 - 1e-9, 0.8 + 1e-9)}, {},
            id="fast-rise",
        ),
        pytest.param(
            # a slow rise through the 4.4 m critical mark: lake_level critical (warning too)
            lake(), readings("LAKE-01", level=ramp(4.2, 0.3, 60)),
            CRITICAL, ("level_warning", "level_critical"), {"level_m": (4.49, 4.5)}, {},
            id="critical-crossing",
        ),
        pytest.param(
            # 0.5 m in 5 min on an outburst-hazardous lake: lake_outburst → outburst
            lake(), readings("LAKE-01", level=DROP),
            OUTBURST, ("drop",), {"drop_10min_m": (0.5, 0.5), "drop_peak_m": (0.5, 0.5)}, {},
            id="sudden-drop-hazardous",
        ),
        pytest.param(
            # the same drop on a lake that is not outburst-hazardous: reported, no outburst
            lake(outburst_hazard=False), readings("LAKE-01", level=DROP),
            NORMAL, (), {"drop_10min_m": (0.5, 0.5)}, {},
            id="sudden-drop-not-hazardous",
        ),
        pytest.param(
            # a +5 m one-minute spike from a faulty sensor: impossible rate, not an outburst
            lake(), readings("LAKE-01", level=[*STEADY, 8.0, *[3.0] * 5]),
            NORMAL, (), {"level_m": (3.0, 3.0), "drop_peak_m": (0, 0)},
            {"level_m.impossible_rate": 1},
            id="spike-plus-5m",
        ),
        pytest.param(
            # a 0.5 m one-sample dip on a hazardous lake: held, returns → spike, no outburst
            lake(), readings("LAKE-01", level=[*STEADY, 2.5, *[3.0] * 5]),
            NORMAL, (), {"drop_peak_m": (0, 0)}, {"level_m.spike": 1},
            id="dip-that-returns",
        ),
        pytest.param(
            # negative depth (sensor out of water / bad zero): flagged, not a 3.8 m drop
            lake(), readings("LAKE-01", level=[*STEADY, -0.8, *[3.0] * 5]),
            NORMAL, (), {"drop_peak_m": (0, 0)}, {"level_m.below_zero": 1},
            id="negative-depth",
        ),
        pytest.param(
            # a persistent impossible step down (re-zeroed sensor): a level shift, and no drop
            # is computed across it
            lake(), readings("LAKE-01", level=[*STEADY, *[0.5] * 10]),
            NORMAL, (), {"level_m": (0.5, 0.5), "drop_peak_m": (0, 0)},
            {"level_m.impossible_rate": 2, "level_m.level_shift": 1},
            id="level-shift",
        ),
        pytest.param(
            # the gauge below LAKE-01: discharge 2.5 × its previous-hour median → outburst
            gauge(), readings("LAKE-03", level=[0.9] * 65, discharge=[1.0] * 60 + [2.5] * 5),
            OUTBURST, ("surge",), {"discharge_ratio": (2.5, 2.5), "discharge_median_m3s": (1, 1)},
            {},
            id="downstream-surge",
        ),
        pytest.param(
            # the same surge where no lake is upstream (no downstream_of): reported, no outburst
            lake(outburst_hazard=False), readings("LAKE-01", discharge=[1.0] * 60 + [2.5] * 5),
            NORMAL, (), {"discharge_ratio": (2.5, 2.5)}, {},
            id="surge-without-upstream-lake",
        ),
        pytest.param(
            # a one-sample discharge spike at the gauge: suspect, so no surge
            gauge(), readings("LAKE-03", discharge=[1.0] * 60 + [5.0] + [1.0] * 5),
            NORMAL, (), {"discharge_ratio_peak": (1, 1)}, {"discharge_m3s.spike": 1},
            id="discharge-spike",
        ),
        pytest.param(
            # rain of 0.2 mm a minute on a steady lake: 12 mm/h, reported as an input only
            lake(), readings("LAKE-01", level=STEADY, precip=[0.2] * 60),
            NORMAL, (), {"precip_mm_h": (12 - 1e-9, 12 + 1e-9)}, {},
            id="rainfall",
        ),
    ],
)  # fmt: skip
def test_scenarios(
    station: Station,
    batch: Sequence[LakeReading],
    state: LakeState,
    conditions: tuple[str, ...],
    values: dict[str, tuple[float, float]],
    suspects: dict[str, int],
) -> None:
    _, statuses = run(station, batch)
    final = statuses[-1]
    assert final.state is state
    assert final.conditions == conditions
    for name, (lo, hi) in values.items():
        value = getattr(final, name)
        assert value is not None, name
        assert lo <= value <= hi, (name, value)
    assert dict(final.suspect_counts) == suspects
    assert final.time == batch[-1].time


@pytest.mark.parametrize(
    ("levels", "checkpoints"),
    [
        pytest.param(
            # fast rise, then a plateau: warning while rising, normal once the 30-min slope
            # has fallen below 90 % of 0.5 m/h
            [*ramp(2.5, 0.8, 40), *[2.5 + 0.8 * 39 / 60] * 40],
            {39: WARNING, 45: WARNING, 79: NORMAL},
            id="rise-recovers",
        ),
        pytest.param(
            # level hysteresis: warning at 3.6 m; 3.3 m is still ≥ 90 % of it; 3.2 m clears
            # (0.1 m steps every 20 min: a 0.3 m/h staircase, no rise condition)
            [v for v in (3.3, 3.4, 3.5, 3.6, 3.5, 3.4, 3.3, 3.2) for _ in range(20)],
            {59: NORMAL, 60: WARNING, 139: WARNING, 159: NORMAL},
            id="level-hysteresis",
        ),
        pytest.param(
            # outburst is held an hour after the last 10-min drop of ≥ 90 % of 0.3 m: the
            # one ending at minute 70 (2.8 m at minute 61 → 2.5 m), so until minute 129
            [*DROP, *[2.5] * 70],
            {62: OUTBURST, 129: OUTBURST, 130: NORMAL},
            id="outburst-recovers",
        ),
    ],
)
def test_recovery(levels: list[float], checkpoints: dict[int, LakeState]) -> None:
    _, statuses = run(lake(), readings("LAKE-01", level=levels))
    assert {m: statuses[m].state for m in checkpoints} == checkpoints


def test_spike_is_visible_but_not_a_rule_input() -> None:
    # at the spike itself the API still shows the last accepted level, and why
    _, statuses = run(lake(), readings("LAKE-01", level=[*STEADY, 8.0]))
    status = statuses[-1]
    assert status.level_m == 3.0
    assert status.level_time == minute(59)
    assert status.time == minute(60)
    assert status.level_quality is Quality.SUSPECT
    assert status.level_quality_reason is Reason.IMPOSSIBLE_RATE


def test_add_reports_rulings_duplicates_and_late_readings() -> None:
    analyser = LakeAnalyser(lake())
    batch = readings("LAKE-01", level=[3.0, 3.0, 2.5, 3.0])
    first = [analyser.add(r) for r in batch]
    # the 2.5 m dip is pending on arrival and declared a spike by the next reading
    assert first[2] is not None
    assert [(r.quality, r.reason) for r in first[2]] == [(Quality.PENDING, Reason.JUMP)]
    assert first[3] is not None
    assert [(r.time, r.quality) for r in first[3]] == [
        (minute(2), Quality.SUSPECT),
        (minute(3), Quality.OK),
    ]
    # an MQTT redelivery is ignored
    assert analyser.add(batch[1]) is None
    # a late reading is screened against its neighbours and then counts
    late = analyser.add(LakeReading("LAKE-01", minute(-1), level_m=3.01))
    assert late is not None
    assert [(r.quality, r.reason) for r in late] == [(Quality.OK, None)]


def test_no_readings_no_values() -> None:
    # before the first reading: no time, no values, normal
    status = LakeAnalyser(lake()).evaluate()
    assert status.time is None
    assert status.level_m is None
    assert status.state is NORMAL


def test_wrong_station_is_refused() -> None:
    # one analyser per station: another station's reading is a wiring error
    with pytest.raises(ValueError, match="LAKE-03"):
        LakeAnalyser(lake()).add(LakeReading("LAKE-03", minute(0), level_m=1.0))


def test_gap_in_data_leaves_state_unchanged() -> None:
    # a warning from a fast rise holds over a gap that makes the rate incomplete
    analyser, statuses = run(lake(), readings("LAKE-01", level=ramp(2.5, 0.8, 40)))
    assert statuses[-1].state is WARNING
    analyser.add(LakeReading("LAKE-01", minute(70), level_m=3.03))
    status = analyser.evaluate()
    assert status.rise_rate_m_h is None
    assert status.state is WARNING


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        # hysteresis is a fraction of the threshold
        ({"hysteresis": 1.5}, "hysteresis"),
        # a 2× surge ratio of 1 would fire on steady flow
        ({"surge_ratio": 1.0}, "surge_ratio"),
        # the kept history must cover the hold period plus its baseline
        ({"max_window": timedelta(hours=1)}, "max_window"),
    ],
)
def test_config_validation(overrides: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LakeConfig(**overrides)
