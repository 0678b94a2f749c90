"""Frozen value objects that cross stage boundaries: feeds, readings, rejections."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class Feed(enum.StrEnum):
    """The three MQTT feeds; the value is the second topic level and the metric label."""

    AIR = "air"
    SEISMIC = "seismic"
    LAKE = "lake"


class RejectReason(enum.StrEnum):
    """Why a message or batch item was refused (spec §3); the metric label `reason`."""

    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    UNKNOWN_STATION = "unknown_station"
    TOO_LARGE = "too_large"
    BAD_TOPIC = "bad_topic"


# Measurement fields per feed, in table column order.
AIR_FIELDS: tuple[str, ...] = ("pm25", "pm10", "no2", "temp", "rh")
LAKE_FIELDS: tuple[str, ...] = ("level_m", "water_temp", "precip_mm", "discharge_m3s")


@dataclass(frozen=True, slots=True)
class AirReading:
    """One air-quality observation; µg/m³ for pollutants, °C, %RH. Absent fields are None."""

    station_id: str
    time: datetime
    pm25: float | None = None
    pm10: float | None = None
    no2: float | None = None
    temp: float | None = None
    rh: float | None = None

    feed = Feed.AIR


@dataclass(frozen=True, slots=True)
class LakeReading:
    """One moraine-lake or river-gauge observation. Absent fields are None."""

    station_id: str
    time: datetime
    level_m: float | None = None
    water_temp: float | None = None
    precip_mm: float | None = None
    discharge_m3s: float | None = None

    feed = Feed.LAKE


@dataclass(frozen=True, slots=True, eq=False)
class SeismicPacket:
    """A packet of three-component acceleration samples in gal; `time` is the first sample."""

    station_id: str
    time: datetime
    sr: float
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    z: npt.NDArray[np.float32]

    feed = Feed.SEISMIC

    @property
    def n(self) -> int:
        """Number of samples per component."""
        return len(self.x)


Reading: TypeAlias = AirReading | LakeReading | SeismicPacket


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused message or batch item, kept verbatim in `kuzet.rejected_messages`."""

    reason: RejectReason
    detail: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a decoder made of one MQTT message: the valid readings and the refused items."""

    readings: tuple[Reading, ...] = ()
    rejections: tuple[Rejection, ...] = field(default=())
