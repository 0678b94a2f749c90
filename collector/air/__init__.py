"""Pure air-quality computations: US EPA AQI and NowCast, event-time windows, reference limits.

Nothing here does I/O or reads a clock: every result is a function of the arguments. Times are
aware datetimes (or numpy datetime64 taken as UTC); internally int64 microseconds since the epoch.
"""

from __future__ import annotations

from collector.air._base import Pollutant
from collector.air.aqi import (
    AQI_SCALE_MAX,
    AQI_UNITS,
    BREAKPOINTS,
    AqiCategory,
    AqiResult,
    Breakpoint,
    aqi,
    aqi_from_ugm3,
    category_for,
    no2_ppb_to_ugm3,
    no2_ugm3_to_ppb,
)
from collector.air.limits import (
    LIMITS,
    Authority,
    AveragingPeriod,
    Limit,
    limit_for,
    limit_multiple,
)
from collector.air.nowcast import NOWCAST_HOURS, clock_hour_means, nowcast, weight_factor
from collector.air.rolling import required_readings, rolling_mean
from collector.air.windows import AIR_METRICS, DEFAULT_MAX_WINDOW, StationWindows

__all__ = [
    "AIR_METRICS",
    "AQI_SCALE_MAX",
    "AQI_UNITS",
    "BREAKPOINTS",
    "DEFAULT_MAX_WINDOW",
    "LIMITS",
    "NOWCAST_HOURS",
    "AqiCategory",
    "AqiResult",
    "Authority",
    "AveragingPeriod",
    "Breakpoint",
    "Limit",
    "Pollutant",
    "StationWindows",
    "aqi",
    "aqi_from_ugm3",
    "category_for",
    "clock_hour_means",
    "limit_for",
    "limit_multiple",
    "no2_ppb_to_ugm3",
    "no2_ugm3_to_ppb",
    "nowcast",
    "required_readings",
    "rolling_mean",
    "weight_factor",
]
