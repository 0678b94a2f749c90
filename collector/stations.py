"""The stations file (spec §4): loading, validation and the in-memory registry."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collector.config import ConfigError
from collector.models import Feed

STATION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Station(BaseModel):
    """One station of the network, as described by the stations file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=STATION_ID.pattern)
    kind: Feed
    name: str = ""
    name_ru: str = ""
    name_kk: str = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    elevation_m: float | None = None
    district: str = ""
    interval_s: float = Field(default=60.0, gt=0)
    # lake stations
    warning_level_m: float | None = None
    critical_level_m: float | None = None
    outburst_hazard: bool = False
    downstream: str = ""
    downstream_of: str | None = None
    # seismic stations
    sr: float | None = Field(default=None, ge=1, le=1000)
    # Auto-registered from traffic (KUZET_UNKNOWN_STATIONS=accept), not from the file.
    auto: bool = False

    @model_validator(mode="after")
    def _check_kind_fields(self) -> Self:
        if (
            self.warning_level_m is not None
            and self.critical_level_m is not None
            and self.warning_level_m >= self.critical_level_m
        ):
            raise ValueError("warning_level_m must be below critical_level_m")
        if self.kind is not Feed.LAKE and (
            self.warning_level_m is not None or self.downstream_of or self.outburst_hazard
        ):
            raise ValueError("lake fields on a station that is not a lake")
        if self.kind is not Feed.SEISMIC and self.sr is not None:
            raise ValueError("sr on a station that is not seismic")
        return self

    @property
    def area(self) -> str:
        """The alert `area` label: district (air), valley (lake), `Almaty` (seismic)."""
        if self.kind is Feed.SEISMIC:
            return "Almaty"
        if self.kind is Feed.LAKE:
            return self.downstream or self.district
        return self.district

    def meta(self) -> dict[str, Any]:
        """Fields without a column of their own in `kuzet.stations` (stored as jsonb)."""
        return self.model_dump(
            mode="json",
            exclude={"id", "kind", "name", "lat", "lon", "elevation_m", "district"},
            exclude_none=True,
        )


class Stations:
    """Known stations by id; unknown ones are registered on first sight when accepted."""

    def __init__(self, stations: list[Station]) -> None:
        self._by_id: dict[str, Station] = {s.id: s for s in stations}

    def get(self, station_id: str) -> Station | None:
        """The station, or None when unknown."""
        return self._by_id.get(station_id)

    def register_auto(self, station_id: str, kind: Feed) -> Station:
        """Record a station seen on the wire but absent from the file (no position)."""
        station = Station(id=station_id, kind=kind, auto=True)
        self._by_id[station_id] = station
        return station

    def __iter__(self) -> Iterator[Station]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def of_kind(self, kind: Feed) -> list[Station]:
        """Stations of one feed, in file order."""
        return [s for s in self._by_id.values() if s.kind is kind]


def bundled_stations_path() -> Path:
    """The Almaty network shipped with the package."""
    return Path(str(resources.files("collector") / "data" / "stations.toml"))


def load_stations(path: Path | None) -> Stations:
    """Load and validate a stations file (the bundled network when `path` is None).

    Raises:
        ConfigError: one line naming every problem.
    """
    path = path or bundled_stations_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read stations file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"stations file {path} is not valid TOML: {exc}") from None
    entries = raw.get("station", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"stations file {path}: no [[station]] tables")
    stations: list[Station] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        label = entry.get("id", f"#{index + 1}") if isinstance(entry, dict) else f"#{index + 1}"
        try:
            stations.append(Station.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "station"
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"station {label}: {field}: {msg}")
    seen: set[str] = set()
    for station in stations:
        if station.id in seen:
            problems.append(f"station {station.id}: duplicate id")
        seen.add(station.id)
    by_id = {s.id: s for s in stations}
    for station in stations:
        if station.downstream_of is not None:
            upstream = by_id.get(station.downstream_of)
            if upstream is None or upstream.kind is not Feed.LAKE:
                problems.append(
                    f"station {station.id}: downstream_of {station.downstream_of!r} "
                    "is not a lake station"
                )
    if problems:
        raise ConfigError(f"stations file {path}: " + "; ".join(problems))
    return Stations(stations)
