"""Property-based API checks: every operation of the OpenAPI document against a real daemon.

`kuzet run` runs as a subprocess (schemathesis calls it synchronously over HTTP) with readings
and a firing alert in its database. Every response must be free of server errors and conform
to the document (status, content type, schema); write operations are tried with the token,
without it and with a wrong one.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from schemathesis.openapi.checks import JsonSchemaError

from collector.embedded.postgres import temporary_database
from collector.embedded.processes import free_port
from tests.integration.harness import TEST_STATIONS, count, publisher, wait_for

pytestmark = pytest.mark.integration

TOKEN = secrets.token_urlsafe(16)
EXAMPLES = 25
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests on every run: a failure is reproducible
)


async def _seed(mqtt_url: str, database_url: str, prefix: str) -> None:
    """An hour of PM2.5 at 200 µg/m³ (pm25_1h fires) and an hour of lake levels."""
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    async with publisher(mqtt_url) as mqtt:
        for m in range(60):
            t = (start + timedelta(minutes=m)).isoformat()
            await mqtt.publish(f"{prefix}/air/AIR-01", json.dumps({"ts": t, "pm25": 200.0}), 1)
            await mqtt.publish(f"{prefix}/lake/LAKE-01", json.dumps({"ts": t, "level_m": 3.0}), 1)

    async def seeded() -> bool:
        return await count(database_url, "kuzet.alerts") >= 1

    await wait_for(seeded, timeout=30, what="a firing alert from the seed data")


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def api_base(pg_server_url: str, mqtt_url: str) -> Iterator[str]:
    """Base URL of a `kuzet run` subprocess with data in its database."""
    prefix, port = f"kt{secrets.token_hex(6)}", free_port()
    base = f"http://127.0.0.1:{port}"
    with temporary_database(pg_server_url) as database_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
        env.update(
            {
                "KUZET_DATABASE_URL": database_url,
                "KUZET_MQTT_URL": mqtt_url,
                "KUZET_TOPIC_PREFIX": prefix,
                "KUZET_MQTT_CLIENT_ID": f"kuzet-api-{prefix}",
                "KUZET_HTTP_LISTEN": f"127.0.0.1:{port}",
                "KUZET_STATIONS": str(TEST_STATIONS),
                "KUZET_API_TOKEN": TOKEN,
                "KUZET_LOG_LEVEL": "warning",
            }
        )
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"kuzet-api-{prefix}.log"  # noqa: S108
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "collector.cli", "run"], env=env, stderr=out
            )
        try:
            deadline = time.monotonic() + 60
            while not _ready(base):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "daemon not ready in 60 s"
                time.sleep(0.2)
            asyncio.run(_seed(mqtt_url, database_url, prefix))
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=40)
            log.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def api_schema(api_base: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{api_base}/api/v1/openapi.json")
    schema.config.update(base_url=api_base)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_conforms(case: Case) -> None:
    # the authorised view: writes can succeed, so their 2xx shapes are checked too
    excluded = []
    if case.operation.path == "/api/v1/silences":
        # "endsAt after startsAt" and a valid regex matcher are not expressible in JSON
        # Schema: a schema-valid silence may rightly get 400.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)


@schema.include(method=["POST", "DELETE"], path_regex="^/api/v1/(alerts|silences)").parametrize()
@HYPOTHESIS
def test_writes_need_the_token(case: Case) -> None:
    if case.method.upper() != case.operation.method.upper():
        return  # an undeclared-method probe: covered by test_every_operation_conforms
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}):
        response = case.call(headers=headers)
        # never done without the token, and the refusal is itself documented JSON
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]
        # schemathesis' Response: lower-case names, a list of values each
        assert response.headers["www-authenticate"][0].startswith("Bearer")
        try:
            case.operation.validate_response(response)
        except JsonSchemaError as exc:  # pragma: no cover - reported with the case
            pytest.fail(f"401 does not match the Error schema: {exc}")
