"""Hypocentre by grid search over the region: least-squares P residuals, origin time in closed form.

Grid (defaults of `SearchGrid`): 41.5–44.5° N × 74.5–80.5° E every 0.05° (about 5.6 km north–
south, 4.0 km east–west at 43° N), i.e. 61 × 121 = 7381 epicentres, each at depths 5, 10, 15 and
20 km (the seismogenic upper crust of the northern Tien Shan, from the Kastek zone in the west to
the Chilik zone and Kegen in the east, with the Kemin zone to the south). A second pass searches
±1 coarse step around the best node at a tenth of the step (~0.5 km), so an event is not limited
to the coarse spacing. Depth stays on the four levels: four or five stations barely constrain it,
and it trades off with origin time.

Misfit: with arrival times tᵢ and travel times ttᵢ(node), the origin time minimising the sum of
squares is t₀ = mean(tᵢ − ttᵢ), and the misfit is the RMS of rᵢ = tᵢ − t₀ − ttᵢ. Every node is
evaluated at once with numpy; the station-to-node epicentral distances are computed once per
station position and cached, so a location costs a few milliseconds.

A best node on the edge of the grid means the source is probably outside the region: the result
says so (`on_edge`), and its location is then only a direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collector.seismic.travel import VelocityModel, epicentral_km

Array = npt.NDArray[np.float64]

# Four unknowns (latitude, longitude, depth, origin time): three arrivals leave one free, so
# depth rests on the grid's levels; the associator asks for four by default.
MIN_ARRIVALS = 3

# Station positions seen by one locator: the network plus a few auto-registered stations.
_CACHE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class SearchGrid:
    """The region and resolution of the search (see the module docstring)."""

    lat_min: float = 41.5
    lat_max: float = 44.5
    lon_min: float = 74.5
    lon_max: float = 80.5
    step_deg: float = 0.05
    depths_km: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)
    # Second pass at step/refine around the best node; 1 switches it off.
    refine: int = 10

    def __post_init__(self) -> None:
        if self.lat_min >= self.lat_max or self.lon_min >= self.lon_max or self.step_deg <= 0:
            raise ValueError("empty search grid")
        if not self.depths_km or self.refine < 1:
            raise ValueError("need at least one depth and refine >= 1")

    def axes(self) -> tuple[Array, Array]:
        """The coarse latitudes and longitudes, bounds included."""
        # Rounded so that nodes print as 43.25, not 43.2499999999999 (arange accumulates).
        lats = np.arange(self.lat_min, self.lat_max + self.step_deg / 2, self.step_deg)
        lons = np.arange(self.lon_min, self.lon_max + self.step_deg / 2, self.step_deg)
        return np.round(lats, 9), np.round(lons, 9)


@dataclass(frozen=True, slots=True)
class Hypocentre:
    """A location: epicentre, depth and origin time (in the time base of the input)."""

    lat: float
    lon: float
    depth_km: float
    origin_s: float
    rms_s: float
    # tᵢ − t₀ − ttᵢ per input arrival, in input order.
    residuals_s: tuple[float, ...]
    on_edge: bool


class Locator:
    """Grid-search locator with a per-station distance cache."""

    def __init__(self, grid: SearchGrid | None = None, model: VelocityModel | None = None) -> None:
        self.grid = grid or SearchGrid()
        self.model = model or VelocityModel()
        lats, lons = self.grid.axes()
        self._shape = (lats.size, lons.size)
        lat_nodes, lon_nodes = np.meshgrid(lats, lons, indexing="ij")
        self._lat_nodes = lat_nodes.ravel()
        self._lon_nodes = lon_nodes.ravel()
        self._depths = np.asarray(self.grid.depths_km, dtype=np.float64)
        self._cache: dict[tuple[float, float], Array] = {}

    def locate(
        self,
        lats: Sequence[float],
        lons: Sequence[float],
        times_s: Sequence[float],
        elevations_km: Sequence[float] | None = None,
    ) -> Hypocentre:
        """Locate a source from P arrival times at stations.

        Args:
            lats: Station latitudes, degrees.
            lons: Station longitudes, degrees.
            times_s: P arrival times in seconds on any common time base (e.g. Unix time).
            elevations_km: Station elevations above sea level; 0 when omitted.

        Returns:
            The best hypocentre; `origin_s` is on the time base of `times_s`.

        Raises:
            ValueError: fewer than 3 arrivals or inconsistent lengths.
        """
        n = len(times_s)
        if n < MIN_ARRIVALS or len(lats) != n or len(lons) != n:
            raise ValueError("need at least 3 arrivals with a position each")
        elev = np.zeros(n) if elevations_km is None else np.asarray(elevations_km, dtype=float)
        base = min(times_s)
        times = np.asarray(times_s, dtype=np.float64) - base
        dist = np.stack([self._distances(la, lo) for la, lo in zip(lats, lons, strict=True)])
        node, depth = self._search(dist, elev, times, self._depths)
        i, j = np.unravel_index(node, self._shape)
        on_edge = i in (0, self._shape[0] - 1) or j in (0, self._shape[1] - 1)
        lat, lon = float(self._lat_nodes[node]), float(self._lon_nodes[node])
        if self.grid.refine > 1:
            lat, lon, depth = self._refine((lat, lon), lats, lons, elev, times)
        epi = epicentral_km(np.asarray(lats), np.asarray(lons), lat, lon)
        travel = self.model.p_time(epi, depth, elev)
        origin = float(np.mean(times - travel))
        residuals = times - origin - travel
        return Hypocentre(
            lat=lat,
            lon=lon,
            depth_km=depth,
            origin_s=origin + base,
            rms_s=float(np.sqrt(np.mean(residuals**2))),
            residuals_s=tuple(float(r) for r in residuals),
            on_edge=bool(on_edge),
        )

    def _distances(self, lat: float, lon: float) -> Array:
        key = (float(lat), float(lon))
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            cached = epicentral_km(lat, lon, self._lat_nodes, self._lon_nodes)
            self._cache[key] = cached
        return cached

    def _search(self, dist: Array, elev: Array, times: Array, depths: Array) -> tuple[int, float]:
        """Best (node index, depth) over every node of `dist` (stations × nodes) and depth."""
        best_rms, best_node, best_depth = np.inf, 0, float(depths[0])
        for depth in depths:
            travel = np.hypot(dist, (depth + elev)[:, np.newaxis]) / self.model.vp_km_s
            residual = times[:, np.newaxis] - travel
            residual -= residual.mean(axis=0)
            rms = np.sqrt(np.mean(residual * residual, axis=0))
            node = int(np.argmin(rms))
            if rms[node] < best_rms:
                best_rms, best_node, best_depth = float(rms[node]), node, float(depth)
        return best_node, best_depth

    def _refine(
        self,
        best: tuple[float, float],
        lats: Sequence[float],
        lons: Sequence[float],
        elev: Array,
        times: Array,
    ) -> tuple[float, float, float]:
        """Search ±1 coarse step around `best` (lat, lon) at step/refine, within the region."""
        lat, lon = best
        g = self.grid
        offsets = np.arange(-g.refine, g.refine + 1) * (g.step_deg / g.refine)
        fine_lats = np.round(np.clip(lat + offsets, g.lat_min, g.lat_max), 9)
        fine_lons = np.round(np.clip(lon + offsets, g.lon_min, g.lon_max), 9)
        lat_nodes, lon_nodes = (a.ravel() for a in np.meshgrid(fine_lats, fine_lons, indexing="ij"))
        dist = epicentral_km(
            np.asarray(lats)[:, np.newaxis],
            np.asarray(lons)[:, np.newaxis],
            lat_nodes[np.newaxis, :],
            lon_nodes[np.newaxis, :],
        )
        node, depth = self._search(dist, elev, times, self._depths)
        return float(lat_nodes[node]), float(lon_nodes[node]), depth
