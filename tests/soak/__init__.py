"""Soak test: `kuzet run` at 10× Almaty load for minutes, with faults (``python -m tests.soak``)."""
