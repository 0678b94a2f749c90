-- Plain mode: air_hourly is a table the daemon keeps current in the transaction that
-- stores the readings (storage.readings). n counts readings in the hour; n_<pollutant>
-- counts the non-null values behind each mean.

CREATE TABLE kuzet.air_hourly (
    bucket     timestamptz NOT NULL,
    station_id text NOT NULL,
    pm25_avg   double precision,
    pm10_avg   double precision,
    no2_avg    double precision,
    n          bigint NOT NULL,
    n_pm25     bigint NOT NULL,
    n_pm10     bigint NOT NULL,
    n_no2      bigint NOT NULL,
    PRIMARY KEY (station_id, bucket)
);
CREATE INDEX air_hourly_bucket_idx ON kuzet.air_hourly (bucket DESC);
