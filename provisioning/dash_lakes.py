"""Dashboard 3, mudflow lakes: state map and table, levels against marks, rise, rain, discharge."""

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
    table,
    timeseries,
    value_text,
)
from provisioning.sql import AT, ORIGIN, SINCE, alerts_annotation_sql, time_bin

UID = "kuzet-lakes"

# Default of rule lake_rise (spec §6, configurable in the daemon); a reference line only.
RISE_WARNING_M_H = 0.5
# The rise rate is the least-squares slope of the level over this trailing window (spec §6).
RISE_WINDOW = "30 minutes"

# Lake stations with their marks from stations.meta (the stations file's lake fields).
_LAKES = """lakes AS (
  SELECT s.station_id, coalesce(nullif(s.name, ''), s.station_id) AS name, s.lat, s.lon,
         coalesce(nullif(s.meta->>'downstream', ''), nullif(s.district, ''), 'unknown')
           AS valley,
         coalesce((s.meta->>'outburst_hazard')::boolean, false) AS hazardous,
         (s.meta->>'warning_level_m')::float8 AS warning_m,
         (s.meta->>'critical_level_m')::float8 AS critical_m
  FROM kuzet.stations AS s
  WHERE s.kind = 'lake'
)"""

_STATE = f"""
WITH {_LAKES}, latest AS (
  SELECT DISTINCT ON (r.station_id) r.station_id, r.time, r.level_m
  FROM kuzet.lake_readings AS r
  WHERE r.time > {AT} - INTERVAL '1 day' AND r.time <= {AT} AND r.level_m IS NOT NULL
  ORDER BY r.station_id, r.time DESC
), rise AS (
  SELECT r.station_id,
         regr_slope(r.level_m, extract(epoch FROM r.time)::float8) * 3600 AS m_per_h
  FROM kuzet.lake_readings AS r
  JOIN latest AS t ON t.station_id = r.station_id
  WHERE r.time > t.time - INTERVAL '{RISE_WINDOW}' AND r.time <= t.time
    AND r.level_m IS NOT NULL
  GROUP BY r.station_id
), outburst AS (
  SELECT DISTINCT a.station_id
  FROM kuzet.alerts AS a
  WHERE a.rule = 'lake_outburst' AND a.started_at <= {AT}
    AND (a.resolved_at IS NULL OR a.resolved_at > {AT})
)
SELECT l.station_id, l.name, l.valley, l.lat, l.lon,
       CASE WHEN l.hazardous THEN 'hazardous' ELSE '' END AS outburst_hazard,
       CASE WHEN l.hazardous THEN 2 ELSE 1 END AS marker,
       t.level_m, l.warning_m, l.critical_m, ri.m_per_h AS rise_m_h, t.time AS last_reading,
       CASE WHEN o.station_id IS NOT NULL THEN 3
            WHEN t.level_m IS NULL THEN -1
            WHEN t.level_m >= l.critical_m THEN 2
            WHEN t.level_m >= l.warning_m THEN 1
            ELSE 0 END AS state
FROM lakes AS l
LEFT JOIN latest AS t ON t.station_id = l.station_id
LEFT JOIN rise AS ri ON ri.station_id = l.station_id
LEFT JOIN outburst AS o ON o.station_id = l.station_id
ORDER BY l.hazardous DESC, state DESC, l.station_id"""

_LAKE_CHOICES = """
SELECT s.station_id AS __value, coalesce(nullif(s.name, ''), s.station_id) AS __text
FROM kuzet.stations AS s
WHERE s.kind = 'lake'
ORDER BY coalesce((s.meta->>'outburst_hazard')::boolean, false) DESC, s.station_id"""

