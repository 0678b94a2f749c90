"""Data-quality screening: impossible values, spikes that return, sustained steps, level shifts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from collector.lake import LakeSeries, Metric, Quality, QualityConfig, Reason, Screener
from tests.unit.lake._synthetic import us

OK, PENDING, SUSPECT = Quality.OK, Quality.PENDING, Quality.SUSPECT
Verdict = tuple[Quality, Reason | None]


def screen_all(
    metric: Metric, values: Sequence[float | None], config: QualityConfig | None = None
) -> dict[int, Verdict]:
    """Store and screen one value per minute (as the analyser does); final verdict per minute."""
    series = LakeSeries(interval_s=60)
    screener = Screener(metric, config or QualityConfig())
    final: dict[int, Verdict] = {}
    for minute, value in enumerate(values):
        if value is None:
            continue
        t = us(minute)
        series.add(t, {metric.value: value})
        before, after = series.neighbours(metric, t)
        for ruling in screener.screen(t, value, before=before, after=after):
            series.set_accepted(metric, ruling.t_us, accepted=ruling.quality is OK)
            final[(ruling.t_us - us(0)) // 60_000_000] = (ruling.quality, ruling.reason)
    return final


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        # steady lake: everything accepted
        ([3.0, 3.01, 2.99, 3.0], {0: (OK, None), 1: (OK, None), 2: (OK, None), 3: (OK, None)}),
        # a +5 m jump in one minute is physically impossible: suspect at once, not pending
        ([3.0, 3.0, 8.0, 3.0], {2: (SUSPECT, Reason.IMPOSSIBLE_RATE), 3: (OK, None)}),
        # negative depth beyond the 0.1 m tolerance around the gauge zero
        ([3.0, -0.8, 3.0], {1: (SUSPECT, Reason.BELOW_ZERO), 2: (OK, None)}),
        # −0.05 m is within the tolerance (a lake just at its gauge zero); 0.05 m/min is credible
        ([0.0, -0.05], {0: (OK, None), 1: (OK, None)}),
        # a 0.5 m one-sample dip that returns: held back, then a spike — never a rule input
        ([3.0, 3.0, 2.5, 3.0], {2: (SUSPECT, Reason.SPIKE), 3: (OK, None)}),
        # the same 0.5 m step that stays: a sustained change, accepted one reading later
        ([3.0, 3.0, 2.5, 2.5], {2: (OK, None), 3: (OK, None)}),
        # a step that keeps going in the same direction is sustained too (fast real drop)
        ([3.0, 2.7, 2.4, 2.4], {1: (OK, None), 2: (OK, None), 3: (OK, None)}),
        # a jump up, then down past the reference: neither confirmed nor returned → spike
        ([3.0, 3.5, 2.5, 2.5], {1: (SUSPECT, Reason.SPIKE), 2: (OK, None), 3: (OK, None)}),
        # steps below 0.2 m are accepted at once (an outburst at 0.1 m/min is never delayed)
        ([3.0, 2.9, 2.8, 2.7], {1: (OK, None), 2: (OK, None), 3: (OK, None)}),
        # the newest large step waits for the next reading
        ([3.0, 3.0, 2.5], {2: (PENDING, Reason.JUMP)}),
    ],
)
def test_level_screening(levels: list[float], expected: dict[int, Verdict]) -> None:
    final = screen_all(Metric.LEVEL, levels)
    assert {m: final[m] for m in expected} == expected


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        # three consistent readings at a new level too far away to be physical: a level shift
        # (re-zeroed sensor); the run is accepted, the first flagged, from the third one
        (
            [3.0, 3.0, 8.0, 8.01, 8.0, 8.0],
            {2: (OK, Reason.LEVEL_SHIFT), 3: (OK, None), 4: (OK, None), 5: (OK, None)},
        ),
        # a persistent 2.5 m drop: by minute 4 it is only 0.83 m/min from the last accepted
        # 3.0 m (minute 1), credible by rate — but it agrees with the run, so it stays one
        # level shift and never becomes a sustained (outburst-like) drop
        ([3.0, 3.0, 0.5, 0.5, 0.5], {2: (OK, Reason.LEVEL_SHIFT), 3: (OK, None), 4: (OK, None)}),
        # a bad first reading is healed the same way: the good readings take over
        ([40.0, 3.0, 3.0, 3.0, 3.0], {0: (OK, None), 1: (OK, Reason.LEVEL_SHIFT), 4: (OK, None)}),
        # two impossible readings that disagree with each other never make a shift
        (
            [3.0, 8.0, 13.0, 8.0],
            {1: (SUSPECT, Reason.IMPOSSIBLE_RATE), 2: (SUSPECT, Reason.IMPOSSIBLE_RATE)},
        ),
    ],
)
def test_level_shift(levels: list[float], expected: dict[int, Verdict]) -> None:
    final = screen_all(Metric.LEVEL, levels)
    assert {m: final[m] for m in expected} == expected


def test_impossible_rate_scales_with_the_gap() -> None:
    # 5 m after a 10-min gap is 0.5 m/min: credible by rate, so only held as a large step;
    # a reading that stays there confirms it
    final = screen_all(Metric.LEVEL, [3.0, *([None] * 9), 8.0, 8.0])
    assert final[10] == (OK, None)


def test_sensor_range_when_known() -> None:
    # above the sensor's span (when configured) is out of range
    final = screen_all(Metric.LEVEL, [3.0, 12.5], QualityConfig(max_level_m=10.0))
    assert final[1] == (SUSPECT, Reason.OUT_OF_RANGE)


@pytest.mark.parametrize(
    ("flows", "expected"),
    [
        # a real surge doubles discharge and stays: accepted one reading later
        ([1.0, 1.0, 2.5, 2.6, 2.7], {2: (OK, None), 3: (OK, None), 4: (OK, None)}),
        # a one-sample discharge spike that returns: suspect, so no 2× surge input
        ([1.0, 1.0, 5.0, 1.0], {2: (SUSPECT, Reason.SPIKE), 3: (OK, None)}),
        # no impossible rate for discharge: a flood front may multiply it within a minute
        ([1.0, 1.0, 80.0, 85.0], {2: (OK, None), 3: (OK, None)}),
        # small relative changes pass at once; below the 0.1 m³/s floor it is all noise
        ([1.0, 1.3, 0.02, 0.08], {1: (OK, None), 3: (OK, None)}),
    ],
)
def test_discharge_screening(flows: list[float], expected: dict[int, Verdict]) -> None:
    final = screen_all(Metric.DISCHARGE, flows)
    assert {m: final[m] for m in expected} == expected


def test_late_readings_are_judged_by_both_neighbours() -> None:
    # minutes 0, 1, 3, 4, 6 arrive first; then the late ones: minute 2 jumps away from two
    # neighbours that agree (a spike), minute 5 agrees with its neighbours
    series = LakeSeries(interval_s=60)
    screener = Screener(Metric.LEVEL, QualityConfig())
    results = {}
    for minute, level in [(0, 3.0), (1, 3.0), (3, 3.0), (4, 3.0), (6, 3.0), (2, 3.6), (5, 3.01)]:
        t = us(minute)
        series.add(t, {"level_m": level})
        before, after = series.neighbours(Metric.LEVEL, t)
        (ruling,) = screener.screen(t, level, before=before, after=after)
        series.set_accepted(Metric.LEVEL, t, accepted=ruling.quality is OK)
        results[minute] = (ruling.quality, ruling.reason)
    # the late spike is suspect, the late consistent value accepted; neither goes pending
    assert results[2] == (SUSPECT, Reason.SPIKE)
    assert results[5] == (OK, None)
    assert screener.pending is None


@pytest.mark.parametrize(
    "config",
    [
        # a rate limit must be positive
        {"max_rate_m_min": 0.0},
        # a discharge step ratio of 1 would hold every change
        {"discharge_step_ratio": 1.0},
        # one reading cannot be "consistent" with itself
        {"reanchor_count": 1},
        # an empty sensor span
        {"min_level_m": 0.0, "max_level_m": 0.0},
    ],
)
def test_config_validation(config: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        QualityConfig(**config)  # type: ignore[arg-type]


def test_precipitation_is_not_screened() -> None:
    # precip has no screening rules: asking for a screener is a programming error
    with pytest.raises(ValueError, match="not screened"):
        Screener(Metric.PRECIP, QualityConfig())
