"""Dashboard 2, seismic: station map and status, STA/LTA and PGA picks, events and intensity."""

from __future__ import annotations

from provisioning.grafana_model import (
    Json,
    Panel,
    Row,
    Step,
    dashboard,
    query_variable,
    sql,
    sql_annotation,
)
from provisioning.panels import (
    MarkerLayer,
    cell_colors,
    geomap,
    override,
    stat,
    table,
    timeseries,
    value_text,
)
from provisioning.sql import AT, alerts_annotation_sql

UID = "kuzet-seismic"

# Defaults of spec §6 (all configurable in the daemon); drawn as reference lines only.
STA_LTA_TRIGGER = 3.5
STATION_PGA_GAL = 25.0
CITY_INTENSITY_ALERT = 4.0  # MSK-64, rule `earthquake`
# A station is online with a packet in the last max(3 × interval_s, this): one late 1 s
# packet must not make the map blink.
ONLINE_FLOOR_S = 30

_STATIONS = """
SELECT s.station_id FROM kuzet.stations AS s WHERE s.kind = 'seismic' ORDER BY 1"""

_STATUS = f"""
WITH last AS (
  SELECT p.station_id, max(p.time) AS time
  FROM kuzet.seismic_packets AS p
  WHERE p.time > {AT} - INTERVAL '15 minutes' AND p.time <= {AT}
  GROUP BY p.station_id
), picks AS (
  SELECT k.station_id, count(*) AS n, max(k.pga_gal) AS pga, max(k.sta_lta) AS sta_lta
  FROM kuzet.seismic_picks AS k
  WHERE $__timeFilter(k.time)
  GROUP BY k.station_id
)
SELECT s.station_id, coalesce(nullif(s.name, ''), s.station_id) AS name, s.lat, s.lon,
       CASE WHEN l.time >= {AT} - make_interval(secs => greatest(
              3 * coalesce((s.meta->>'interval_s')::float8, 1), {ONLINE_FLOOR_S}))
            THEN 1 ELSE 0 END AS online,
       l.time AS last_packet, coalesce(pk.n, 0) AS picks, pk.pga AS max_pga_gal,
       pk.sta_lta AS max_sta_lta
FROM kuzet.stations AS s
LEFT JOIN last AS l ON l.station_id = s.station_id
LEFT JOIN picks AS pk ON pk.station_id = s.station_id
WHERE s.kind = 'seismic' AND s.station_id IN ($station)
ORDER BY s.station_id"""

_EVENTS_FILTER = "$__timeFilter(e.detected_at)"

_EVENTS = f"""
SELECT e.detected_at AS "Detected", e.origin_time AS "Origin time",
       e.magnitude AS "Magnitude", e.depth_km AS "Depth", e.intensity_city AS "City intensity",
       e.station_count AS "Stations", e.lat AS "Lat", e.lon AS "Lon",
       extract(epoch FROM e.detected_at - e.origin_time) AS "Detection delay",
       e.event_id AS "Event"
FROM kuzet.seismic_events AS e
WHERE {_EVENTS_FILTER}
ORDER BY e.detected_at DESC
LIMIT 200"""

_EPICENTRES = f"""
SELECT e.event_id, e.lat, e.lon, e.magnitude, e.depth_km, e.intensity_city, e.station_count,
       e.origin_time
FROM kuzet.seismic_events AS e
WHERE {_EVENTS_FILTER} AND e.lat IS NOT NULL AND e.lon IS NOT NULL
ORDER BY e.detected_at"""

_STATION_POINTS = """
SELECT s.station_id, s.lat, s.lon FROM kuzet.stations AS s
WHERE s.kind = 'seismic' AND s.lat IS NOT NULL AND s.lon IS NOT NULL"""

_EVENT_ANNOTATIONS = f"""
SELECT coalesce(e.origin_time, e.detected_at) AS time,
       'M' || coalesce(round(e.magnitude::numeric, 1)::text, '?')
         || ', city intensity ' || coalesce(round(e.intensity_city::numeric, 1)::text, '?')
         || ', ' || e.station_count || ' stations' AS text,
       'earthquake' AS tags
FROM kuzet.seismic_events AS e
WHERE {_EVENTS_FILTER}
ORDER BY 1"""

_INTENSITY_STEPS = [Step(None, "green"), Step(3, "orange"), Step(CITY_INTENSITY_ALERT, "red")]


