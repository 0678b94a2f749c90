"""Kuzet collector: MQTT ingest, analytics, HTTP API and the `kuzet` command line."""
