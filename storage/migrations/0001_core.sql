-- Kuzet core schema: stations, raw readings, seismic products, rejected input.
-- Plain PostgreSQL objects; 0002 turns the raw tables into hypertables when TimescaleDB is on.

CREATE TABLE kuzet.stations (
    station_id  text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('air', 'seismic', 'lake')),
    name        text NOT NULL DEFAULT '',
    lat         double precision,
    lon         double precision,
    elevation_m double precision,
    district    text NOT NULL DEFAULT '',
    meta        jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- false for stations auto-registered from traffic (KUZET_UNKNOWN_STATIONS=accept)
    from_file   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Readings are keyed by (station_id, time): a QoS 1 redelivery hits the unique index and is
-- dropped by ON CONFLICT DO NOTHING. received_at feeds the ingest-latency and staleness views.
CREATE TABLE kuzet.air_readings (
    time        timestamptz NOT NULL,
    station_id  text NOT NULL,
    pm25        double precision,
    pm10        double precision,
    no2         double precision,
    temp        double precision,
    rh          double precision,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station_id, time)
);

CREATE TABLE kuzet.lake_readings (
    time          timestamptz NOT NULL,
    station_id    text NOT NULL,
    level_m       double precision,
    water_temp    double precision,
    precip_mm     double precision,
    discharge_m3s double precision,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station_id, time)
);

-- One row per packet; samples as real[] (float4 is the sensors' own precision).
CREATE TABLE kuzet.seismic_packets (
    time        timestamptz NOT NULL,
    station_id  text NOT NULL,
    sr          double precision NOT NULL,
    x           real[] NOT NULL,
    y           real[] NOT NULL,
    z           real[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station_id, time)
);

CREATE TABLE kuzet.seismic_picks (
    time       timestamptz NOT NULL,
    station_id text NOT NULL,
    pga_gal    double precision,
    sta_lta    double precision,
    UNIQUE (station_id, time)
);

CREATE TABLE kuzet.seismic_events (
    event_id       text PRIMARY KEY,
    detected_at    timestamptz NOT NULL,
    origin_time    timestamptz,
    lat            double precision,
    lon            double precision,
    depth_km       double precision,
    magnitude      double precision,
    intensity_city double precision,
    station_count  integer NOT NULL DEFAULT 0,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seismic_events_detected_at_idx ON kuzet.seismic_events (detected_at DESC);

-- Bad input, kept verbatim for forensics (payload truncated to 64 KiB when oversized).
CREATE TABLE kuzet.rejected_messages (
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    feed        text NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    payload     bytea NOT NULL
);
