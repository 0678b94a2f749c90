"""The daemon's real /metrics passes `promtool check metrics` (naming, help, units)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.integration.harness import http_get, make_settings, running_daemon

pytestmark = pytest.mark.integration


async def test_promtool_accepts_the_metrics(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    settings = make_settings(
        database_url,
        mqtt_url,
        topic_prefix,
        channels={"webhook": {"urls": ["http://127.0.0.1:9/x"]}},
    )
    async with running_daemon(settings) as daemon:
        status, text = await http_get(daemon, "/metrics")
    assert status == 200
    result = subprocess.run(  # noqa: ASYNC221 - a one-off check after the daemon stopped
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # every series of the contract (spec §8) is there
    for name in (
        "kuzet_messages_received_total",
        "kuzet_messages_rejected_total",
        "kuzet_readings_stored_total",
        "kuzet_ingest_latency_seconds_bucket",
        "kuzet_db_write_seconds_bucket",
        "kuzet_write_queue_depth",
        "kuzet_alerts_firing",
        "kuzet_notifications_total",
        "kuzet_notification_latency_seconds_bucket",
        "kuzet_station_last_seen_timestamp_seconds",
        "kuzet_mqtt_connected",
        "kuzet_db_up",
    ):
        assert f"\n{name}" in text, name
