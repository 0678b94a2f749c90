"""Daily and annual means over `kuzet.air_hourly`, and data completeness against `interval_s`.

Means are weighted by the readings behind each hour (sum(avg · n_x) / sum(n_x)), so they equal
the plain mean of the raw readings of the period, whatever their spread over the hours.

Day and year boundaries are local midnights in a named time zone (default "Asia/Almaty"),
resolved by PostgreSQL with `AT TIME ZONE`, never with a fixed offset: Almaty was UTC+6 until
2024-03-01 and is UTC+5 since, so 29 February 2024 lasted 25 hours, and a `date_bin` with a
fixed-offset origin would put one hour of that day into the wrong one. An hourly bucket belongs
to the local date of its start (`(bucket AT TIME ZONE tz)::date`), which is exact while every
local midnight of the period falls on a UTC hour, as Almaty's always do (whole-hour offsets).
For a zone where a midnight falls inside a UTC hour (e.g. Asia/Kolkata, UTC+5:30), the same
means are computed from `kuzet.air_readings` instead, since no hourly bucket fits that day.

Only SQL common to both storage modes is used (plain table or TimescaleDB continuous aggregate).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import cast

import psycopg
from psycopg.rows import TupleRow

from collector.air import Pollutant

DEFAULT_TZ = "Asia/Almaty"

# Minimum share of the readings `interval_s` implies for a valid mean. 75 % is the EEA rule for
# annual statistics in its air-quality assessments ("more than 75 % of valid data out of all the
# possible data in a year"; the Directive 2008/50/EC objective of 90 % is for compliance, see
# https://www.eea.europa.eu/themes/air/air-quality-concentrations/classification-of-monitoring-
# stations-and) and US EPA's for an annual PM2.5 mean (40 CFR Part 50, Appendix N, section 4.1:
# at least 75 % per quarter). Applied inclusively, as EPA words it (≥ 75 %), on the whole period.
DEFAULT_MIN_COMPLETENESS = Fraction(3, 4)

_US_PER_S = 1_000_000

_LOCAL_MIDNIGHTS = """
SELECT d, d::timestamp AT TIME ZONE %(tz)s FROM unnest(%(days)s::date[]) AS d ORDER BY d
"""

# Weighted by the per-hour counts: an hour with 60 readings weighs 60 times one with 1.
# avg is NULL where n_x = 0 and sum() skips it, so empty hours do not dilute the mean.
_HOURLY = """
SELECT station_id, {key} AS k,
       sum(pm25_avg * n_pm25) / nullif(sum(n_pm25), 0), sum(n_pm25)::bigint,
       sum(pm10_avg * n_pm10) / nullif(sum(n_pm10), 0), sum(n_pm10)::bigint,
       sum(no2_avg * n_no2) / nullif(sum(n_no2), 0), sum(n_no2)::bigint,
       sum(n)::bigint
FROM kuzet.air_hourly
WHERE bucket >= %(start)s AND bucket < %(end)s
  AND (%(ids)s::text[] IS NULL OR station_id = ANY(%(ids)s::text[]))
GROUP BY station_id, k ORDER BY station_id, k
"""

_RAW = """
SELECT station_id, {key} AS k,
       avg(pm25), count(pm25), avg(pm10), count(pm10), avg(no2), count(no2), count(*)
FROM kuzet.air_readings
WHERE time >= %(start)s AND time < %(end)s
  AND (%(ids)s::text[] IS NULL OR station_id = ANY(%(ids)s::text[]))
