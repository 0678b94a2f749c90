"""Merging the shards' parts of a list endpoint (collector.shardlist)."""

from __future__ import annotations

from typing import Any

import pytest

from collector.shard import Shard, shard_of
from collector.shardlist import ClusterView, Part, merge_parts, parse_covers

ORDER = ["AIR-01", "AIR-03", "AIR-08", "AIR-02"]


def items(*ids: str, tag: str = "") -> tuple[dict[str, Any], ...]:
    return tuple({"station_id": i, "tag": tag} for i in ids)


@pytest.mark.parametrize(
    ("parts", "ids", "missing"),
    [
        # every shard answered: the single process's order, whatever order the parts came in
        (
            [
                Part(frozenset({1}), items("AIR-03")),
                Part(frozenset({0}), items("AIR-02", "AIR-01")),
                Part(frozenset({2}), items("AIR-08")),
            ],
            ["AIR-01", "AIR-03", "AIR-08", "AIR-02"],
            (),
        ),
        # a shard nobody answered for is named, its stations are absent
        (
            [Part(frozenset({0}), items("AIR-01")), Part(frozenset({2}), items("AIR-08"))],
            ["AIR-01", "AIR-08"],
            (1,),
        ),
        # an adopter answers for the dead shard: nothing is missing
        (
            [Part(frozenset({0, 1}), items("AIR-01", "AIR-03")), Part(frozenset({2}), ())],
            ["AIR-01", "AIR-03"],
            (),
        ),
        # stations unknown to the asked shard (auto-registered elsewhere) follow, by id
        (
            [Part(frozenset({0, 1, 2}), items("NEW-2", "AIR-08", "NEW-1"))],
            ["AIR-08", "NEW-1", "NEW-2"],
            (),
        ),
        # no part at all: every shard is missing
        ([], [], (0, 1, 2)),
    ],
)
def test_merge(parts: list[Part], ids: list[str], missing: tuple[int, ...]) -> None:
    merged = merge_parts(parts, 3, ORDER)
    assert [e["station_id"] for e in merged.items] == ids
    assert merged.missing == missing


def test_a_station_in_two_parts_is_kept_once_from_the_first() -> None:
    # during a hand-back the adopter and the returning owner may both answer for a shard
    parts = [
        Part(frozenset({0}), items("AIR-01", tag="local")),
        Part(frozenset({0}), items("AIR-01", tag="peer")),
    ]
    merged = merge_parts(parts, 1, ORDER)
    assert [(e["station_id"], e["tag"]) for e in merged.items] == [("AIR-01", "local")]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # the normal form
        ("0,2", {0, 2}),
        # spaces tolerated
        (" 1 , 2", {1, 2}),
        # indices beyond the count and garbage are ignored, not trusted
        ("1,7,x,-1", {1}),
        # absent header: the part covers nothing
        (None, set()),
    ],
)
def test_parse_covers(header: str | None, expected: set[int]) -> None:
    assert parse_covers(header, 3) == expected


def test_view_covers_own_and_adopted_shards() -> None:
    # AIR-01 → 0, AIR-03 → 1, AIR-08 → 2
    assert [shard_of(s, 3) for s in ("AIR-01", "AIR-03", "AIR-08")] == [0, 1, 2]
    view = ClusterView(Shard(0, 3), (), adopted=lambda: frozenset({2}))
    owns = view.owns(view.covers())
    assert [owns(s) for s in ("AIR-01", "AIR-03", "AIR-08")] == [True, False, True]
