"""In-order release of MQTT acknowledgements once each message's data is committed."""

from __future__ import annotations

from collections.abc import Callable

Ack = Callable[[], None]


class AckSequencer:
    """Acknowledges messages in arrival order, each only after it is marked done.

    MQTT requires PUBACKs in the order the PUBLISH packets arrived, but the per-feed writers
    commit independently. The sequencer holds back an acknowledgement until every earlier
    message is done too. One sequencer serves one connection: after a reconnect the old
    one is dropped, its pending messages are redelivered by the broker and deduplicated
    by the database.
    """

    def __init__(self) -> None:
        self._next = 0
        self._head = 0
        self._acks: dict[int, Ack] = {}
        self._done: set[int] = set()

    def issue(self, ack: Ack) -> Ack:
        """Register a received message; returns the callback that marks it done."""
        seq = self._next
        self._next += 1
        self._acks[seq] = ack
        return lambda: self._complete(seq)

    def _complete(self, seq: int) -> None:
        if seq < self._head or seq in self._done:
            return  # marked twice: the first call already released it
        self._done.add(seq)
        while self._head in self._done:
            self._done.remove(self._head)
            self._acks.pop(self._head)()
            self._head += 1

    @property
    def pending(self) -> int:
        """Messages received but not yet acknowledged."""
        return self._next - self._head
