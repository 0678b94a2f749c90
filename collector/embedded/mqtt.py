"""MQTT brokers for `kuzet demo` and tests: URL parsing, a protocol probe, a private mosquitto."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from collector.embedded.processes import (
    LOOPBACK,
    ServiceStartError,
    redact_url,
    start_on_free_port,
    stop_process,
    wait_until_ready,
)

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# CONNACK return codes meaning "I do not speak this protocol version": 0x01 is MQTT 3.1.1's
# "unacceptable protocol version", 0x84 is MQTT 5's "unsupported protocol version".
_UNSUPPORTED_VERSION = {0x01, 0x84}


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where and how to connect, as parsed from an ``mqtt://`` / ``mqtts://`` URL."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class MqttBroker:
    """A broker the tests can use.

    Attributes:
        url: ``mqtt://host:port`` (or the URL given by the environment).
        endpoint: The parsed URL.
        kind: ``mosquitto``, ``amqtt`` or ``external`` (given by KUZET_TEST_MQTT_URL).
        supports_v5: Whether the broker accepted an MQTT 5 CONNECT.
    """

    url: str
    endpoint: MqttEndpoint
    kind: str
    supports_v5: bool


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse ``mqtt://[user:pass@]host[:port]`` or ``mqtts://…``.

    Args:
        url: The broker URL.

    Returns:
        The endpoint; the port defaults to 1883 (mqtt) or 8883 (mqtts).

    Raises:
        ValueError: Not an mqtt/mqtts URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an mqtt:// or mqtts:// URL with a host: {redact_url(url)!r}")
    return MqttEndpoint(
        host=parts.hostname,
        port=parts.port or _DEFAULT_PORTS[parts.scheme],
        tls=parts.scheme == "mqtts",
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _utf8(text: str) -> bytes:
    """Encode an MQTT UTF-8 string: two-byte length, then the bytes."""
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _varint(value: int) -> bytes:
    """Encode an MQTT variable byte integer."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def connect_packet(protocol_level: int, client_id: str, endpoint: MqttEndpoint) -> bytes:
    """Build a clean-session CONNECT packet for MQTT 3.1.1 (level 4) or 5 (level 5).

    Args:
        protocol_level: 4 or 5.
        client_id: The client identifier.
        endpoint: Supplies the optional credentials.

    Returns:
        The packet bytes.
    """
    flags = 0x02  # clean session / clean start
    payload = _utf8(client_id)
    if endpoint.username is not None:
        flags |= 0x80
        payload += _utf8(endpoint.username)
    if endpoint.password is not None:
        flags |= 0x40
        payload += _utf8(endpoint.password)
    keep_alive = (10).to_bytes(2, "big")
    properties = b"\x00" if protocol_level >= 5 else b""  # MQTT 5: empty property list
    variable = _utf8("MQTT") + bytes([protocol_level, flags]) + keep_alive + properties
    body = variable + payload
    return b"\x10" + _varint(len(body)) + body


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes, or fewer if the peer closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _read_connack_code(sock: socket.socket) -> int | None:
    """Read a CONNACK and return its code, or None if something else (or nothing) came."""
    if _recv_exactly(sock, 1) != b"\x20":
        return None
    while True:  # remaining length, a variable byte integer we do not need
        byte = _recv_exactly(sock, 1)
        if not byte:
            return None
        if not byte[0] & 0x80:
            break
    flags_and_code = _recv_exactly(sock, 2)
    return flags_and_code[1] if len(flags_and_code) == 2 else None


