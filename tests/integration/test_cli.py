"""The `kuzet` console script, run as a separate process (the production entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.harness import TEST_STATIONS

pytestmark = pytest.mark.integration


def _kuzet(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = _kuzet("--help")
    assert result.returncode == 0
    for command in ("run", "db", "check-config"):
        assert command in result.stdout


def test_check_config_prints_effective_config_with_secrets_masked() -> None:
    result = _kuzet(
        "check-config",
        env={"KUZET_MQTT_URL": "mqtt://u:hunter2@b:1883", "KUZET_API_TOKEN": "tok-secret"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stations"] == {"air": 52, "seismic": 28, "lake": 31}
    assert "hunter2" not in result.stdout
    assert "tok-secret" not in result.stdout


@pytest.mark.parametrize(
    ("command", "env"),
    [
        # a bad variable: exit 2, one line on stderr, no traceback
        (("check-config",), {"KUZET_MAX_AGE": "soon"}),
        (("run",), {"KUZET_MQTT_URL": "ftp://x"}),
        # a stations file that does not exist
        (("run",), {"KUZET_STATIONS": "/nonexistent/stations.toml"}),
    ],
)
def test_config_errors_are_one_line_exit_2(command: tuple[str, ...], env: dict[str, str]) -> None:
    result = _kuzet(*command, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("kuzet: configuration error:")


def test_db_migrate_and_status(database_url: str) -> None:
    env = {"KUZET_DATABASE_URL": database_url, "KUZET_STATIONS": str(TEST_STATIONS)}
    first = _kuzet("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "mode: plain" in first.stdout
    status = _kuzet("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "plain PostgreSQL" in status.stdout
    assert "air_readings" in status.stdout
    as_json = json.loads(_kuzet("db", "status", "--json", env=env).stdout)
    assert as_json["mode"] == "plain"
    assert as_json["pending_migrations"] == []


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_run_stores_and_exits_0_on_sigterm(
    database_url: str, mqtt_url: str, topic_prefix: str
) -> None:
    import asyncio
    import signal
    from datetime import UTC, datetime, timedelta

    import aiohttp

    from tests.integration.harness import count, publisher, wait_for

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    env.update(
        {
            "KUZET_DATABASE_URL": database_url,
            "KUZET_MQTT_URL": mqtt_url,
            "KUZET_TOPIC_PREFIX": topic_prefix,
            "KUZET_MQTT_CLIENT_ID": f"kuzet-cli-{topic_prefix}",
            "KUZET_HTTP_LISTEN": f"127.0.0.1:{port}",
            "KUZET_STATIONS": str(TEST_STATIONS),
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "collector.cli",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def ready() -> bool:
            try:
                async with (
                    aiohttp.ClientSession() as s,
                    s.get(f"http://127.0.0.1:{port}/readyz") as r,
                ):
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(ready, timeout=30, what="kuzet run ready")
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        async with publisher(mqtt_url) as mqtt:
            for i in range(20):
                ts = (t0 + timedelta(seconds=i)).isoformat()
                await mqtt.publish(
                    f"{topic_prefix}/air/AIR-01", f'{{"ts": "{ts}", "pm25": {i}}}', qos=1
                )
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 40)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert code == 0, stderr
    assert await count(database_url, "kuzet.air_readings") == 20
    # logs are JSON lines when stderr is not a terminal
    first = stderr.strip().splitlines()[0]
    assert json.loads(first)["level"] in {"info", "warning", "debug"}


def test_report_sdg(database_url: str) -> None:
    from datetime import UTC, datetime

    env = {"KUZET_DATABASE_URL": database_url, "KUZET_STATIONS": str(TEST_STATIONS)}
    assert _kuzet("db", "migrate", env=env).returncode == 0
    year = datetime.now(UTC).year
    as_json = _kuzet("report", "sdg", "--year", str(year), "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["indicator"] == "11.6.2"
    assert data["year"] == year
    table = _kuzet("report", "sdg", "--year", str(year), env=env)
    assert table.returncode == 0, table.stderr
    assert "11.6.2" in table.stdout
    # a year that has not started is a usage error, one line, exit 2
    future = _kuzet("report", "sdg", "--year", str(year + 5), env=env)
    assert future.returncode == 2
    assert len(future.stderr.strip().splitlines()) == 1
