"""Magnitude from early P amplitudes, expected shaking and intensity in the city, warning time.

Magnitude — Pd relation of Wu & Zhao (2006), built for earthquake early warning:
    log₁₀ Pd = −3.463 + 0.729·M − 1.374·log₁₀ R   (σ = 0.305)
with Pd the peak vertical displacement in cm in the first 3 s after the P arrival (0.075 Hz
high-pass) and R the hypocentral distance in km. Inverted: M = (log₁₀ Pd + 3.463 + 1.374·log₁₀ R)
/ 0.729. (Wu, Y.-M., and L. Zhao (2006), Magnitude estimation using the first three seconds
P-wave amplitude in earthquake early warning, Geophys. Res. Lett. 33, L16312.) The global
relation of Kuyuk & Allen (2013), M = 1.23·log₁₀ Pd + 1.38·log₁₀ R + 5.39 (Geophys. Res. Lett.
40, 6329–6333; Pd in cm, 4 s window), is provided as an alternative; both are applied here with
the hypocentral distance. Pd saturates above about M 6.5–7: estimates of
great events are minimum values. The event magnitude is the median of the station estimates.

Ground motion — Fukushima & Tanaka (1990), Bull. Seismol. Soc. Am. 80(4), 757–783, for shallow
(< 30 km) crustal events, mean peak horizontal acceleration in cm/s² (gal):
    log₁₀ A = 0.41·M − log₁₀(R + 0.032·10^(0.41·M)) − 0.0034·R + 1.30   (σ = 0.21)
R is the shortest distance to the rupture; with a point source we use the hypocentral distance,
which for a large rupture towards the city underestimates the shaking (the 0.032·10^(0.41 M)
near-source term limits how much). Coefficients as tabulated by Douglas's GMPE compendium.

Intensity — Worden et al. (2012), Bull. Seismol. Soc. Am. 102(1), 204–221, PGA in cm/s²:
    MMI = 1.78 + 1.55·log₁₀ PGA    for log₁₀ PGA ≤ 1.57
    MMI = −1.60 + 3.70·log₁₀ PGA   otherwise
(coefficients checked against USGS ShakeMap's implementation), clipped to 1–10 as ShakeMap
does. The spec takes MSK-64 intensity equal to this MMI.

Warning time: the S wave reaches the city centre (43.238° N, 76.889° E) at origin time + S travel
time; the lead time is that instant minus `now` (negative once it has passed).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.seismic.travel import VelocityModel, epicentral_km, hypocentral_km

CITY_LAT = 43.238
CITY_LON = 76.889

# Worden et al. (2012), PGA: MMI = C1 + C2·log₁₀ PGA up to log₁₀ PGA = T1, C3 + C4·log₁₀ PGA above.
WORDEN_2012_PGA = (1.78, 1.55, -1.60, 3.70, 1.57)
MMI_MIN, MMI_MAX = 1.0, 10.0

# Below 1 km log₁₀ R runs away; no station is that close to a source at 5 km depth anyway.
_MIN_DISTANCE_KM = 1.0


@dataclass(frozen=True, slots=True)
class PdRelation:
    """M = c_pd·log₁₀(Pd / cm) + c_r·log₁₀(R / km) + c0, R the hypocentral distance."""

    c_pd: float
    c_r: float
    c0: float
    reference: str


WU_ZHAO_2006 = PdRelation(
    c_pd=1 / 0.729,
    c_r=1.374 / 0.729,
    c0=3.463 / 0.729,
    reference="Wu & Zhao (2006) GRL 33 L16312: log Pd = -3.463 + 0.729 M - 1.374 log R",
)
KUYUK_ALLEN_2013 = PdRelation(
    c_pd=1.23,
    c_r=1.38,
    c0=5.39,
    reference="Kuyuk & Allen (2013) GRL 40 6329: M = 1.23 log Pd + 1.38 log R + 5.39",
)


@dataclass(frozen=True, slots=True)
class FukushimaTanaka:
    """log₁₀ A = a·M − log₁₀(R + c·10^(a·M)) − b·R + d, A in gal (Fukushima & Tanaka 1990)."""

    a: float = 0.41
    b: float = 0.0034
    c: float = 0.032
    d: float = 1.30
    sigma_log10: float = 0.21

    def pga_gal(self, magnitude: float, distance_km: float) -> float:
        """Median peak horizontal acceleration in gal at `distance_km` from the source."""
        r = max(distance_km, 0.0)
        scale = 10.0 ** (self.a * magnitude)
        log_pga = self.a * magnitude - math.log10(r + self.c * scale) - self.b * r + self.d
        return float(10.0**log_pga)


FUKUSHIMA_TANAKA_1990 = FukushimaTanaka()


def magnitude_from_pd(
    pd_cm: float, hypocentral: float, relation: PdRelation = WU_ZHAO_2006
) -> float:
    """Magnitude of one station's Pd (cm) at hypocentral distance `hypocentral` (km).

    Raises:
        ValueError: Pd is not positive.
    """
    if pd_cm <= 0:
        raise ValueError(f"Pd {pd_cm} cm: must be positive")
    r = max(hypocentral, _MIN_DISTANCE_KM)
    return relation.c_pd * math.log10(pd_cm) + relation.c_r * math.log10(r) + relation.c0


def network_magnitude(estimates: Sequence[float]) -> float | None:
    """The event magnitude: median of the station estimates (None without any)."""
    return statistics.median(estimates) if estimates else None


def mmi_from_pga(pga_gal: float) -> float:
    """Modified Mercalli intensity of a PGA in gal (Worden et al. 2012), clipped to [1, 10]."""
    if pga_gal <= 0:
        return MMI_MIN
    c1, c2, c3, c4, t1 = WORDEN_2012_PGA
    log_pga = math.log10(pga_gal)
    mmi = c1 + c2 * log_pga if log_pga <= t1 else c3 + c4 * log_pga
    return min(max(mmi, MMI_MIN), MMI_MAX)


@dataclass(frozen=True, slots=True)
class CityImpact:
    """What an event means for the city centre."""

    epicentral_km: float
    hypocentral_km: float
    # None while the magnitude is unknown.
    pga_gal: float | None
    # MSK-64, taken equal to MMI (spec §6).
    intensity: float | None
    s_arrival: datetime
    lead_time_s: float


def city_impact(
    origin_time: datetime,
    lat: float,
    lon: float,
    depth_km: float,
    *,
    magnitude: float | None,
    now: datetime,
    city: tuple[float, float] = (CITY_LAT, CITY_LON),
    model: VelocityModel | None = None,
    gmpe: FukushimaTanaka = FUKUSHIMA_TANAKA_1990,
) -> CityImpact:
    """Expected PGA and intensity at the city centre, S arrival there and the lead time.

    Args:
        origin_time: The event's origin time.
        lat: Epicentre latitude, degrees.
        lon: Epicentre longitude, degrees.
        depth_km: Hypocentre depth.
        magnitude: Event magnitude, or None when not yet estimated.
        now: The current time (injected): the lead time is counted from it.
        city: The point the warning is for; the centre of Almaty by default.
        model: Velocity model for the S travel time.
        gmpe: Ground-motion relation.

    Returns:
        The impact; PGA and intensity are None without a magnitude.
    """
    model = model or VelocityModel()
    epi = float(epicentral_km(lat, lon, city[0], city[1]))
    hypo = float(hypocentral_km(epi, depth_km))
    s_arrival = origin_time + timedelta(seconds=float(model.s_time(epi, depth_km)))
    pga = None if magnitude is None else gmpe.pga_gal(magnitude, hypo)
    return CityImpact(
        epicentral_km=epi,
        hypocentral_km=hypo,
        pga_gal=pga,
        intensity=None if pga is None else mmi_from_pga(pga),
        s_arrival=s_arrival,
        lead_time_s=(s_arrival - now).total_seconds(),
    )
