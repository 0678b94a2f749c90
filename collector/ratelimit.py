"""Per-key rate limiting of log lines, so a flood of bad input cannot fill the disk."""

from __future__ import annotations

from collections import OrderedDict


class LogLimiter:
    """Allows one event per key per `interval` seconds; counts what it suppressed.

    Keys are kept in LRU order and capped, so hostile topic names cannot grow memory.
    """

    def __init__(self, interval: float, *, max_keys: int = 10_000) -> None:
        self._interval = interval
        self._max_keys = max_keys
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def allow(self, key: str, now: float) -> tuple[bool, int]:
        """Whether to log now for `key`, and how many events were suppressed since the last.

        Args:
            key: what the limit is per (the topic).
            now: a monotonic time in seconds.
        """
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self._interval:
            self._last[key] = (entry[0], entry[1] + 1)
            self._last.move_to_end(key)
            return False, 0
        suppressed = entry[1] if entry is not None else 0
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > self._max_keys:
            self._last.popitem(last=False)
        return True, suppressed
