"""Grafana dashboards and datasources for Kuzet, generated from typed Python (see generate.py)."""
