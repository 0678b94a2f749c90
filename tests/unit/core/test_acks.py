from __future__ import annotations

import pytest

from collector.acks import AckSequencer


@pytest.mark.parametrize(
    ("n", "completion_order", "expected_acks_after_each"),
    [
        # in-order completion releases each ack at once
        (3, [0, 1, 2], [[0], [0, 1], [0, 1, 2]]),
        # a later message done first waits for the earlier one (PUBACKs in arrival order)
        (3, [2, 1, 0], [[], [], [0, 1, 2]]),
        # a gap holds back everything behind it
        (4, [1, 3, 0, 2], [[], [], [0, 1], [0, 1, 2, 3]]),
        # marking a message done twice acknowledges it once
        (2, [0, 0, 1], [[0], [0], [0, 1]]),
    ],
)
def test_acks_are_released_in_arrival_order(
    n: int, completion_order: list[int], expected_acks_after_each: list[list[int]]
) -> None:
    sent: list[int] = []
    seq = AckSequencer()
    dones = [seq.issue(lambda i=i: sent.append(i)) for i in range(n)]
    for index, expected in zip(completion_order, expected_acks_after_each, strict=True):
        dones[index]()
        assert sent == expected
    assert seq.pending == 0
