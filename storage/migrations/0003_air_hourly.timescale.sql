-- kuzet: no-transaction
-- TimescaleDB refuses to create a continuous aggregate inside a transaction block.

-- materialized_only = false: the newest hours are aggregated at query time, so a closed
-- hour is visible as soon as its readings are committed (spec §5: within 2 minutes).
-- n counts readings in the hour; n_<pollutant> counts the non-null values behind each mean.
CREATE MATERIALIZED VIEW kuzet.air_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
       station_id,
       avg(pm25)   AS pm25_avg,
       avg(pm10)   AS pm10_avg,
       avg(no2)    AS no2_avg,
       count(*)    AS n,
       count(pm25) AS n_pm25,
       count(pm10) AS n_pm10,
       count(no2)  AS n_no2
FROM kuzet.air_readings
GROUP BY bucket, station_id
WITH NO DATA;
