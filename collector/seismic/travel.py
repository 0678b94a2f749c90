"""Velocity model of the northern Tien Shan crust: distances and straight-ray P and S travel times.

Model. A uniform crust with Vp = 6.0 km/s and Vs = 3.5 km/s (Vp/Vs ≈ 1.71, close to the 1.73
of a Poisson solid), rays straight from the hypocentre to the station: the usual first
approximation for local events in the upper and middle crust. It is an assumption, not a
calibration. Published 1D models of the Tien Shan exist (Sycheva & Kuzikov compare four for the
KNET network, among them Roecker's and Grin (1990) for the northern Tien Shan); put the
operators' preferred one's average crustal velocities into `VelocityModel` when known.

Limits, and why they matter little here: the Tien Shan crust is roughly 45–60 km thick, so the
head wave along the Moho (Pn, ~8 km/s) overtakes the direct P only beyond ~200 km;
the network spans ~300 km but an event is declared from its first four stations, the nearest
ones. Velocity increases with depth in reality, so deep paths run a little fast here.

Distances: great-circle (haversine) on a sphere of 6371 km; the epicentral arc is the horizontal
leg of the straight ray, which is exact to well under 0.1 % within a few hundred km. Depths are in
km below sea level; station elevations (km above sea level) lengthen the vertical leg, which
matters for the Ile Alatau stations at 2–3.5 km.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class VelocityModel:
    """Uniform-crust velocities in km/s (see the module docstring)."""

    vp_km_s: float = 6.0
    vs_km_s: float = 3.5

    def __post_init__(self) -> None:
        if not 0 < self.vs_km_s < self.vp_km_s:
            raise ValueError("need 0 < vs_km_s < vp_km_s")

    def p_time(
        self,
        epicentral_km: npt.ArrayLike,
        depth_km: npt.ArrayLike,
        elevation_km: npt.ArrayLike = 0.0,
    ) -> Array:
        """P travel time in seconds (broadcast over the arguments)."""
        return hypocentral_km(epicentral_km, depth_km, elevation_km) / self.vp_km_s

    def s_time(
        self,
        epicentral_km: npt.ArrayLike,
        depth_km: npt.ArrayLike,
        elevation_km: npt.ArrayLike = 0.0,
    ) -> Array:
        """S travel time in seconds (broadcast over the arguments)."""
        return hypocentral_km(epicentral_km, depth_km, elevation_km) / self.vs_km_s


def epicentral_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> Array:
    """Great-circle distance in km between points given in degrees (haversine, broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(np.subtract(lon2, lon1))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def hypocentral_km(
    epicentral: npt.ArrayLike, depth_km: npt.ArrayLike, elevation_km: npt.ArrayLike = 0.0
) -> Array:
    """Straight-line source–station distance in km: √(Δ² + (depth + elevation)²)."""
    vertical = np.add(depth_km, elevation_km)
    return np.asarray(np.hypot(epicentral, vertical), dtype=np.float64)
