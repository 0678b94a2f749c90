from __future__ import annotations

import pytest

from collector.ratelimit import LogLimiter


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # first event of a key is logged
        ([("a", 0.0)], [(True, 0)]),
        # a second event inside the interval is suppressed
        ([("a", 0.0), ("a", 30.0)], [(True, 0), (False, 0)]),
        # after the interval the next is logged and reports what was suppressed
        (
            [("a", 0.0), ("a", 1.0), ("a", 2.0), ("a", 61.0)],
            [(True, 0), (False, 0), (False, 0), (True, 2)],
        ),
        # keys are independent: one noisy topic does not silence another
        ([("a", 0.0), ("b", 1.0), ("a", 2.0)], [(True, 0), (True, 0), (False, 0)]),
    ],
)
def test_one_line_per_topic_per_interval(
    events: list[tuple[str, float]], expected: list[tuple[bool, int]]
) -> None:
    limiter = LogLimiter(60.0)
    assert [limiter.allow(k, t) for k, t in events] == expected


def test_keys_are_capped() -> None:
    # a flood of distinct topics cannot grow memory without bound
    limiter = LogLimiter(60.0, max_keys=3)
    for i in range(10):
        limiter.allow(f"t{i}", 0.0)
    assert limiter.allow("t0", 1.0) == (True, 0)  # t0 was evicted, so it logs again
    assert limiter.allow("t9", 1.0) == (False, 0)  # t9 is still tracked
