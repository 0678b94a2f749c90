"""Shard identity and ownership: which replica handles which station (pure functions)."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

# A StatefulSet pod is named `<statefulset>-<ordinal>` and that is its hostname.
_ORDINAL = re.compile(r"-(\d+)\Z")


def shard_of(key: str, count: int) -> int:
    """The shard (0 … count − 1) that owns a station id (or, for a bad topic, the topic).

    CRC-32 of the UTF-8 bytes: stable across processes, machines and Python versions,
    unlike the salted built-in `hash()`.
    """
    if count < 1:
        raise ValueError(f"shard count must be at least 1, not {count}")
    return zlib.crc32(key.encode()) % count


def ordinal_from_hostname(hostname: str) -> int | None:
    """The StatefulSet ordinal in a pod hostname (`kuzet-2` → 2), None when there is none."""
    match = _ORDINAL.search(hostname.split(".", 1)[0])
    return int(match.group(1)) if match else None


def shard_client_id(base: str, index: int, count: int) -> str:
    """The MQTT client id of a shard: each needs its own persistent session.

    One shard keeps the configured id unchanged, so a single daemon keeps its session.
    """
    return base if count == 1 else f"{base}-{index}"


def exchange_topic(prefix: str, index: int) -> str:
    """Where shard `index` publishes its picks, data extents and air flags for the others."""
    return f"{prefix}/kuzet/shard/{index}"


def exchange_filters(prefix: str, index: int, count: int) -> list[str]:
    """The other shards' exchange topics (a shard never needs its own messages back)."""
    return [exchange_topic(prefix, i) for i in range(count) if i != index]


def exchange_sender(topic: str, prefix: str) -> int | None:
    """The shard index of an exchange topic, None when the topic is not one."""
    head = f"{prefix}/kuzet/shard/"
    if not topic.startswith(head) or not topic[len(head) :].isdigit():
        return None
    return int(topic[len(head) :])


def topic_owner_key(topic: str, prefix: str) -> str:
    """What decides a feed message's shard: its station id, or the whole topic if malformed.

    Only the topic is parsed, so skipping another shard's message costs almost nothing. A
    malformed topic still has exactly one owner, which records the `bad_topic` rejection.
    """
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == prefix and parts[2]:  # noqa: PLR2004 - prefix/feed/id
        return parts[2]
    return topic


@dataclass(frozen=True, slots=True)
class Shard:
    """This replica's place among `count` replicas."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard index {self.index} outside 0..{self.count - 1}")

    @property
    def sharded(self) -> bool:
        """Whether there is more than one replica (else everything is as without sharding)."""
        return self.count > 1

    def owns(self, key: str) -> bool:
        """Whether this replica handles the station (or malformed topic) `key`."""
        return self.count == 1 or shard_of(key, self.count) == self.index

    def owns_topic(self, topic: str, prefix: str) -> bool:
        """Whether this replica handles a feed message on `topic`."""
        return self.count == 1 or self.owns(topic_owner_key(topic, prefix))
