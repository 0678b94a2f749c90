-- TimescaleDB mode: raw tables become hypertables with compression settings. Compression
-- and retention policies are applied by storage.policies from the configuration (they
-- change with it), not here.

SELECT create_hypertable('kuzet.air_readings', 'time', chunk_time_interval => INTERVAL '7 days');
SELECT create_hypertable('kuzet.lake_readings', 'time', chunk_time_interval => INTERVAL '7 days');
-- 100 Hz packets are large: one-day chunks keep compression and retention granular.
SELECT create_hypertable('kuzet.seismic_packets', 'time', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('kuzet.seismic_picks', 'time', chunk_time_interval => INTERVAL '30 days');
SELECT create_hypertable('kuzet.rejected_messages', 'received_at',
                         chunk_time_interval => INTERVAL '7 days');

ALTER TABLE kuzet.air_readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'station_id',
    timescaledb.compress_orderby = 'time DESC'
);
ALTER TABLE kuzet.lake_readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'station_id',
    timescaledb.compress_orderby = 'time DESC'
);
ALTER TABLE kuzet.seismic_packets SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'station_id',
    timescaledb.compress_orderby = 'time DESC'
);
