"""SDG indicator 11.6.2 for Almaty: population-weighted annual mean PM2.5 and PM10 by district.

Method (stated in every report):
  * station-year: the count-weighted annual mean of a station (storage.airstats), valid when at
    least `threshold` (default 75 %) of the readings its `interval_s` implies arrived over the
    elapsed part of the year, counted per pollutant (a PM2.5 reading without PM10 counts for
    PM2.5 only);
  * district: the arithmetic mean of its valid stations (each station weighs the same);
  * city: the mean of the district values weighted by district population. A district without a
    valid station is excluded and the weights of the others are renormalised to sum to 1; the
    report lists the excluded districts and the population share actually covered. With no
    district left the city value is None.
  * The value is compared with the WHO 2021 annual guideline level and, for reference only, with
    the Kazakhstan average-daily ПДК (Kazakhstan sets no annual ПДК for PM), both taken from
    collector.air.limits.

WHO computes the official 11.6.2 from modelled exposure grids weighted by gridded population;
a district average of monitors is the ground-station approximation of that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from collector.air import Authority, AveragingPeriod, Limit, Pollutant, limit_for
from collector.air.limits import UNIT
from collector.districts import Districts, load_districts
from collector.models import Feed
from collector.stations import Station
from storage.airstats import (
    DEFAULT_MIN_COMPLETENESS,
    DEFAULT_TZ,
    AnnualMeans,
    Completeness,
    Mean,
    annual_means,
    completeness,
    covered_seconds,
)
from storage.errors import translate

INDICATOR = "11.6.2"
INDICATOR_NAME = (
    "Annual mean levels of fine particulate matter (e.g. PM2.5 and PM10) in cities "
    "(population weighted)"
)
CITY = "Almaty"
SDG_POLLUTANTS: tuple[Pollutant, ...] = (Pollutant.PM25, Pollutant.PM10)
_LABEL = {Pollutant.PM25: "PM2.5", Pollutant.PM10: "PM10", Pollutant.NO2: "NO2"}


@dataclass(frozen=True, slots=True)
class StationYear:
    """One station's annual mean of one pollutant and the data behind it."""

    station_id: str
    district: str
    interval_s: float
    mean: float | None
    completeness: Completeness

    @property
    def valid(self) -> bool:
        """Complete enough to count (a valid station-year always has readings)."""
        return self.completeness.valid and self.mean is not None


@dataclass(frozen=True, slots=True)
class DistrictYear:
    """One district's value: the mean of its valid stations.

    Attributes:
        name: The district.
        population: Its population (the file's figure).
        mean: Mean of the annual means of `valid_stations`; None without a valid station.
        valid_stations: The stations averaged.
        station_count: Air stations in the district, valid or not.
        weight: Its share of the covered population; None when excluded.
    """

    name: str
    population: int
    mean: float | None
    valid_stations: tuple[str, ...]
    station_count: int
    weight: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """A value against a reference limit (`multiple` = value / limit)."""

    limit: Limit
    multiple: float | None


@dataclass(frozen=True, slots=True)
class PollutantResult:
    """SDG 11.6.2 for one pollutant: city value, districts and stations."""

    pollutant: Pollutant
    value: float | None
    population_covered: int
    population_total: int
    excluded_districts: tuple[str, ...]
    districts: tuple[DistrictYear, ...]
    stations: tuple[StationYear, ...]
    who: Comparison
    kz: Comparison


