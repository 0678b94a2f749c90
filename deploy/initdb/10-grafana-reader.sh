#!/bin/sh
# Runs once, when the TimescaleDB container initialises an empty data directory
# (/docker-entrypoint-initdb.d). Creates the read-only role Grafana connects as: the
# dashboards only SELECT, and a datasource must never be able to change the data
# (Grafana runs whatever SQL a dashboard editor types).
#
# The schema `kuzet` is created here, owned by the daemon's role, so the default privileges
# below apply to every table and view the daemon's migrations create later
# (`CREATE SCHEMA IF NOT EXISTS kuzet` in the daemon is then a no-op).
set -eu
: "${KUZET_GRAFANA_DB_USER:?}" "${KUZET_GRAFANA_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader="$KUZET_GRAFANA_DB_USER" -v reader_password="$KUZET_GRAFANA_DB_PASSWORD" \
  -v owner="$POSTGRES_USER" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'reader_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE SCHEMA IF NOT EXISTS kuzet AUTHORIZATION :"owner";
GRANT USAGE ON SCHEMA kuzet TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA kuzet GRANT SELECT ON TABLES TO :"reader";
-- A runaway dashboard query must not hold the database.
ALTER ROLE :"reader" SET statement_timeout = '30s';
SQL
