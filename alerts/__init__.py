"""Kuzet alerts: rule evaluation, alert state, the notification outbox and channels."""