@dataclass(frozen=True, slots=True)
class SdgReport:
    """The indicator for one year (see the module docstring for the method)."""

    year: int
    tz: str
    start: datetime
    end: datetime
    now: datetime
    covered_fraction: float
    threshold: float
    population_source: str
    population_as_of: date
    results: tuple[PollutantResult, ...]
    unassigned_stations: tuple[str, ...]

    @property
    def partial(self) -> bool:
        """The year is not over at `now`: the mean covers only its elapsed part."""
        return self.covered_fraction < 1

    def result(self, pollutant: Pollutant) -> PollutantResult:
        """The result for one pollutant.

        Raises:
            KeyError: The report does not cover it.
        """
        found = [r for r in self.results if r.pollutant is pollutant]
        if not found:
            raise KeyError(f"no {pollutant} in the report")
        return found[0]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (floats unrounded, times ISO 8601 UTC)."""
        return {
            "indicator": INDICATOR,
            "indicator_name": INDICATOR_NAME,
            "city": CITY,
            "year": self.year,
            "time_zone": self.tz,
            "period": {
                "start": _iso(self.start),
                "end": _iso(self.end),
                "generated_at": _iso(self.now),
                "covered_fraction": self.covered_fraction,
                "partial": self.partial,
            },
            "unit": UNIT,
            "method": {
                "station": f"valid with >= {_pct(self.threshold, 'g')} of the readings interval_s "
                "implies over the elapsed part of the year (EEA assessment rule, US EPA "
                "40 CFR 50 App. N), counted per pollutant",
                "min_completeness": self.threshold,
                "district": "arithmetic mean of its valid stations",
                "city": "population-weighted mean over districts with a valid station; "
                "weights renormalised over those districts",
            },
            "population": {"source": self.population_source, "as_of": str(self.population_as_of)},
            "pollutants": {r.pollutant.value: _result_dict(r) for r in self.results},
            "unassigned_stations": list(self.unassigned_stations),
        }


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "limit": c.limit.value_ugm3,
        "period": c.limit.period.value,
        "reference": c.limit.reference,
        "multiple": c.multiple,
        "exceeded": None if c.multiple is None else c.multiple > 1,
    }


def _result_dict(r: PollutantResult) -> dict[str, Any]:
    return {
        "city": {
            "value": r.value,
            "population_covered": r.population_covered,
            "population_total": r.population_total,
            "excluded_districts": list(r.excluded_districts),
            "who_annual_guideline": _comparison_dict(r.who),
            "kz_daily_pdk": _comparison_dict(r.kz),
        },
        "districts": [asdict(d) for d in r.districts],
        # completeness: received, expected, ratio and whether it meets the threshold
        "stations": [{**asdict(s), "valid": s.valid} for s in r.stations],
    }


def population_weighted_mean(
    values: Sequence[float | None], populations: Sequence[int]
) -> tuple[float | None, list[float | None]]:
    """Population-weighted mean of the values present, weights renormalised over them.

    Args:
        values: One value per area; None where the area has no data (excluded).
        populations: The areas' populations, same order.

    Returns:
        The mean (None when no area has data) and each area's weight (None when excluded).
    """
    if len(values) != len(populations):
        raise ValueError(f"{len(values)} values but {len(populations)} populations")
    keep = [i for i, v in enumerate(values) if v is not None and populations[i] > 0]
    if not keep:
        return None, [None] * len(values)
    pops = np.array([populations[i] for i in keep], dtype=np.float64)
    vals = np.array([values[i] for i in keep], dtype=np.float64)
    shares = pops / pops.sum()
    weights: list[float | None] = [None] * len(values)
    for i, share in zip(keep, shares, strict=True):
        weights[i] = float(share)
    return float(np.dot(shares, vals)), weights


def _pollutant_result(
    pollutant: Pollutant,
    means: AnnualMeans,
    *,
    stations: Sequence[Station],
    districts: Districts,
    now: datetime,
    threshold: Fraction | float,
) -> PollutantResult:
    years: list[StationYear] = []
    for station in stations:
        found = means.get(station.id)
        mean = found.of(pollutant) if found is not None else Mean(None, 0)
        done = completeness(
            mean.n,
            start=means.start,
            end=means.end,
            now=now,
            interval_s=station.interval_s,
            threshold=threshold,
        )
        years.append(
            StationYear(station.id, station.district, station.interval_s, mean.value, done)
        )
    members = [[y for y in years if y.district == d.name] for d in districts]
    valid = [[y for y in ys if y.valid] for ys in members]
    values = [float(np.mean([y.mean for y in vs])) if vs else None for vs in valid]
    city, weights = population_weighted_mean(values, [d.population for d in districts])
    rows = tuple(
        DistrictYear(
            d.name,
            d.population,
            values[i],
            tuple(y.station_id for y in valid[i]),
            len(members[i]),
            weights[i],
        )
        for i, d in enumerate(districts)
    )
    return PollutantResult(
        pollutant=pollutant,
        value=city,
        population_covered=sum(d.population for d in rows if d.weight is not None),
        population_total=sum(d.population for d in rows),
        excluded_districts=tuple(d.name for d in rows if d.weight is None),
        districts=rows,
        stations=tuple(years),
        who=_compare(city, limit_for(pollutant, AveragingPeriod.YEAR, Authority.WHO)),
        kz=_compare(city, limit_for(pollutant, AveragingPeriod.DAY, Authority.KZ)),
    )


def _compare(value: float | None, limit: Limit) -> Comparison:
    return Comparison(limit, None if value is None else value / limit.value_ugm3)


def build_report(
    means: AnnualMeans,
    *,
    stations: Iterable[Station],
    districts: Districts,
    now: datetime,
    threshold: Fraction | float = DEFAULT_MIN_COMPLETENESS,
) -> SdgReport:
    """The report from a year's station means (pure: the clock is `now`).

    Args:
        means: Annual means of the stations (`storage.airstats.annual_means`).
        stations: The network; only air stations are used, in this order.
        districts: Districts and populations (`load_districts`).
        now: The clock, for the elapsed part of a current year.
        threshold: Minimum completeness of a valid station-year.

    Raises:
        ValueError: The year has not started at `now`.
    """
    elapsed = covered_seconds(means.start, means.end, now)  # also rejects a naive `now`
    if now < means.start:
        raise ValueError(f"year {means.year} has not started yet in {means.tz}")
    air = [s for s in stations if s.kind is Feed.AIR]
    names = {d.name for d in districts}
    return SdgReport(
        year=means.year,
        tz=means.tz,
        start=means.start,
        end=means.end,
        now=now,
        covered_fraction=elapsed / (means.end - means.start).total_seconds(),
        threshold=float(threshold),
        population_source=districts.source,
        population_as_of=districts.as_of,
        results=tuple(
            _pollutant_result(
                p, means, stations=air, districts=districts, now=now, threshold=threshold
            )
            for p in SDG_POLLUTANTS
        ),
        unassigned_stations=tuple(s.id for s in air if s.district not in names),
    )


async def sdg_report(
    conn: psycopg.AsyncConnection[TupleRow],
    *,
    year: int,
    stations: Iterable[Station],
    districts: Districts,
    now: datetime,
    tz: str = DEFAULT_TZ,
    threshold: Fraction | float = DEFAULT_MIN_COMPLETENESS,
) -> SdgReport:
    """SDG 11.6.2 for `year` (local calendar year in `tz`) from `kuzet.air_hourly`.

    Raises:
        ValueError: The year has not started at `now`, or is out of range.
        psycopg.Error: A query failed.
    """
    network = list(stations)
    ids = [s.id for s in network if s.kind is Feed.AIR]
    means = await annual_means(conn, year, ids, tz=tz)
    return build_report(means, stations=network, districts=districts, now=now, threshold=threshold)


async def run_sdg_command(
    database_url: str,
    year: int,
    *,
    as_json: bool,
    stations: Iterable[Station],
    now: datetime,
    districts: Districts | None = None,
) -> str:
    """The text `kuzet report sdg --year Y [--json]` prints.

    Raises:
        ConfigError: The bundled districts file is invalid.
        StorageError: The database could not be queried.
        ValueError: The year has not started at `now`, or is out of range.
    """
    districts = districts or load_districts()
    try:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            report = await sdg_report(
                conn, year=year, stations=stations, districts=districts, now=now
            )
    except psycopg.Error as exc:
        raise translate(exc, "computing the SDG 11.6.2 report") from None
    if as_json:
        return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
    return format_table(report)


def _num(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def _pct(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else f"{value * 100:{spec}} %"


def _district_names(result: PollutantResult) -> list[str]:
    return [d.name for d in result.districts] + [s.district for s in result.stations]


def format_table(report: SdgReport) -> str:
    """The report as plain text with fixed-width columns."""
    elapsed = (
        f"partial year: counted up to {_iso(report.now)}, {_pct(report.covered_fraction)} of it"
        if report.partial
        else "complete year"
    )
    first = report.results[0] if report.results else None
    # Column widths fit the longest name, so long ids never shift the columns after them.
    ws = max([10] + [len(s.station_id) + 2 for s in first.stations] if first else [10])
    wd = max([12] + [len(x) + 2 for x in _district_names(first)] if first else [12])
    out = [
        f"SDG {INDICATOR} · population-weighted annual mean PM2.5 and PM10 · {CITY} {report.year}",
        f"Period      {report.year}-01-01 to {report.year}-12-31 in {report.tz} ({elapsed})",
        (
            f"Stations    valid with ≥ {_pct(report.threshold, 'g')} of the readings implied by"
            " interval_s (EEA assessment rule; US EPA 40 CFR 50 App. N)"
        ),
        "Districts   mean of valid stations; city = population-weighted over districts with data",
        f"Population  {report.population_source} (as of {report.population_as_of})",
        "",
        (
            f"{'pollutant':<10}{'mean ' + UNIT:>12}{'WHO annual':>12}{'× WHO':>8}"
            f"{'KZ ПДК daily':>14}{'× ПДК':>8}{'districts':>11}  population covered"
        ),
    ]
    for r in report.results:
        share = r.population_covered / r.population_total if r.population_total else None
        used = f"{len(r.districts) - len(r.excluded_districts)} of {len(r.districts)}"
        out.append(
            f"{_LABEL[r.pollutant]:<10}{_num(r.value):>12}{r.who.limit.value_ugm3:>12g}"
            f"{_num(r.who.multiple, '.2f'):>8}{r.kz.limit.value_ugm3:>14g}"
            f"{_num(r.kz.multiple, '.2f'):>8}{used:>11}  {r.population_covered:,} ({_pct(share)})"
        )
    out += [
        f"{_LABEL[r.pollutant]}: districts without a valid station, excluded and the weights "
        f"renormalised: {', '.join(r.excluded_districts) or 'none'}"
        for r in report.results
    ]
    out += [
        "WHO: 2021 annual guideline level. Kazakhstan sets no annual ПДК: the average-daily ПДК",
        "(order ҚР ДСМ-70) is shown for reference only, not as a compliance statement.",
        "",
        f"{'district':<{wd}}{'population':>12}"
        + "".join(f"{_LABEL[r.pollutant]:>8}{'weight':>8}{'stations':>10}" for r in report.results),
    ]
    for i, d in enumerate(first.districts if first else ()):
        cells = "".join(
            f"{_num(dy.mean):>8}{_pct(dy.weight):>8}"
            f"{f'{len(dy.valid_stations)} of {dy.station_count}':>10}"
            for dy in (r.districts[i] for r in report.results)
        )
        out.append(f"{d.name:<{wd}}{d.population:>12,}{cells}")
    out += [
        "",
        f"{'station':<{ws}}{'district':<{wd}}{'interval':>9}"
        + "".join(
            f"{_LABEL[r.pollutant]:>8}{'readings':>10}{'complete':>10}{'valid':>7}"
            for r in report.results
        ),
    ]
    for i, s in enumerate(first.stations if first else ()):
        cells = "".join(
            f"{_num(sy.mean):>8}{sy.completeness.received:>10,}"
            f"{_pct(sy.completeness.ratio):>10}{'yes' if sy.valid else 'no':>7}"
            for sy in (r.stations[i] for r in report.results)
        )
        out.append(
            f"{s.station_id:<{ws}}{s.district or '—':<{wd}}{f'{s.interval_s:g} s':>9}{cells}"
        )
    if report.unassigned_stations:
        out.append(
            "Air stations outside the districts file (not weighted): "
            + ", ".join(report.unassigned_stations)
        )
    return "\n".join(out) + "\n"
