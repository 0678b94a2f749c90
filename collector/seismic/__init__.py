"""Pure earthquake computations: streaming STA/LTA detection, association, location, magnitude.

Nothing here does I/O or reads a clock: the daemon feeds packets and passes `now` in. Per station
a `StationDetector` turns `SeismicPacket`s into `Pick`s and per-second `SecondPga`s; one
`Associator` for the network turns picks (with station positions, and each station's data extent
from `station_seen`) into `EventUpdate`s carrying the hypocentre, magnitude, and the expected
intensity and S-wave lead time at the city centre.
"""

from __future__ import annotations

from collector.seismic.associate import Associator
from collector.seismic.events import AssociatorConfig, Event, EventChange, EventUpdate
from collector.seismic.locate import Hypocentre, Locator, SearchGrid
from collector.seismic.magnitude import (
    CITY_LAT,
    CITY_LON,
    FUKUSHIMA_TANAKA_1990,
    KUYUK_ALLEN_2013,
    WU_ZHAO_2006,
    CityImpact,
    FukushimaTanaka,
    PdRelation,
    city_impact,
    magnitude_from_pd,
    mmi_from_pga,
    network_magnitude,
)
from collector.seismic.picks import Pick, SecondPga
from collector.seismic.stalta import (
    COMPONENTS,
    DetectorConfig,
    DetectorResult,
    PacketStatus,
    StationDetector,
)
from collector.seismic.travel import (
    EARTH_RADIUS_KM,
    VelocityModel,
    epicentral_km,
    hypocentral_km,
)

__all__ = [
    "CITY_LAT",
    "CITY_LON",
    "COMPONENTS",
    "EARTH_RADIUS_KM",
    "FUKUSHIMA_TANAKA_1990",
    "KUYUK_ALLEN_2013",
    "WU_ZHAO_2006",
    "Associator",
    "AssociatorConfig",
    "CityImpact",
    "DetectorConfig",
    "DetectorResult",
    "Event",
    "EventChange",
    "EventUpdate",
    "FukushimaTanaka",
    "Hypocentre",
    "Locator",
    "PacketStatus",
    "PdRelation",
    "Pick",
    "SearchGrid",
    "SecondPga",
    "StationDetector",
    "VelocityModel",
    "city_impact",
    "epicentral_km",
    "hypocentral_km",
    "magnitude_from_pd",
    "mmi_from_pga",
    "network_magnitude",
]
