"""Typical alert parameters per rule, with long real names, for the message tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alerts.messages import load_messages

MESSAGES = load_messages()
DURATION = timedelta(hours=3, minutes=20)


def names(en: str, ru: str, kk: str) -> dict[str, str]:
    return {"en": en, "ru": ru, "kk": kk}


# Long real names from stations.toml, so the length limits are checked on the hard cases.
AIRPORT = {
    "station": names(
        "Almaty International Airport (Maylin St)",
        "Международный аэропорт Алматы (ул. Майлина)",
        "Алматы халықаралық әуежайы (Майлин көшесі)",
    ),
    "station_id": "AIR-16",
    "area": "Turksib",
}
LAKE_13BIS = {
    "station": names(
        "Lake No. 13-bis (Bolshaya Almatinka)",
        "озеро №13-бис (Большая Алматинка)",
        "№13-бис көл (Үлкен Алматы)",
    ),
    "station_id": "LAKE-14",
    "area": "Bolshaya Almatinka",
}

TYPICAL: dict[str, dict[str, Any]] = {
    # PM2.5 24 h mean just over the 35 µg/m³ daily limit
    "pm25_24h": {**AIRPORT, "value": 41.24, "threshold": 35, "severity": "warning"},
    # PM2.5 1 h mean over the 160 µg/m³ one-time limit on a winter smog night
    "pm25_1h": {**AIRPORT, "value": 182.6, "threshold": 160, "severity": "critical"},
    # NO2 1 h mean over the 200 µg/m³ one-time limit
    "no2_1h": {**AIRPORT, "value": 212.4, "threshold": 200, "severity": "critical"},
    # NO2 24 h mean over the 40 µg/m³ daily limit
    "no2_24h": {**AIRPORT, "value": 48.7, "threshold": 40, "severity": "warning"},
    # NowCast AQI in "Unhealthy"
    "aqi": {
        **AIRPORT,
        "value": 187,
        "threshold": 151,
        "category": "unhealthy",
        "severity": "warning",
    },
    # a Chilik-zone event: M5.8 86 km south-east, intensity 6 in the city, 18 s of warning
    "earthquake": {
        "station": "Almaty",
        "area": "Almaty",
        "station_id": "EQ-20260110-0412",
        "magnitude": 5.8,
        "intensity": 6,
        "lead_s": 18,
        "distance_km": 86,
        "direction": "SE",
        "severity": "critical",
    },
    # one station above 25 gal without an associated event
    "station_pga": {
        "station": names("Talgar Gorge", "Талгарское ущелье", "Талғар шатқалы"),
        "station_id": "SEIS-15",
        "area": "Almaty",
        "value": 31.5,
        "threshold": 25,
        "unit": "gal",
        "severity": "warning",
    },
    # a hazardous lake above its critical mark
    "lake_level": {
        **LAKE_13BIS,
        "value": 4.35,
        "threshold": 4.2,
        "unit": "m",
        "severity": "critical",
    },
    # the same lake rising at 0.62 m/h
    "lake_rise": {
        **LAKE_13BIS,
        "value": 0.62,
        "threshold": 0.5,
        "unit": "m/h",
        "severity": "warning",
    },
    # a surge at the gauge below the Aksai lakes
    "lake_outburst": {
        "station": names(
            "Aksai River gauge (gorge outlet)",
            "гидропост р. Аксай (выход из ущелья)",
            "Ақсай өзені гидробекеті (шатқал шығысы)",
        ),
        "station_id": "LAKE-11",
        "area": "Aksai",
        "downstream": ["Aksai"],
        "value": 2.4,
        "threshold": 2,
        "severity": "critical",
    },
    # seven stations over the one-time limit at once (a city-wide alert from five)
    "pm25_1h_city": {
        "station": "Almaty",
        "area": "Almaty",
        "value": 7.0,
        "threshold": 5.0,
        "unit": "stations",
        "severity": "warning",
    },
    # five stations over the daily limit: the city-wide threshold itself
    "pm25_24h_city": {
        "station": "Almaty",
        "area": "Almaty",
        "value": 5.0,
        "threshold": 5.0,
        "unit": "stations",
        "severity": "warning",
    },
    # a 300 s sensor silent for 19 min (allowed gap 15 min)
    "station_stale": {
        "station": names("Aynabulak", "мкр Айнабулак", "Айнабұлақ шағынауданы"),
        "station_id": "AIR-14",
        "area": "Zhetysu",
        "value": 1140,
        "threshold": 900,
        "severity": "info",
    },
}