GROUP BY station_id, k ORDER BY station_id, k
"""

_DAILY_HOURLY = _HOURLY.format(key="(bucket AT TIME ZONE %(tz)s)::date")
_DAILY_RAW = _RAW.format(key="(time AT TIME ZONE %(tz)s)::date")
_PERIOD_HOURLY = _HOURLY.format(key="NULL::date")
_PERIOD_RAW = _RAW.format(key="NULL::date")

_Row = tuple[str, date | None, float | None, int, float | None, int, float | None, int, int]


@dataclass(frozen=True, slots=True)
class Mean:
    """A mean concentration and the readings behind it.

    Attributes:
        value: µg/m³; None when no reading carried the pollutant.
        n: Readings with a value for the pollutant.
    """

    value: float | None
    n: int


_NO_DATA = Mean(None, 0)


@dataclass(frozen=True, slots=True)
class PeriodMeans:
    """One station's means over [start, end).

    Attributes:
        station_id: The station.
        start: First instant of the period (UTC), a local midnight.
        end: First instant after it (UTC).
        n: Readings stored in the period (with any pollutant or none).
        pm25: PM2.5 mean.
        pm10: PM10 mean.
        no2: NO2 mean.
    """

    station_id: str
    start: datetime
    end: datetime
    n: int
    pm25: Mean
    pm10: Mean
    no2: Mean

    def of(self, pollutant: Pollutant) -> Mean:
        """The mean of one pollutant."""
        if pollutant is Pollutant.PM25:
            return self.pm25
        return self.pm10 if pollutant is Pollutant.PM10 else self.no2


@dataclass(frozen=True, slots=True)
class DailyMeans(PeriodMeans):
    """One station's means over one local day (`start`/`end` are its local midnights).

    Attributes:
        day: The local calendar date.
    """

    day: date


@dataclass(frozen=True, slots=True)
class AnnualMeans:
    """Means of a local calendar year.

    Attributes:
        year: The calendar year in `tz`.
        tz: IANA time zone of the year's boundaries.
        start: 1 January 00:00 local, in UTC.
        end: 1 January 00:00 local of the next year, in UTC.
        stations: Per station, by station id.
    """

    year: int
    tz: str
    start: datetime
    end: datetime
    stations: tuple[PeriodMeans, ...]

    def get(self, station_id: str) -> PeriodMeans | None:
        """The station's means, or None when it is not in the result."""
        return next((s for s in self.stations if s.station_id == station_id), None)


@dataclass(frozen=True, slots=True)
class Completeness:
    """Readings received against those `interval_s` implies over the elapsed part of a period.

    Attributes:
        received: Readings received.
        expected: covered seconds / interval_s (not rounded).
        ratio: received / expected; None when nothing was expected yet. Above 1 when a station
            reports more often than its declared interval.
        valid: ratio ≥ the threshold (exact rational comparison).
    """

    received: int
    expected: float
    ratio: float | None
    valid: bool


def covered_seconds(start: datetime, end: datetime, now: datetime) -> float:
    """Seconds of [start, end) elapsed at `now` (the whole period once it is over)."""
    _require_aware(start, end, now)
    return (min(max(now, start), end) - start).total_seconds()


