"""Kuzet storage: migrations, TimescaleDB/plain-PostgreSQL policies and batched writes."""
