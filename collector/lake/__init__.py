"""Pure lake computations: event-time series, data-quality screening, trends, rule inputs.

Nothing here does I/O or reads a clock: every result is a function of the readings fed in
(event times, spec §6). `LakeAnalyser` is the entry point: one per lake station, `add` each
`LakeReading`, `evaluate` once per batch for the `lake_level`, `lake_rise` and
`lake_outburst` inputs and the `/api/v1/lakes/{station_id}` state.
"""

from __future__ import annotations

from collector.lake.evaluate import LakeAnalyser, LakeConfig, LakeState, LakeStatus
from collector.lake.quality import Quality, QualityConfig, Reason, Ruling, Screener
from collector.lake.series import DEFAULT_MAX_WINDOW, LAKE_METRICS, LakeSeries, Metric, Point
from collector.lake.trend import (
    Slope,
    baseline_median,
    max_drop,
    peak_drop,
    peak_surge_ratio,
    robust_slope,
    surge_ratio,
    window_sum_rate,
)

__all__ = [
    "DEFAULT_MAX_WINDOW",
    "LAKE_METRICS",
    "LakeAnalyser",
    "LakeConfig",
    "LakeSeries",
    "LakeState",
    "LakeStatus",
    "Metric",
    "Point",
    "Quality",
    "QualityConfig",
    "Reason",
    "Ruling",
    "Screener",
    "Slope",
    "baseline_median",
    "max_drop",
    "peak_drop",
    "peak_surge_ratio",
    "robust_slope",
    "surge_ratio",
    "window_sum_rate",
]