def connack_code(endpoint: MqttEndpoint, protocol_level: int, timeout: float = 5.0) -> int | None:
    """Send one CONNECT and return the broker's CONNACK code.

    Args:
        endpoint: The broker.
        protocol_level: 4 (MQTT 3.1.1) or 5 (MQTT 5).
        timeout: Socket timeout in seconds.

    Returns:
        The CONNACK return/reason code, or None if the broker hung up or answered
        something else (what some 3.1.1-only brokers do with an MQTT 5 CONNECT).

    Raises:
        OSError: The broker cannot be reached.
    """
    packet = connect_packet(protocol_level, f"kuzet-probe-{secrets.token_hex(4)}", endpoint)
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        )
        if endpoint.tls:
            context = ssl.create_default_context()
            sock = stack.enter_context(context.wrap_socket(sock, server_hostname=endpoint.host))
        try:
            sock.sendall(packet)
            code = _read_connack_code(sock)
        except OSError:
            # Reset or silence after CONNECT: the broker is there but refuses this version.
            return None
        if code is not None:
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT, so the broker logs a clean goodbye
        return code


def supports_v5(endpoint: MqttEndpoint) -> bool:
    """Tell whether the broker accepts an MQTT 5 CONNECT.

    Args:
        endpoint: The broker.

    Returns:
        False when it answers "unsupported protocol version" or hangs up.
    """
    code = connack_code(endpoint, protocol_level=5)
    return code is not None and code not in _UNSUPPORTED_VERSION


def _answers(endpoint: MqttEndpoint) -> bool:
    """Readiness probe: the broker completes an MQTT 3.1.1 handshake."""
    try:
        return connack_code(endpoint, protocol_level=4, timeout=2.0) is not None
    except OSError:
        return False


def _launch_mosquitto(
    executable: str, base: Path, port: int, timeout: float
) -> tuple[subprocess.Popen[bytes], MqttEndpoint]:
    """Start mosquitto on ``port`` and wait until it answers a CONNECT."""
    config = base / f"mosquitto-{port}.conf"
    log = base / f"mosquitto-{port}.log"
    config.write_text(
        f"listener {port} {LOOPBACK}\n"
        "allow_anonymous true\n"
        # Sessions live in memory only: the broker dies with the test session anyway.
        "persistence false\n"
        "log_dest stderr\n"
        "set_tcp_nodelay true\n",
        encoding="utf-8",
    )
    with log.open("wb") as log_file:
        # A new session keeps Ctrl-C from killing the broker before pytest's own teardown.
        process = subprocess.Popen(
            [executable, "-c", str(config)],
            cwd=base,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = MqttEndpoint(LOOPBACK, port)
    wait_until_ready(
        lambda: _answers(endpoint),
        process=process,
        log=log,
        what="mosquitto",
        timeout=timeout,
        port_clash_marker="Address already in use",
    )
    return process, endpoint


@contextlib.contextmanager
def private_mosquitto(executable: str, *, timeout: float = 30.0) -> Iterator[MqttBroker]:
    """Run mosquitto on 127.0.0.1 and a free port, anonymous access, no persistence file.

    Args:
        executable: Path of the mosquitto program.
        timeout: Seconds it may take to answer.

    Yields:
        The running broker.
    """
    base = Path(tempfile.mkdtemp(prefix="kuzet-mqtt-"))
    try:
        process, endpoint = start_on_free_port(
            lambda port: _launch_mosquitto(executable, base, port, timeout), what="mosquitto"
        )
        try:
            yield MqttBroker(
                url=f"mqtt://{endpoint.host}:{endpoint.port}",
                endpoint=endpoint,
                kind="mosquitto",
                supports_v5=supports_v5(endpoint),
            )
        finally:
            stop_process(process, what="mosquitto")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def external_broker(url: str) -> MqttBroker:
    """Describe a broker given by URL, failing clearly if it does not answer.

    Args:
        url: ``mqtt://`` or ``mqtts://`` URL.

    Returns:
        The broker, with its MQTT 5 support probed.

    Raises:
        ServiceStartError: The broker cannot be reached.
    """
    endpoint = parse_mqtt_url(url)
    try:
        v5 = supports_v5(endpoint)
    except OSError as exc:
        shown = redact_url(url)
        raise ServiceStartError(f"MQTT broker at {shown!r} is not reachable: {exc}") from exc
    return MqttBroker(url=url, endpoint=endpoint, kind="external", supports_v5=v5)
