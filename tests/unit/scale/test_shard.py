"""Shard ownership, identity and shard settings (collector.shard, the `[shard]` section)."""

from __future__ import annotations

import socket
import zlib
from collections import Counter

import pytest

from collector.config import ConfigError, load_settings
from collector.shard import (
    Shard,
    exchange_filters,
    exchange_sender,
    exchange_topic,
    ordinal_from_hostname,
    shard_client_id,
    shard_of,
    topic_owner_key,
)
from collector.stations import load_stations


@pytest.mark.parametrize(
    ("key", "count", "expected"),
    [
        # one shard owns everything
        ("AIR-01", 1, 0),
        # CRC-32 of the UTF-8 bytes modulo the count: the same in every process and Python
        ("AIR-01", 3, zlib.crc32(b"AIR-01") % 3),
        ("SEIS-17", 3, zlib.crc32(b"SEIS-17") % 3),
        ("LAKE-05", 7, zlib.crc32(b"LAKE-05") % 7),
        # a pinned value: changing the hash would move stations between running shards
        ("AIR-01", 2, 1),
    ],
)
def test_shard_of_is_a_stable_hash(key: str, count: int, expected: int) -> None:
    assert shard_of(key, count) == expected


def test_shard_of_refuses_no_shards() -> None:
    # zero shards own nothing: a programming error, not a silent modulo by zero
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("AIR-01", 0)


def test_bundled_network_spreads_over_three_shards() -> None:
    # every shard gets a share of each feed (no shard idles, none takes everything)
    per_kind: dict[str, Counter[int]] = {}
    for station in load_stations(None):
        per_kind.setdefault(station.kind.value, Counter())[shard_of(station.id, 3)] += 1
    for kind, counts in per_kind.items():
        assert set(counts) == {0, 1, 2}, kind
        assert min(counts.values()) >= 0.15 * sum(counts.values()), (kind, counts)


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        # a StatefulSet pod: <name>-<ordinal>
        ("kuzet-2", 2),
        ("kuzet-0", 0),
        # a name with dashes before the ordinal
        ("kuzet-prod-11", 11),
        # the pod's FQDN: only the first label counts
        ("kuzet-1.kuzet.kuzet.svc.cluster.local", 1),
        # no ordinal: not derivable
        ("kuzet", None),
        ("laptop", None),
        ("kuzet-a", None),
    ],
)
def test_ordinal_from_hostname(hostname: str, expected: int | None) -> None:
    assert ordinal_from_hostname(hostname) == expected


@pytest.mark.parametrize(
    ("base", "index", "count", "expected"),
    [
        # one shard keeps the configured id: an existing daemon keeps its session
        ("kuzet-host", 0, 1, "kuzet-host"),
        # several: one persistent session per shard
        ("kuzet", 0, 3, "kuzet-0"),
        ("kuzet", 2, 3, "kuzet-2"),
    ],
)
def test_shard_client_id(base: str, index: int, count: int, expected: str) -> None:
    assert shard_client_id(base, index, count) == expected


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        # a feed topic: its station id decides
        ("almaty/air/AIR-01", "AIR-01"),
        ("almaty/seismic/SEIS-01", "SEIS-01"),
        # a station id the decoder will reject is still owned by its id (one rejection)
        ("almaty/air/bad id!", "bad id!"),
        # a malformed topic: the whole topic decides, so exactly one shard rejects it
        ("almaty/air/AIR-01/extra", "almaty/air/AIR-01/extra"),
        ("almaty/air/", "almaty/air/"),
        ("other/air/AIR-01", "other/air/AIR-01"),
    ],
)
def test_topic_owner_key(topic: str, expected: str) -> None:
    assert topic_owner_key(topic, "almaty") == expected


def test_every_topic_has_exactly_one_owner() -> None:
    # the shards partition the messages: none is skipped by all, none handled twice
    topics = [f"almaty/air/AIR-{i:02d}" for i in range(60)] + ["almaty/air/x/y", "junk"]
    shards = [Shard(i, 3) for i in range(3)]
    for topic in topics:
        assert sum(s.owns_topic(topic, "almaty") for s in shards) == 1, topic


@pytest.mark.parametrize(
    ("index", "count"),
    [
        # the index must be below the count
        (3, 3),
        (-1, 2),
        # at least one shard
        (0, 0),
    ],
)
def test_shard_rejects_impossible_identity(index: int, count: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        Shard(index, count)


def test_exchange_topics() -> None:
    # a shard subscribes to every other shard's exchange topic, never its own
    assert exchange_topic("almaty", 1) == "almaty/kuzet/shard/1"
    assert exchange_filters("almaty", 1, 3) == ["almaty/kuzet/shard/0", "almaty/kuzet/shard/2"]
    assert exchange_filters("almaty", 0, 1) == []
    # the sender is read back from the topic; feed topics are not exchange topics
    assert exchange_sender("almaty/kuzet/shard/2", "almaty") == 2
    assert exchange_sender("almaty/air/AIR-01", "almaty") is None
    assert exchange_sender("almaty/kuzet/shard/x", "almaty") is None


@pytest.mark.parametrize(
    ("env", "hostname", "expected"),
    [
        # default: one shard, index 0, whatever the hostname
        ({}, "laptop", (0, 1)),
        # both given in the environment
        ({"KUZET_SHARD_COUNT": "3", "KUZET_SHARD_INDEX": "2"}, "laptop", (2, 3)),
        # index unset: the StatefulSet ordinal of the hostname
        ({"KUZET_SHARD_COUNT": "3"}, "kuzet-1", (1, 3)),
        # an explicit index wins over the hostname
        ({"KUZET_SHARD_COUNT": "3", "KUZET_SHARD_INDEX": "0"}, "kuzet-2", (0, 3)),
    ],
)
def test_shard_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], hostname: str, expected: tuple[int, int]
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: hostname)
    shard = load_settings(None, env).shard.shard
    assert (shard.index, shard.count) == expected


@pytest.mark.parametrize(
    ("env", "hostname", "message"),
    [
        # an index at or above the count is a configuration error
        ({"KUZET_SHARD_COUNT": "3", "KUZET_SHARD_INDEX": "3"}, "x", "must be below count 3"),
        # several shards and neither an index nor an ordinal in the hostname
        ({"KUZET_SHARD_COUNT": "2"}, "laptop", "no StatefulSet ordinal"),
        # an ordinal beyond the count (the StatefulSet has more replicas than configured)
        ({"KUZET_SHARD_COUNT": "2"}, "kuzet-2", "must be below count 2"),
        # zero shards
        ({"KUZET_SHARD_COUNT": "0"}, "x", "shard.count"),
    ],
)
def test_bad_shard_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], hostname: str, message: str
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: hostname)
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env)