def completeness(
    received: int,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    interval_s: float,
    threshold: Fraction | float = DEFAULT_MIN_COMPLETENESS,
) -> Completeness:
    """Data completeness of a station over [start, end), counted up to `now`.

    Args:
        received: Readings received in the period (for one pollutant: its own count).
        start: First instant of the period (aware).
        end: First instant after the period (aware).
        now: The clock: for a period still running only [start, now) is expected.
        interval_s: The station's declared reporting period in seconds.
        threshold: Minimum received / expected for a valid mean, 0 < threshold ≤ 1.

    Returns:
        The counts, their ratio and whether the threshold is met.

    Raises:
        ValueError: Naive datetimes, end before start, a non-positive interval or a threshold
            outside (0, 1].
    """
    if end < start:
        raise ValueError(f"period ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if not 0 < interval_s < math.inf:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    if not 0 < threshold <= 1:
        raise ValueError(f"completeness threshold must be in (0, 1], got {threshold}")
    need = _exact(threshold)
    _require_aware(start, end, now)
    # Exact arithmetic: 75 % of a whole number of readings is met by exactly that many.
    covered = Fraction((min(max(now, start), end) - start) // timedelta(microseconds=1), _US_PER_S)
    expected = covered / _exact(interval_s)
    if expected == 0:
        return Completeness(received, 0.0, None, valid=False)
    return Completeness(
        received, float(expected), float(received / expected), valid=received >= need * expected
    )


async def daily_means(
    conn: psycopg.AsyncConnection[TupleRow],
    station_id: str,
    start: date,
    end: date,
    *,
    tz: str = DEFAULT_TZ,
) -> list[DailyMeans]:
    """A station's means per local day, for the days start ≤ day < end that have readings.

    Args:
        conn: An open connection.
        station_id: The station.
        start: First local date (a `date`, not a `datetime`).
        end: The date after the last one (half-open, like `range`).
        tz: IANA time zone whose midnights bound the days.

    Returns:
        One entry per day with at least one reading, by date.

    Raises:
        TypeError: Datetimes instead of dates.
        ValueError: End before start.
        psycopg.Error: The query failed (e.g. PostgreSQL does not know `tz`).
    """
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise TypeError("daily_means takes local dates, not datetimes")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if end == start:
        return []
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    bounds = await _local_midnights(conn, days, tz)
    query = _DAILY_HOURLY if _on_utc_hours(bounds.values()) else _DAILY_RAW
    rows = await _fetch(conn, query, start=bounds[start], end=bounds[end], ids=[station_id], tz=tz)
    out: list[DailyMeans] = []
    for row in rows:
        day = cast(date, row[1])  # the daily key is never NULL
        out.append(DailyMeans(*_fields(row, bounds[day], bounds[day + timedelta(days=1)]), day=day))
    return out


async def annual_means(
    conn: psycopg.AsyncConnection[TupleRow],
    year: int,
    station_ids: Sequence[str] | None = None,
    *,
    tz: str = DEFAULT_TZ,
) -> AnnualMeans:
    """Per station means over the local calendar year.

    Args:
        conn: An open connection.
        year: Calendar year in `tz`.
        station_ids: The stations to report, each one present in the result (n = 0 without
            readings); None for every station with readings in the year.
        tz: IANA time zone whose midnights bound the year.

    Returns:
        The year's bounds and the stations' means, by station id.

    Raises:
        ValueError: A year outside 1..9998.
        psycopg.Error: The query failed (e.g. PostgreSQL does not know `tz`).
    """
    if not 1 <= year <= 9998:  # noqa: PLR2004 - date's range, minus the following 1 January
        raise ValueError(f"year {year} is out of range")
    first, after = date(year, 1, 1), date(year + 1, 1, 1)
    bounds = await _local_midnights(conn, [first, after], tz)
    start, end = bounds[first], bounds[after]
    query = _PERIOD_HOURLY if _on_utc_hours(bounds.values()) else _PERIOD_RAW
    ids = None if station_ids is None else list(dict.fromkeys(station_ids))
    found = {
        r[0]: PeriodMeans(*_fields(r, start, end))
        for r in await _fetch(conn, query, start=start, end=end, ids=ids, tz=tz)
    }
    if ids is not None:
        for station_id in ids:
            found.setdefault(
                station_id, PeriodMeans(station_id, start, end, 0, _NO_DATA, _NO_DATA, _NO_DATA)
            )
    return AnnualMeans(year, tz, start, end, tuple(found[k] for k in sorted(found)))


async def _local_midnights(
    conn: psycopg.AsyncConnection[TupleRow], days: list[date], tz: str
) -> dict[date, datetime]:
    # PostgreSQL's time zone data decides, so bounds and the date key of the buckets agree.
    cur = await conn.execute(_LOCAL_MIDNIGHTS, {"tz": tz, "days": days})
    return {d: t.astimezone(UTC) for d, t in await cur.fetchall()}


def _on_utc_hours(instants: Iterable[datetime]) -> bool:
    # The rollup's buckets are UTC hours (date_bin from 2000-01-01 00:00 UTC).
    return all(t.minute == 0 and t.second == 0 and t.microsecond == 0 for t in instants)


async def _fetch(
    conn: psycopg.AsyncConnection[TupleRow],
    query: str,
    *,
    start: datetime,
    end: datetime,
    ids: list[str] | None,
    tz: str,
) -> list[_Row]:
    cur = await conn.execute(query, {"start": start, "end": end, "ids": ids, "tz": tz})
    return [
        (
            str(r[0]),
            r[1],
            _float(r[2]),
            int(r[3] or 0),
            _float(r[4]),
            int(r[5] or 0),
            _float(r[6]),
            int(r[7] or 0),
            int(r[8] or 0),
        )
        for r in await cur.fetchall()
    ]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _fields(
    row: _Row, start: datetime, end: datetime
) -> tuple[str, datetime, datetime, int, Mean, Mean, Mean]:
    station_id, _, pm25, n_pm25, pm10, n_pm10, no2, n_no2, n = row
    return (
        station_id,
        start,
        end,
        n,
        Mean(pm25, n_pm25),
        Mean(pm10, n_pm10),
        Mean(no2, n_no2),
    )


def _exact(value: Fraction | float) -> Fraction:
    # A float is taken as the decimal it was written as: Fraction(0.9) is 0.90000000000000002…
    # in binary, which would turn 90 readings of 100 into a miss against a 90 % rule.
    return value if isinstance(value, Fraction) else Fraction(repr(float(value)))


def _require_aware(*instants: datetime) -> None:
    for t in instants:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t.isoformat()}: pass an aware one")