_RELATIVE = f"""
WITH {_LAKES}
SELECT {time_bin("r.time")} AS time, l.name AS metric,
       (avg(r.level_m) - l.warning_m) / nullif(l.critical_m - l.warning_m, 0) AS value
FROM kuzet.lake_readings AS r
JOIN lakes AS l ON l.station_id = r.station_id
WHERE $__timeFilter(r.time) AND l.warning_m IS NOT NULL AND l.critical_m IS NOT NULL
GROUP BY 1, l.name, l.warning_m, l.critical_m
ORDER BY 1"""

_LEVELS = f"""
WITH {_LAKES}
SELECT {time_bin("r.time")} AS time, l.name || ' level' AS metric, avg(r.level_m) AS value
FROM kuzet.lake_readings AS r
JOIN lakes AS l ON l.station_id = r.station_id
WHERE $__timeFilter(r.time) AND r.station_id IN ($lake)
GROUP BY 1, 2
UNION ALL
SELECT v.t, l.name || ' warning', l.warning_m
FROM lakes AS l CROSS JOIN (VALUES ({SINCE}), ({AT})) AS v(t)
WHERE l.station_id IN ($lake) AND l.warning_m IS NOT NULL
UNION ALL
SELECT v.t, l.name || ' critical', l.critical_m
FROM lakes AS l CROSS JOIN (VALUES ({SINCE}), ({AT})) AS v(t)
WHERE l.station_id IN ($lake) AND l.critical_m IS NOT NULL
ORDER BY 1"""

# The rule's own rise rate at every reading (trailing window), then the largest per bin.
_RISE = f"""
WITH {_LAKES}, rates AS (
  SELECT r.time, r.station_id,
         regr_slope(r.level_m, extract(epoch FROM r.time)::float8) OVER (
           PARTITION BY r.station_id ORDER BY r.time
           RANGE BETWEEN INTERVAL '{RISE_WINDOW}' PRECEDING AND CURRENT ROW) * 3600 AS m_per_h
  FROM kuzet.lake_readings AS r
  WHERE r.time > {SINCE} - INTERVAL '{RISE_WINDOW}' AND r.time <= {AT}
    AND r.level_m IS NOT NULL AND r.station_id IN ($lake)
)
SELECT {time_bin("x.time")} AS time, l.name AS metric, max(x.m_per_h) AS value
FROM rates AS x
JOIN lakes AS l ON l.station_id = x.station_id
WHERE x.time >= {SINCE}
GROUP BY 1, 2
ORDER BY 1"""

# precip_mm is the rain since the previous reading: summed per station and hour, then
# averaged over the valley's stations (a sum over stations would grow with their number).
_RAIN = f"""
WITH {_LAKES}, hourly AS (
  SELECT date_bin(INTERVAL '1 hour', r.time, {ORIGIN}) AS hour, r.station_id,
         sum(r.precip_mm) AS mm
  FROM kuzet.lake_readings AS r
  WHERE $__timeFilter(r.time) AND r.precip_mm IS NOT NULL
  GROUP BY 1, 2
)
SELECT h.hour AS time, l.valley AS metric, avg(h.mm) AS value
FROM hourly AS h
JOIN lakes AS l ON l.station_id = h.station_id
GROUP BY 1, 2
ORDER BY 1"""

_DISCHARGE = f"""
WITH {_LAKES}
SELECT {time_bin("r.time")} AS time, l.name AS metric, avg(r.discharge_m3s) AS value
FROM kuzet.lake_readings AS r
JOIN lakes AS l ON l.station_id = r.station_id
WHERE $__timeFilter(r.time) AND r.discharge_m3s IS NOT NULL
GROUP BY 1, 2
ORDER BY 1"""

_STATE_STEPS = [
    Step(None, "#8E8E8E"),
    Step(0, "green"),
    Step(1, "orange"),
    Step(2, "red"),
    Step(3, "purple"),
]
_STATE_TEXT = value_text(
    {
        "-1": ("no data", "#8E8E8E"),
        "0": ("normal", "green"),
        "1": ("warning", "orange"),
        "2": ("critical", "red"),
        "3": ("outburst", "purple"),
    }
)


