"""Routing: channel and recipient filters, and which outbox targets a transition gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from alerts.channels import Channels, build_channels, load_channel_settings
from alerts.channels.routing import Route, severity_of
from alerts.model import Severity
from storage.alerts import Target
from tests.unit.channels.push_keys import vapid_pem

LABELS = {"alertname": "pm25_24h", "severity": "warning", "kind": "air", "area": "Almaly"}


class NoPublisher:
    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        raise AssertionError("not used")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def build(section: dict[str, Any], session: aiohttp.ClientSession, **kwargs: Any) -> Channels:
    return build_channels(
        load_channel_settings(section),
        session=session,
        publisher=NoPublisher(),
        topic_prefix="almaty",
        external_url="http://127.0.0.1:8321",
        **kwargs,
    )


@pytest.mark.parametrize(
    ("route", "labels", "event", "passes"),
    [
        (Route(), LABELS, "firing", True),  # the default route lets everything through
        (Route(min_severity=Severity.CRITICAL), LABELS, "firing", False),  # below the minimum
        (Route(min_severity=Severity.WARNING), LABELS, "firing", True),  # at the minimum
        (Route.of(kinds=["seismic"]), LABELS, "firing", False),  # another kind
        (Route.of(kinds=["seismic", "air"]), LABELS, "firing", True),
        (Route.of(areas=["Medeu"]), LABELS, "firing", False),  # another district
        (Route.of(areas=["almaly"]), LABELS, "firing", True),  # areas ignore case
        (Route(send_resolved=False), LABELS, "resolved", False),  # no resolve notices
        (Route(send_resolved=False), LABELS, "escalated", True),  # other events still go
        # an unknown severity counts as critical: never filtered away by a minimum
        (Route(min_severity=Severity.CRITICAL), {**LABELS, "severity": "x"}, "firing", True),
        # a label missing from the alert fails a filter on it
        (Route.of(areas=["Almaly"]), {"severity": "info"}, "firing", False),
    ],
)
def test_route_matches(route: Route, labels: dict[str, str], event: str, passes: bool) -> None:
    assert route.matches(labels, event) is passes


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("info", Severity.INFO),
        ("critical", Severity.CRITICAL),
        ("", Severity.CRITICAL),  # missing: the safe side
        ("CRITICAL", Severity.CRITICAL),  # unknown spelling: the safe side too
    ],
)
def test_severity_of(label: str, severity: Severity) -> None:
    assert severity_of({"severity": label}) is severity


SECTION: dict[str, Any] = {
    "webhook": {"urls": ["http://hook/a"]},
    "mqtt": {"min_severity": "warning"},
    "telegram": {
        "token": "1:x",
        "kinds": ["air", "seismic"],
        "chats": [
            "-1001",  # everything the channel routes
            {"chat_id": "-1002", "lang": "kk", "min_severity": "critical"},  # critical only
            {"chat_id": "@medeu", "areas": ["Medeu"], "send_resolved": False},
        ],
    },
    "email": {
        "from": "Kuzet <a@kuzet.kz>",
        "to": ["duty@kuzet.kz", {"address": "geo@kuzet.kz", "kinds": ["seismic", "lake"]}],
        "send_resolved": False,
    },
    "ntfy": {"topics": ["almaty-all"], "areas": ["Almaly", "Medeu"]},
    "alertmanager": {"urls": ["http://am1:9093", "http://am2:9093"], "min_severity": "critical"},
}


@pytest.mark.parametrize(
    ("labels", "event", "expected"),
    [
        # a warning air alert in Almaly
        (
            LABELS,
            "firing",
            [
                ("webhook", "http://hook/a"),
                ("mqtt", ""),
                ("telegram", "-1001"),
                ("email", "duty@kuzet.kz"),
                ("ntfy", "almaty-all"),
            ],
        ),
        # its resolve: e-mail sends no resolve notices
        (
            LABELS,
            "resolved",
            [
                ("webhook", "http://hook/a"),
                ("mqtt", ""),
                ("telegram", "-1001"),
                ("ntfy", "almaty-all"),
            ],
        ),
        # a critical earthquake (area Almaty): the critical-only chat and Alertmanager join,
        # ntfy's areas do not include Almaty, the Medeu chat neither
        (
            {
                "alertname": "earthquake",
                "severity": "critical",
                "kind": "seismic",
                "area": "Almaty",
            },
            "firing",
            [
                ("webhook", "http://hook/a"),
                ("mqtt", ""),
                ("telegram", "-1001"),
                ("telegram", "-1002"),
                ("email", "duty@kuzet.kz"),
                ("email", "geo@kuzet.kz"),
                ("alertmanager", "http://am1:9093"),
                ("alertmanager", "http://am2:9093"),
            ],
        ),
        # an info lake alert in Medeu: Telegram routes no lake alerts, MQTT wants warning+
        (
            {"alertname": "lake_rise", "severity": "info", "kind": "lake", "area": "Medeu"},
            "firing",
            [
                ("webhook", "http://hook/a"),
                ("email", "duty@kuzet.kz"),
                ("email", "geo@kuzet.kz"),
                ("ntfy", "almaty-all"),
            ],
        ),
    ],
)
async def test_targets_for(
    session: aiohttp.ClientSession,
    labels: dict[str, str],
    event: str,
    expected: list[tuple[str, str]],
) -> None:
    channels = build(SECTION, session)
    assert channels.targets_for(labels, event) == tuple(Target(c, t) for c, t in expected)


async def test_targets_property_lists_every_target(session: aiohttp.ClientSession) -> None:
    # compatibility: `targets` ignores routes
    channels = build(SECTION, session)
    assert len(channels.targets) == 1 + 1 + 3 + 2 + 1 + 2
    assert set(channels.by_name) == {"webhook", "mqtt", "telegram", "email", "ntfy", "alertmanager"}
    assert channels.push is None


async def test_nothing_configured_but_mqtt(session: aiohttp.ClientSession) -> None:
    # the defaults: only MQTT (enabled by default), every alert to the broker
    channels = build({}, session)
    assert channels.targets == (Target("mqtt", ""),)
    assert channels.targets_for(LABELS, "resolved") == (Target("mqtt", ""),)


async def test_webpush_needs_the_pool(session: aiohttp.ClientSession) -> None:
    section = {
        "webpush": {"enabled": True, "vapid_private_key": vapid_pem(), "subject": "mailto:a@b.kz"}
    }
    with pytest.raises(ValueError, match="pool"):
        build(section, session)


async def test_webpush_is_one_target_and_exposes_the_public_side(
    session: aiohttp.ClientSession,
) -> None:
    section = {
        "webpush": {"enabled": True, "vapid_private_key": vapid_pem(), "subject": "mailto:a@b.kz"}
    }
    channels = build(section, session, pool=object())
    assert Target("webpush", "all") in channels.targets
    assert channels.push is not None
    assert len(channels.push.public_key) == 87  # 65 bytes, base64url without padding
