"""Event values of the associator: its configuration, the event snapshot and its changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from collector.seismic.locate import MIN_ARRIVALS, SearchGrid
from collector.seismic.magnitude import (
    CITY_LAT,
    CITY_LON,
    FUKUSHIMA_TANAKA_1990,
    WU_ZHAO_2006,
    CityImpact,
    FukushimaTanaka,
    PdRelation,
)
from collector.seismic.picks import Pick
from collector.seismic.travel import VelocityModel


@dataclass(frozen=True, slots=True)
class AssociatorConfig:
    """Association, location and impact settings (see `collector.seismic.associate`)."""

    min_stations: int = 4
    # Largest |observed − predicted| P time accepted, and the slack of the pairwise test.
    tolerance_s: float = 1.0
    event_timeout_s: float = 20.0
    # The stations that found an event must lie within this distance of each other: the first
    # stations to see an event are its nearest, and the network's zones are under 150 km across.
    max_span_km: float = 150.0
    # Of the reporting stations nearer than the farthest one that picked, and whose data covers
    # the predicted P arrival + `silence_margin_s`, at least this fraction must have picked.
    min_trigger_fraction: float = 0.5
    silence_margin_s: float = 1.0
    # How long an unassociated pick waits for partners (P crosses the ~300 km network in ~50 s).
    pick_window_s: float = 60.0
    # A later pick of a station already in an event belongs to it (S wave, coda) for this long.
    absorb_s: float = 60.0
    # Ended events stay this long for absorption and `explaining_event`.
    history_s: float = 300.0
    # Pd over a shorter window than this says little about magnitude yet.
    min_pd_window_s: float = 1.0
    city: tuple[float, float] = (CITY_LAT, CITY_LON)
    model: VelocityModel = field(default_factory=VelocityModel)
    grid: SearchGrid = field(default_factory=SearchGrid)
    pd_relation: PdRelation = WU_ZHAO_2006
    gmpe: FukushimaTanaka = FUKUSHIMA_TANAKA_1990

    def __post_init__(self) -> None:
        if self.min_stations < MIN_ARRIVALS:
            raise ValueError(f"min_stations below {MIN_ARRIVALS} cannot constrain a location")
        if min(self.tolerance_s, self.event_timeout_s, self.max_span_km) <= 0:
            raise ValueError("tolerance_s, event_timeout_s and max_span_km must be positive")
        if not 0 <= self.min_trigger_fraction <= 1:
            raise ValueError("min_trigger_fraction must lie in [0, 1]")


class EventChange(enum.StrEnum):
    """What happened to an event."""

    DECLARED = "declared"
    UPDATED = "updated"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Event:
    """An associated event as it stands (`seismic_events` row plus details)."""

    event_id: str
    detected_at: datetime
    updated_at: datetime
    origin_time: datetime
    lat: float
    lon: float
    depth_km: float
    rms_s: float
    on_edge: bool
    magnitude: float | None
    magnitude_stations: int
    # In pick-time order, with the residual of each pick against the hypocentre.
    picks: tuple[Pick, ...]
    residuals_s: tuple[float, ...]
    city: CityImpact

    @property
    def station_count(self) -> int:
        """Distinct stations in the event."""
        return len(self.picks)

    @property
    def station_ids(self) -> tuple[str, ...]:
        """The stations, in pick-time order."""
        return tuple(p.station_id for p in self.picks)

    @property
    def intensity_city(self) -> float | None:
        """Expected intensity at the city centre (MSK-64 = MMI), None without a magnitude."""
        return self.city.intensity


@dataclass(frozen=True, slots=True)
class EventUpdate:
    """One change of one event."""

    change: EventChange
    event: Event
