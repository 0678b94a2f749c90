"""SQL shared by the dashboards: time bins, NowCast and AQI, limit lines, alert annotations.

Every query must run unchanged in both storage modes (spec §5): plain PostgreSQL has no
TimescaleDB functions, so time bins use `date_bin` (PostgreSQL >= 14), never `time_bucket`,
nor Grafana's `$__timeGroup` macro, which becomes `time_bucket` when the datasource has the
TimescaleDB option on. Air-quality constants (EPA breakpoints and colours' categories, NowCast
parameters, Kazakhstan and WHO limits) are imported from `collector.air`, so a dashboard can
never disagree with the daemon's API about them. Every `kuzet.` table gets an alias and every
column of it is qualified with the alias: the provisioning tests check those names against the
migrations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collector.air import (
    BREAKPOINTS,
    AqiCategory,
    Authority,
    AveragingPeriod,
    Pollutant,
    limit_for,
)

# The 75 % completeness rule of spec §6, and the floating-point allowance of EPA truncation
# and rounding, exactly as the daemon applies them.
from collector.air._base import _NOISE, COMPLETENESS
from collector.air.aqi import TRUNCATION_DECIMALS
from collector.air.nowcast import (
    NOWCAST_DECIMALS,
    NOWCAST_HOURS,
    PM_MIN_WEIGHT,
    RECENT_HOURS,
    RECENT_REQUIRED,
)
from provisioning.grafana_model import Step

ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
# Panels that show a state ("now") show it as of the end of the selected range, so zooming
# into a past incident shows the state of that moment.
AT = "$__timeTo()::timestamptz"
SINCE = "$__timeFrom()::timestamptz"

# US EPA AQI colours (EPA-454/B-24-002, Table 4), RGB as published.
AQI_COLORS: dict[AqiCategory, str] = {
    AqiCategory.GOOD: "#00E400",
    AqiCategory.MODERATE: "#FFFF00",
    AqiCategory.UNHEALTHY_FOR_SENSITIVE_GROUPS: "#FF7E00",
    AqiCategory.UNHEALTHY: "#FF0000",
    AqiCategory.VERY_UNHEALTHY: "#8F3F97",
    AqiCategory.HAZARDOUS: "#7E0023",
}
NO_DATA_COLOR = "#8E8E8E"
# The map shows stations without a valid NowCast with this AQI value, in NO_DATA_COLOR.
NO_AQI = -1


def time_bin(column: str) -> str:
    """`column` binned to Grafana's interval for the panel width (plain and TimescaleDB)."""
    return f"date_bin($__interval_ms * INTERVAL '1 millisecond', {column}, {ORIGIN})"


def clock_hour(at: str = AT) -> str:
    """The start of the UTC clock hour containing `at` (Almaty's offset is whole hours)."""
    return f"date_bin(INTERVAL '1 hour', {at}, {ORIGIN})"


def _frac(value: float) -> str:
    return repr(float(value))


def nowcast_ctes(*, at: str = AT) -> str:
    """CTEs ending in `nowcast(station_id, pm25)`: the EPA PM2.5 NowCast of each air station.

    Hourly means come from `kuzet.air_hourly`; an hour counts only with at least
    ⌊0.75 · 3600 / interval_s⌋ PM2.5 readings (spec §6), c1 being the clock hour containing
    `at`. The rest follows `collector.air.nowcast`: w* = max(c_min / c_max, 0.5) (1 when all
    hours are 0), weights w*^age, 2 valid hours among the newest 3, truncation to 0.1 µg/m³.
    """
    scale = 10 ** NOWCAST_DECIMALS[Pollutant.PM25]
    return f"""nc_params AS (
  SELECT {clock_hour(at)} AS h0
), nc_hours AS (
  SELECT a.station_id, a.pm25_avg AS c,
         (extract(epoch FROM p.h0 - a.bucket) / 3600)::int AS age
  FROM kuzet.air_hourly AS a
  JOIN kuzet.stations AS ns ON ns.station_id = a.station_id
  CROSS JOIN nc_params AS p
  WHERE a.bucket > p.h0 - INTERVAL '{NOWCAST_HOURS} hours' AND a.bucket <= p.h0
    AND a.pm25_avg IS NOT NULL
    AND a.n_pm25 >= greatest(
      floor({COMPLETENESS.numerator}.0 / {COMPLETENESS.denominator} * 3600
            / coalesce((ns.meta->>'interval_s')::numeric, 60)), 1)
), nc_weights AS (
  SELECT h.station_id,
         greatest(coalesce(min(h.c) / nullif(max(h.c), 0), 1.0), {_frac(PM_MIN_WEIGHT)}) AS w,
         count(*) FILTER (WHERE h.age < {RECENT_HOURS}) AS recent
  FROM nc_hours AS h
  GROUP BY h.station_id
), nowcast AS (
  SELECT h.station_id,
         floor(sum(power(wt.w, h.age) * h.c) / sum(power(wt.w, h.age)) * {scale} + {_NOISE!r})
           / {scale} AS pm25
  FROM nc_hours AS h
  JOIN nc_weights AS wt ON wt.station_id = h.station_id
  WHERE wt.recent >= {RECENT_REQUIRED}
  GROUP BY h.station_id
)"""


