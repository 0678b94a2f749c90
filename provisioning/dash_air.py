"""Dashboard 1, city air quality: AQI map, PM2.5/PM10/NO2 against limits, 24 h means, NowCast."""

from __future__ import annotations

from collector.air import Authority, AveragingPeriod, Pollutant, limit_for
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
    dashed_series,
    geomap,
    override,
    stat,
    table,
    timeseries,
    value_text,
)
from provisioning.sql import (
    NO_AQI,
    NO_DATA_COLOR,
    alerts_annotation_sql,
    aqi_expr,
    aqi_steps,
    category_expr,
    clock_hour,
    limit_lines,
    limit_lines_sql,
    limit_steps,
    nowcast_ctes,
)

UID = "kuzet-air"
UGM3 = "conμgm3"  # Grafana's unit id for µg/m³
IN_DISTRICTS = "s.district IN ($district)"

_DISTRICTS = """
SELECT DISTINCT s.district FROM kuzet.stations AS s
WHERE s.kind = 'air' AND s.district <> '' ORDER BY 1"""

_STATIONS_AQI = f"""
WITH {nowcast_ctes()}, q AS (
  SELECT s.station_id, coalesce(nullif(s.name, ''), s.station_id) AS name, s.district,
         s.lat, s.lon, n.pm25 AS nowcast, {aqi_expr("n.pm25")} AS aqi
  FROM kuzet.stations AS s
  LEFT JOIN nowcast AS n ON n.station_id = s.station_id
  WHERE s.kind = 'air' AND s.lat IS NOT NULL AND s.lon IS NOT NULL AND {IN_DISTRICTS}
)
SELECT q.station_id, q.name, q.district, q.lat, q.lon, q.nowcast AS "PM2.5 NowCast",
       coalesce(q.aqi, {NO_AQI}) AS aqi, {category_expr("q.aqi")} AS category
FROM q ORDER BY q.station_id"""

_CITY_NOWCAST = f"""
WITH {nowcast_ctes()}
SELECT avg(n.pm25) AS "PM2.5 NowCast"
FROM nowcast AS n JOIN kuzet.stations AS s ON s.station_id = n.station_id
WHERE {IN_DISTRICTS}"""

_CITY_AQI = f"""
WITH {nowcast_ctes()}, city AS (
  SELECT avg(n.pm25) AS pm25
  FROM nowcast AS n JOIN kuzet.stations AS s ON s.station_id = n.station_id
  WHERE {IN_DISTRICTS}
)
SELECT {aqi_expr("c.pm25")} AS "AQI" FROM city AS c"""

_WORST_AQI = f"""
WITH {nowcast_ctes()}
SELECT max({aqi_expr("n.pm25")}) AS "AQI"
FROM nowcast AS n JOIN kuzet.stations AS s ON s.station_id = n.station_id
WHERE {IN_DISTRICTS}"""

# The 24 h means are the readings-weighted means of the 24 clock hours up to the one
# containing the end of the range, as storage.airstats computes daily means.
_DAY = f"""day AS (
  SELECT a.station_id,
         sum(a.pm25_avg * a.n_pm25) / nullif(sum(a.n_pm25), 0) AS pm25,
         sum(a.pm10_avg * a.n_pm10) / nullif(sum(a.n_pm10), 0) AS pm10,
         sum(a.no2_avg * a.n_no2) / nullif(sum(a.n_no2), 0) AS no2,
         sum(a.n_pm25) AS n_pm25
  FROM kuzet.air_hourly AS a
  WHERE a.bucket > {clock_hour()} - INTERVAL '24 hours' AND a.bucket <= {clock_hour()}
  GROUP BY a.station_id
)"""

_OVER_DAILY_LIMIT = f"""
WITH {_DAY}
SELECT count(*) FILTER (WHERE d.pm25 > {
    limit_for(Pollutant.PM25, AveragingPeriod.DAY, Authority.KZ).value_ugm3:g}) AS "Stations"
FROM day AS d JOIN kuzet.stations AS s ON s.station_id = d.station_id
WHERE s.kind = 'air' AND {IN_DISTRICTS}"""

_MEANS_TABLE = f"""
WITH {nowcast_ctes()}, {_DAY}, q AS (
  SELECT s.station_id, s.name, s.district, d.pm25, d.pm10, d.no2,
         100.0 * d.n_pm25 / (86400 / coalesce((s.meta->>'interval_s')::numeric, 60)) AS coverage,
         n.pm25 AS nowcast, {aqi_expr("n.pm25")} AS aqi
  FROM kuzet.stations AS s
  LEFT JOIN day AS d ON d.station_id = s.station_id
  LEFT JOIN nowcast AS n ON n.station_id = s.station_id
  WHERE s.kind = 'air' AND {IN_DISTRICTS}
)
SELECT q.station_id AS "Station", q.name AS "Name", q.district AS "District",
       q.pm25 AS "PM2.5 24 h", q.pm10 AS "PM10 24 h", q.no2 AS "NO2 24 h",
       q.coverage AS "PM2.5 coverage", q.nowcast AS "PM2.5 NowCast", q.aqi AS "AQI",
       {category_expr("q.aqi")} AS "Category"
FROM q ORDER BY q.pm25 DESC NULLS LAST"""


