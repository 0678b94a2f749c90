"""Which per-station API requests go to another shard (collector.shardapi.owner_url)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ConfigError, load_settings
from collector.shard import Shard, shard_of
from collector.shardapi import fallback_urls, owner_url

PEERS = ["http://kuzet-0:8321", "http://kuzet-1:8321/", "http://kuzet-2:8321"]
# AIR-01 is on shard 0, AIR-03 on shard 1, AIR-08 on shard 2 (crc32 mod 3)
ME = Shard(0, 3)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # another shard's station: its owner answers (a trailing slash in a peer is tolerated)
        ("/api/v1/air/AIR-03", "http://kuzet-1:8321/api/v1/air/AIR-03"),
        ("/api/v1/air/AIR-08/daily", "http://kuzet-2:8321/api/v1/air/AIR-08/daily"),
        ("/api/v1/lakes/AIR-08", "http://kuzet-2:8321/api/v1/lakes/AIR-08"),
        # this shard's own station: answered here
        ("/api/v1/air/AIR-01", None),
        # lists, storage-backed and other endpoints: answered here
        ("/api/v1/air", None),
        ("/api/v1/lakes", None),
        ("/api/v1/stations", None),
        ("/api/v1/alerts/3", None),
        ("/api/v1/air/AIR-03/other", None),
    ],
)
def test_owner_url(path: str, expected: str | None) -> None:
    assert [shard_of(s, 3) for s in ("AIR-01", "AIR-03", "AIR-08")] == [0, 1, 2]
    assert owner_url(ME, PEERS, path) == expected


def test_an_adopted_station_is_answered_here() -> None:
    # this shard runs shard 1's index (takeover): AIR-03 is answered here, AIR-08 still not
    def serves(station_id: str) -> bool:
        return shard_of(station_id, 3) in {0, 1}

    assert owner_url(ME, PEERS, "/api/v1/air/AIR-03", serves) is None
    assert owner_url(ME, PEERS, "/api/v1/air/AIR-08", serves) == (
        "http://kuzet-2:8321/api/v1/air/AIR-08"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # AIR-03's owner (shard 1) is down: ask shard 2, which may have adopted index 1
        ("/api/v1/air/AIR-03", ["http://kuzet-2:8321/api/v1/air/AIR-03"]),
        # AIR-08's owner (shard 2) is down: shard 1 may have adopted it
        ("/api/v1/air/AIR-08/daily", ["http://kuzet-1:8321/api/v1/air/AIR-08/daily"]),
        # not a per-station path: nobody else to ask
        ("/api/v1/air", []),
    ],
)
def test_fallback_urls(path: str, expected: list[str]) -> None:
    assert fallback_urls(ME, PEERS, path) == expected


def test_no_peers_no_forwarding() -> None:
    # without a peer list every replica answers from its own memory
    assert owner_url(ME, [], "/api/v1/air/AIR-03") is None


@pytest.mark.parametrize(
    ("peers", "message"),
    [
        # one URL per shard, by index
        ('["http://a:1", "http://b:1"]', "lists 2 URLs for 3 shards"),
        # URLs of HTTP servers
        ('["a:1", "http://b:1", "http://c:1"]', "not an http"),
    ],
)
def test_bad_peers(tmp_path: Path, peers: str, message: str) -> None:
    path = tmp_path / "kuzet.toml"
    path.write_text(f"[shard]\ncount = 3\nindex = 0\npeers = {peers}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, {})