def aqi_expr(column: str, pollutant: Pollutant = Pollutant.PM25) -> str:
    """The US EPA AQI (2024 breakpoints) of a concentration column, as `collector.air.aqi`.

    The concentration is truncated to the table's precision, the segment's linear equation
    applied and the result rounded half up; above the top breakpoint the last segment goes on
    (no cap at 500). NULL stays NULL.
    """
    scale = 10 ** TRUNCATION_DECIMALS[pollutant]
    c = f"(floor({column} * {scale} + {_NOISE!r}) / {scale})"
    rows = BREAKPOINTS[pollutant]

    def segment(lo: float, hi: float, i_lo: int, i_hi: int) -> str:
        slope = f"({i_hi} - {i_lo})::float8 / ({hi} - {lo})"
        return f"floor({slope} * ({c} - {lo}) + {i_lo} + 0.5 + {_NOISE!r})"

    whens = "\n".join(
        f"  WHEN {c} <= {r.c_hi} THEN {segment(r.c_lo, r.c_hi, r.i_lo, r.i_hi)}" for r in rows[:-1]
    )
    last = rows[-1]
    return (
        f"CASE WHEN {column} IS NULL THEN NULL\n{whens}\n"
        f"  ELSE {segment(last.c_lo, last.c_hi, last.i_lo, last.i_hi)} END"
    )


def category_expr(aqi_column: str) -> str:
    """The EPA category name of an AQI column ('No data' for NULL)."""
    whens = " ".join(
        f"WHEN {aqi_column} >= {cat.aqi_low} THEN '{cat.label}'" for cat in reversed(AqiCategory)
    )
    return f"CASE WHEN {aqi_column} IS NULL THEN 'No data' {whens} END"


def aqi_steps(*, no_data: bool = False) -> list[Step]:
    """Threshold steps colouring an AQI value by its EPA category (grey below 0 if `no_data`)."""
    steps = [Step(cat.aqi_low, AQI_COLORS[cat]) for cat in AqiCategory]
    if no_data:
        return [Step(None, NO_DATA_COLOR), *steps]
    return [Step(None, steps[0].color), *steps[1:]]


@dataclass(frozen=True, slots=True)
class LimitLine:
    """A reference limit drawn as a constant series: its legend name, value and colour."""

    name: str
    value: float
    color: str


def limit_lines(pollutant: Pollutant) -> list[LimitLine]:
    """Kazakhstan one-time and daily limits and the WHO 2021 24-hour guideline of a pollutant."""
    kz_once = limit_for(pollutant, AveragingPeriod.ONE_TIME, Authority.KZ).value_ugm3
    kz_day = limit_for(pollutant, AveragingPeriod.DAY, Authority.KZ).value_ugm3
    who_day = limit_for(pollutant, AveragingPeriod.DAY, Authority.WHO).value_ugm3
    return [
        LimitLine(f"KZ one-time limit {kz_once:g}", kz_once, "dark-red"),
        LimitLine(f"KZ daily limit {kz_day:g}", kz_day, "orange"),
        LimitLine(f"WHO 2021 24-h {who_day:g}", who_day, "blue"),
    ]


def limit_lines_sql(lines: Sequence[LimitLine]) -> str:
    """Constant series across the selected range, one column per limit (named in the legend)."""
    columns = ", ".join(f'{line.value:g} AS "{line.name}"' for line in lines)
    return f"SELECT v.t AS time, {columns}\nFROM (VALUES ({SINCE}), ({AT})) AS v(t)\nORDER BY 1"


def limit_steps(pollutant: Pollutant) -> list[Step]:
    """Cell colours for a 24-hour mean: WHO guideline yellow, Kazakhstan daily limit red."""
    who_day = limit_for(pollutant, AveragingPeriod.DAY, Authority.WHO).value_ugm3
    kz_day = limit_for(pollutant, AveragingPeriod.DAY, Authority.KZ).value_ugm3
    return [Step(None, "green"), Step(who_day, "yellow"), Step(kz_day, "red")]


def alerts_annotation_sql(kind_condition: str) -> str:
    """Alerts overlapping the range as region annotations (`timeend` NULL while firing).

    Args:
        kind_condition: SQL condition on `a.kind`, e.g. "a.kind = 'air'".
    """
    return f"""
SELECT a.started_at AS time, a.resolved_at AS timeend,
       a.rule || ' (' || a.severity || ')' || coalesce(' ' || a.station_id, '')
         || coalesce(' ' || nullif(a.area, ''), '')
         || coalesce(': ' || round(a.value::numeric, 1) || ' ' || a.unit, '') AS text,
       a.kind || ',' || a.severity || ',' || a.rule AS tags
FROM kuzet.alerts AS a
WHERE {kind_condition}
  AND a.started_at <= {AT}
  AND (a.resolved_at IS NULL OR a.resolved_at >= {SINCE})
ORDER BY a.started_at"""