def _hourly_by_district(pollutant: Pollutant) -> str:
    col = pollutant.value
    return f"""
SELECT a.bucket AS time, s.district AS metric,
       sum(a.{col}_avg * a.n_{col}) / nullif(sum(a.n_{col}), 0) AS value
FROM kuzet.air_hourly AS a
JOIN kuzet.stations AS s ON s.station_id = a.station_id
WHERE $__timeFilter(a.bucket) AND {IN_DISTRICTS}
GROUP BY a.bucket, s.district
ORDER BY 1"""


def _pollutant_panel(pollutant: Pollutant, label: str, width: int) -> Panel:
    lines = limit_lines(pollutant)
    return timeseries(
        f"{label}: hourly means by district",
        sql(_hourly_by_district(pollutant)),
        sql(limit_lines_sql(lines), ref="B"),
        width=width,
        height=9,
        unit=UGM3,
        description=(
            f"Readings-weighted hourly means of {label} per district (kuzet.air_hourly). Dashed: "
            "the Kazakhstan one-time limit (compared with 1 h means, rules pm25_1h/no2_1h), the "
            "Kazakhstan daily limit and the WHO 2021 24-hour guideline (both for 24 h means)."
        ),
        overrides=dashed_series("B", colors={line.name: line.color for line in lines}),
    )


def build() -> Json:
    """The city air-quality dashboard."""
    aqi_no_data = value_text({str(NO_AQI): ("no data", NO_DATA_COLOR)})
    items: list[Panel | Row] = [
        Row("Now (as of the end of the selected range)"),
        geomap(
            "Air stations by AQI category (PM2.5 NowCast)",
            sql(_STATIONS_AQI, table=True),
            layers=[MarkerLayer("Air stations", color_field="aqi", text_field="station_id")],
            steps=aqi_steps(no_data=True),
            mappings=[aqi_no_data],
            description=(
                "Each of the 52 stations coloured by its US EPA AQI (2024 breakpoints) from the "
                "PM2.5 NowCast of the last 12 clock hours; grey: no valid NowCast."
            ),
        ),
        stat(
            "City PM2.5 NowCast",
            sql(_CITY_NOWCAST, table=True),
            steps=limit_steps(Pollutant.PM25),
            unit=UGM3,
            decimals=1,
            height=7,
            description="Mean of the stations' NowCasts in the selected districts (as the API).",
        ),
        stat(
            "City AQI (PM2.5)",
            sql(_CITY_AQI, table=True),
            steps=aqi_steps(),
            decimals=0,
            height=7,
            description="AQI of the city NowCast; the colour is the EPA category.",
        ),
        stat(
            "Highest station AQI",
            sql(_WORST_AQI, table=True),
            steps=aqi_steps(),
            decimals=0,
            height=7,
        ),
        stat(
            "Stations over the KZ daily PM2.5 limit",
            sql(_OVER_DAILY_LIMIT, table=True),
            steps=[Step(None, "green"), Step(1, "red")],
            decimals=0,
            height=7,
            description="Stations whose 24 h mean PM2.5 exceeds 35 µg/m³ (rule pm25_24h).",
        ),
        Row("Concentrations"),
        _pollutant_panel(Pollutant.PM25, "PM2.5", 24),
        _pollutant_panel(Pollutant.PM10, "PM10", 12),
        _pollutant_panel(Pollutant.NO2, "NO2", 12),
        Row("Stations: 24 h means"),
        table(
            "24 h means, NowCast and AQI per station",
            sql(_MEANS_TABLE, table=True),
            height=14,
            description=(
                "24 h: the 24 clock hours up to the end of the range. Coverage: PM2.5 readings "
                "against those interval_s implies; a mean under 75 % is not valid for the rules."
            ),
            overrides=[
                cell_colors("PM2.5 24 h", limit_steps(Pollutant.PM25), unit=UGM3),
                cell_colors("PM10 24 h", limit_steps(Pollutant.PM10), unit=UGM3),
                cell_colors("NO2 24 h", limit_steps(Pollutant.NO2), unit=UGM3),
                cell_colors(
                    "PM2.5 coverage", [Step(None, "red"), Step(75, "transparent")], unit="percent"
                ),
                cell_colors("AQI", aqi_steps()),
                override("PM2.5 NowCast", unit=UGM3, decimals=1),
            ],
        ),
    ]
    return dashboard(
        uid=UID,
        title="Kuzet · City air quality",
        description="Almaty air-quality network: AQI, limits, 24 h means (TimescaleDB).",
        items=items,
        variables=[
            query_variable("district", "District", sql(_DISTRICTS)),
        ],
        annotations=[sql_annotation("Air alerts", alerts_annotation_sql("a.kind = 'air'"))],
    )
