-- Plain PostgreSQL mode: the same names as the TimescaleDB mode, ordinary tables with BRIN
-- time indexes (retention is a periodic DELETE by the daemon).

CREATE INDEX air_readings_time_idx ON kuzet.air_readings USING brin (time);
CREATE INDEX lake_readings_time_idx ON kuzet.lake_readings USING brin (time);
CREATE INDEX seismic_packets_time_idx ON kuzet.seismic_packets USING brin (time);
CREATE INDEX seismic_picks_time_idx ON kuzet.seismic_picks (time DESC);
CREATE INDEX rejected_messages_received_at_idx ON kuzet.rejected_messages (received_at DESC);