def _picks(column: str) -> str:
    return f"""
SELECT k.time AS time, k.station_id AS metric, k.{column} AS value
FROM kuzet.seismic_picks AS k
WHERE $__timeFilter(k.time) AND k.station_id IN ($station)
ORDER BY 1"""


def _event_stat(title: str, expr: str, steps: list[Step], decimals: int) -> Panel:
    return stat(
        title,
        sql(f"SELECT {expr} AS value FROM kuzet.seismic_events AS e WHERE {_EVENTS_FILTER}"),
        steps=steps,
        decimals=decimals,
        width=4,
    )


def build() -> Json:
    """The seismic dashboard."""
    online = value_text({"0": ("offline", "red"), "1": ("online", "green")})
    items: list[Panel | Row] = [
        Row("Network (status as of the end of the selected range)"),
        geomap(
            "Seismic stations",
            sql(_STATUS, table=True),
            layers=[
                MarkerLayer(
                    "Stations", color_field="online", text_field="station_id", symbol="triangle"
                )
            ],
            steps=[Step(None, "red"), Step(1, "green")],
            mappings=[online],
            zoom=9,
            height=12,
        ),
        table(
            "Station status and picks in range",
            sql(_STATUS, table=True),
            width=12,
            height=12,
            sort_by="max_pga_gal",
            overrides=[
                cell_colors("online", [Step(None, "red"), Step(1, "green")]),
                override("online", mappings=[online]),
                override("lat", custom__hidden=True),
                override("lon", custom__hidden=True),
                cell_colors(
                    "max_pga_gal", [Step(None, "transparent"), Step(STATION_PGA_GAL, "red")]
                ),
            ],
        ),
        Row("Detector picks"),
        timeseries(
            "STA/LTA at picks",
            sql(_picks("sta_lta")),
            draw="points",
            lines=[Step(None, "transparent"), Step(STA_LTA_TRIGGER, "red")],
            description=(
                f"Per-station STA/LTA ratio at each pick (kuzet.seismic_picks); dashed: the "
                f"default trigger {STA_LTA_TRIGGER:g} (STA 0.5 s, LTA 10 s)."
            ),
        ),
        timeseries(
            "PGA at picks",
            sql(_picks("pga_gal")),
            draw="points",
            unit="gal",
            lines=[Step(None, "transparent"), Step(STATION_PGA_GAL, "red")],
            description=f"Peak ground acceleration per pick, gal; dashed: rule station_pga "
            f"({STATION_PGA_GAL:g} gal).",
        ),
        Row("Events"),
        _event_stat("Events in range", "count(*)", [Step(None, "blue")], 0),
        _event_stat("Largest magnitude", "max(e.magnitude)", [Step(None, "blue")], 1),
        _event_stat(
            "Highest city intensity (MSK-64)", "max(e.intensity_city)", _INTENSITY_STEPS, 1
        ),
        geomap(
            "Epicentres",
            sql(_EPICENTRES, table=True),
            sql(_STATION_POINTS, ref="B", table=True),
            layers=[
                MarkerLayer(
                    "Epicentres",
                    color_field="intensity_city",
                    size_field="magnitude",
                    min_size=6,
                    max_size=30,
                ),
                MarkerLayer(
                    "Stations",
                    ref="B",
                    fixed_color="text",
                    symbol="triangle",
                    min_size=4,
                    max_size=4,
                ),
            ],
            steps=_INTENSITY_STEPS,
            zoom=8,
            height=14,
        ),
        table(
            "Recent events",
            sql(_EVENTS, table=True),
            width=12,
            height=10,
            overrides=[
                cell_colors("City intensity", _INTENSITY_STEPS),
                override("Depth", unit="lengthkm"),
                override("Detection delay", unit="s"),
            ],
        ),
    ]
    return dashboard(
        uid=UID,
        title="Kuzet · Seismic",
        description="Almaty seismic network: stations, STA/LTA and PGA picks, associated events.",
        items=items,
        variables=[query_variable("station", "Station", sql(_STATIONS), all_value=None)],
        annotations=[
            sql_annotation("Seismic alerts", alerts_annotation_sql("a.kind = 'seismic'")),
            sql_annotation("Earthquakes", _EVENT_ANNOTATIONS, color="orange"),
        ],
        time_from="now-6h",
        refresh="30s",
    )
