"""What each shard subscribes to (collector.sharding.shard_subscriptions) in both modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.config import ConfigError, Settings, load_settings
from collector.shard import shard_of
from collector.sharding import shard_mqtt, shard_subscriptions, shard_unsubscriptions
from collector.stations import load_stations
from tests.integration.harness import TEST_STATIONS

STATIONS = load_stations(TEST_STATIONS)
WILDCARDS = ["p/air/+", "p/seismic/+", "p/lake/+"]


def _settings(**shard: Any) -> Settings:
    data: dict[str, Any] = {"topic_prefix": "p", "mqtt": {"client_id": "kz"}, "shard": shard}
    if shard.get("subscribe") == "stations":
        data["ingest"] = {"unknown_stations": "reject"}
    return Settings.model_validate(data)


def _owned(index: int, count: int) -> list[str]:
    return [f"p/{s.kind.value}/{s.id}" for s in STATIONS if shard_of(s.id, count) == index]


@pytest.mark.parametrize(
    ("shard", "expected"),
    [
        # one shard: the feed wildcards only, exactly as an unsharded daemon
        ({}, WILDCARDS),
        # one shard ignores the subscription mode
        ({"count": 1, "subscribe": "wildcard"}, WILDCARDS),
        # wildcard mode: every feed, then the other shards' exchange topics
        ({"count": 3, "index": 1}, [*WILDCARDS, "p/kuzet/shard/0", "p/kuzet/shard/2"]),
        # stations mode: only the owned stations, on their own feed's topic
        (
            {"count": 2, "index": 0, "subscribe": "stations"},
            [*_owned(0, 2), "p/kuzet/shard/1"],
        ),
        (
            {"count": 2, "index": 1, "subscribe": "stations"},
            [*_owned(1, 2), "p/kuzet/shard/0"],
        ),
    ],
)
def test_subscriptions(shard: dict[str, Any], expected: list[str]) -> None:
    assert shard_subscriptions(_settings(**shard), STATIONS) == expected


def test_stations_mode_partitions_the_stations_file() -> None:
    # every station of the file is subscribed by exactly one shard
    topics = [
        t
        for i in range(3)
        for t in shard_subscriptions(_settings(count=3, index=i, subscribe="stations"), STATIONS)
        if "/kuzet/" not in t
    ]
    assert sorted(topics) == sorted(f"p/{s.kind.value}/{s.id}" for s in STATIONS)


@pytest.mark.parametrize(
    ("shard", "client_id"),
    [
        # one shard keeps the configured client id (and so its persistent session)
        ({}, "kz"),
        # a shard's session is its own
        ({"count": 3, "index": 2}, "kz-2"),
    ],
)
def test_client_id(shard: dict[str, Any], client_id: str) -> None:
    assert shard_mqtt(_settings(**shard)).client_id == client_id


@pytest.mark.parametrize(
    ("unknown", "ok"),
    [
        # accepting unknown stations that no shard subscribes to would drop them silently
        ("accept", False),
        # rejecting them is what per-station subscriptions amount to
        ("reject", True),
    ],
)
def test_stations_mode_needs_reject(tmp_path: Path, unknown: str, ok: bool) -> None:
    path = tmp_path / "kuzet.toml"
    path.write_text('[shard]\ncount = 2\nindex = 0\nsubscribe = "stations"\n')
    env = {"KUZET_UNKNOWN_STATIONS": unknown}
    if ok:
        assert load_settings(path, env).shard.subscribe == "stations"
    else:
        with pytest.raises(ConfigError, match="unknown_stations"):
            load_settings(path, env)


@pytest.mark.parametrize(
    ("shard", "expected"),
    [
        # one shard, or wildcard mode: nothing to drop (the wildcards cover everything)
        ({}, []),
        ({"count": 3, "index": 0}, []),
        # stations mode: the wildcards and the other shards' stations, left in the session
        # by an earlier mode or count
        (
            {"count": 2, "index": 0, "subscribe": "stations"},
            [*WILDCARDS, *_owned(1, 2)],
        ),
    ],
)
def test_unsubscriptions(shard: dict[str, Any], expected: list[str]) -> None:
    assert shard_unsubscriptions(_settings(**shard), STATIONS) == expected