def build() -> Json:
    """The mudflow-lakes dashboard."""
    items: list[Panel | Row] = [
        Row("Lakes now (as of the end of the selected range)"),
        geomap(
            "Lake stations by state",
            sql(_STATE, table=True),
            layers=[
                MarkerLayer(
                    "Lakes",
                    color_field="state",
                    text_field="name",
                    size_field="marker",
                    min_size=7,
                    max_size=14,
                )
            ],
            steps=_STATE_STEPS,
            mappings=[_STATE_TEXT],
            zoom=9,
            height=14,
            description="Large markers: outburst-hazardous lakes. State: level against the "
            "station's warning/critical marks, or outburst while a lake_outburst alert fires.",
        ),
        table(
            "Lake state (hazardous lakes first)",
            sql(_STATE, table=True),
            width=12,
            height=14,
            overrides=[
                cell_colors("state", _STATE_STEPS),
                override("state", mappings=[_STATE_TEXT]),
                cell_colors("outburst_hazard", [Step(None, "transparent")]),
                override(
                    "outburst_hazard",
                    mappings=[value_text({"hazardous": ("outburst-hazardous", "dark-red")})],
                ),
                override("level_m", unit="lengthm", decimals=2),
                override("warning_m", unit="lengthm", decimals=2),
                override("critical_m", unit="lengthm", decimals=2),
                cell_colors(
                    "rise_m_h", [Step(None, "transparent"), Step(RISE_WARNING_M_H, "orange")]
                ),
                *(override(name, custom__hidden=True) for name in ("lat", "lon", "marker")),
            ],
        ),
        Row("Levels"),
        timeseries(
            "Level on the warning → critical scale (all lakes with marks)",
            sql(_RELATIVE),
            width=24,
            height=9,
            lines=[Step(None, "transparent"), Step(0, "orange"), Step(1, "red")],
            description="(level − warning) / (critical − warning): 0 is the warning mark, 1 the "
            "critical mark, so lakes with different gauges share one axis.",
        ),
        timeseries(
            "Level of the selected lakes with their marks",
            sql(_LEVELS),
            unit="lengthm",
            overrides=[
                override(
                    "/ warning$/",
                    regex=True,
                    color={"mode": "fixed", "fixedColor": "orange"},
                    custom__lineStyle={"fill": "dash", "dash": [10, 6]},
                ),
                override(
                    "/ critical$/",
                    regex=True,
                    color={"mode": "fixed", "fixedColor": "red"},
                    custom__lineStyle={"fill": "dash", "dash": [10, 6]},
                ),
            ],
        ),
        timeseries(
            "Rise rate of the selected lakes (m/h, trailing 30 min)",
            sql(_RISE),
            lines=[Step(None, "transparent"), Step(RISE_WARNING_M_H, "orange")],
            description="Least-squares slope of the level over the trailing 30 min at each "
            f"reading, the largest per interval; dashed: rule lake_rise ({RISE_WARNING_M_H} m/h).",
        ),
        Row("Rain and discharge"),
        timeseries(
            "Rainfall per hour by valley",
            sql(_RAIN),
            draw="bars",
            unit="lengthmm",
            description="Hourly precipitation, mean over the valley's stations.",
        ),
        timeseries(
            "Discharge at river gauges",
            sql(_DISCHARGE),
            unit="flowcms",
            description="Downstream gauges: rule lake_outburst fires at twice the previous "
            "hour's median.",
        ),
    ]
    return dashboard(
        uid=UID,
        title="Kuzet · Mudflow lakes",
        description="Moraine lakes of the Zailiysky Alatau: levels, marks, rise, rain, discharge.",
        items=items,
        variables=[
            query_variable("lake", "Lakes", sql(_LAKE_CHOICES), include_all=False, sort=False),
        ],
        annotations=[sql_annotation("Lake alerts", alerts_annotation_sql("a.kind = 'lake'"))],
    )
