"""The load generator (a helper process): pre-encoded MQTT 3.1.1 QoS 1 PUBLISH packets, paced.

Hand-rolled rather than paho: every packet is encoded before the clock starts and a tick's
worth is written with one `sendall`, so the generator costs a few percent of a core even at
tens of thousands of messages per second and leaves the machine to the system under test.
The broker's PUBACKs are counted by a reader thread; a step ends when all are in.
"""

from __future__ import annotations

import secrets
import socket
import struct
import threading
import time
from typing import Any

from tests.benchmarks.streams import SeismicPackets, StreamSpec, message
from tests.benchmarks.worker import serve

TICK_S = 0.002
# Unacknowledged PUBLISH packets allowed before the generator waits (ids are 16-bit).
MAX_OUTSTANDING = 30_000
ACK_TIMEOUT_S = 30.0


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """One QoS 1 PUBLISH packet (not retained)."""
    body = _utf8(topic) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _varint(len(body)) + body


class Connection:
    """One MQTT 3.1.1 connection (clean session, keep-alive off) counting PUBACKs."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = f"kbench-pub-{secrets.token_hex(4)}"
        variable = _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0)
        body = variable + _utf8(client_id)
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        connack = self.sock.recv(4)
        if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"CONNACK refused: {connack!r}")
        self.sock.settimeout(None)
        self.acked = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def send(self, packets: list[bytes]) -> None:
        """Write packets, first waiting while too many are unacknowledged."""
        while self.sent - self.acked > MAX_OUTSTANDING:
            time.sleep(0.001)
        with self._lock:  # the background stream and a step may share the connection
            self.sock.sendall(b"".join(packets))
            self.sent += len(packets)

    def next_id(self) -> int:
        """The next packet id (1 … 65535)."""
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            # PUBACKs are 4 bytes (0x40 0x02 id id); nothing else is expected.
            whole = len(buffer) // 4
            self.acked += sum(1 for i in range(whole) if buffer[4 * i] == 0x40)
            buffer = buffer[4 * whole :]


class LoadGenerator:
    """The helper's state: one connection and the packets of the next step."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._packets: list[bytes] = []
        self._sent = 0
        self._background: threading.Thread | None = None
        self._stop = threading.Event()
        self._bg_result: dict[str, Any] = {}

    def connect(self, host: str, port: int) -> dict[str, Any]:
        """Open the connection."""
        self._conn = Connection(host, port)
        return {}

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def prepare(self, spec: dict[str, Any], first: int, count: int) -> dict[str, Any]:
        """Encode air or lake messages first … first + count − 1 of a stream."""
        stream = StreamSpec(**spec)
        conn = self._connection()
        self._packets = [
            publish_packet(*message(stream, j), conn.next_id()) for j in range(first, first + count)
        ]
        return {"bytes": sum(len(p) for p in self._packets)}

    def prepare_seismic(self, spec: dict[str, Any], stations: int, seconds: int) -> dict[str, Any]:
        """Encode `seconds` seconds of packets of stations 0 … stations − 1, second by second."""
        stream = StreamSpec(**spec)
        conn = self._connection()
        packets = SeismicPackets(stream)
        self._packets = [
            publish_packet(*packets.message(k, s), conn.next_id())
            for s in range(seconds)
            for k in range(stations)
        ]
        return {"bytes": sum(len(p) for p in self._packets)}

    def run(self, rate: float) -> dict[str, Any]:
        """Send the prepared packets at `rate` per second; return when the broker acked all."""
        conn = self._connection()
        before = conn.acked
        first, last = self._pace(conn, self._packets, rate, None)
        n = len(self._packets)
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while conn.acked - before < n and time.monotonic() < deadline:
            time.sleep(0.001)
        return {
            "t_first": first,
            "t_last": last,
            "sent": n,
            "acked": conn.acked - before,
            "rate": (n - 1) / (last - first) if n > 1 and last > first else float(n),
        }

    def _pace(
        self, conn: Connection, packets: list[bytes], rate: float, stop: threading.Event | None
    ) -> tuple[float, float]:
        n = len(packets)
        sent = 0
        start = time.monotonic()
        last = start
        while sent < n and not (stop is not None and stop.is_set()):
            now = time.monotonic()
            due = min(n, int((now - start) * rate) + 1)
            if due > sent:
                conn.send(packets[sent:due])
                sent = due
                last = time.monotonic()
            else:
                time.sleep(TICK_S)
        self._sent += sent
        return start, last

    def background(
        self, spec: dict[str, Any], first: int, count: int, rate: float
    ) -> dict[str, Any]:
        """Start publishing air messages at `rate` in a thread (until `stop` or `count`)."""
        stream = StreamSpec(**spec)
        conn = self._connection()
        packets = [
            publish_packet(*message(stream, j), conn.next_id()) for j in range(first, first + count)
        ]
        self._stop.clear()

        def run() -> None:
            t0, t1 = self._pace(conn, packets, rate, self._stop)
            self._bg_result = {"t_first": t0, "t_last": t1}

        self._background = threading.Thread(target=run, daemon=True)
        self._background.start()
        return {}

    def stop(self) -> dict[str, Any]:
        """Stop the background stream; returns how much it sent."""
        self._stop.set()
        if self._background is not None:
            self._background.join()
        return {**self._bg_result, "sent_total": self._sent}


def main() -> None:
    """Serve requests (`python -m tests.benchmarks.loadgen`)."""
    gen = LoadGenerator()
    serve(
        {
            "connect": gen.connect,
            "prepare": gen.prepare,
            "prepare_seismic": gen.prepare_seismic,
            "run": gen.run,
            "background": gen.background,
            "stop": gen.stop,
        }
    )


if __name__ == "__main__":
    main()
