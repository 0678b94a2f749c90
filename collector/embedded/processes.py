"""Child-process plumbing shared by the service fixtures: free ports, readiness waits, shutdown."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


class ServiceStartError(RuntimeError):
    """A test service (PostgreSQL, MQTT broker) could not be started or reached."""


class PortInUseError(ServiceStartError):
    """The service lost the race for its port to another process; retry on a new port."""


def redact_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``, for error messages and logs.

    Args:
        url: Any URL, possibly with ``user:password@``.

    Returns:
        The URL, unchanged if it has no password.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` at the time of the call.

    Args:
        host: Address to probe.

    Returns:
        The port number. It is released before returning, so another process can take it
        first: callers start through `start_on_free_port`, which retries on `PortInUseError`.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_on_free_port(start: Callable[[int], T], *, what: str, attempts: int = 5) -> T:
    """Call ``start(port)`` with fresh free ports until it does not lose the port race.

    Args:
        start: Starts the service on the given port; raises `PortInUseError` on a bind clash.
        what: Service name for the error message.
        attempts: How many ports to try.

    Returns:
        Whatever ``start`` returned.

    Raises:
        ServiceStartError: Every attempt hit a port already in use.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        try:
            return start(port)
        except PortInUseError:
            logger.info("%s: port %d taken by another process (attempt %d)", what, port, attempt)
    raise ServiceStartError(f"{what}: no free port after {attempts} attempts")


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a log file, or a note that it is missing.

    Args:
        path: The log file.
        lines: How many trailing lines to keep.

    Returns:
        The text, ready to be appended to an error message.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until_ready(
    probe: Callable[[], bool],
    *,
    process: subprocess.Popen[bytes],
    log: Path,
    what: str,
    timeout: float,
    port_clash_marker: str,
) -> None:
    """Poll ``probe`` until it returns True, failing fast when the process dies.

    Args:
        probe: Returns True once the service answers; must not raise for "not yet".
        process: The service process; its early exit ends the wait.
        log: The service's log file, quoted in errors.
        what: Service name for messages.
        timeout: Seconds before giving up.
        port_clash_marker: Text the service logs when its port is taken.

    Raises:
        PortInUseError: The process exited because its port was taken.
        ServiceStartError: The process exited for another reason, or never became ready.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        status = process.poll()
        if status is not None:
            tail = log_tail(log)
            if port_clash_marker in tail:
                raise PortInUseError(f"{what}: port already in use")
            raise ServiceStartError(
                f"{what} exited with status {status} during startup; last lines of {log}:\n{tail}"
            )
        if probe():
            return
        if time.monotonic() > deadline:
            stop_process(process, what=what)
            raise ServiceStartError(
                f"{what} not ready after {timeout:.0f} s; last lines of {log}:\n{log_tail(log)}"
            )
        time.sleep(delay)
        # Back off a little: readiness usually comes within a second, a slow CI may need more.
        delay = min(delay * 2, 0.25)


def stop_process(
    process: subprocess.Popen[bytes],
    *,
    what: str,
    first_signal: signal.Signals = signal.SIGTERM,
    timeout: float = 20.0,
) -> None:
    """Stop a service: ``first_signal``, then SIGKILL if it has not exited within ``timeout``.

    Args:
        process: The process to stop (already exited is fine).
        what: Service name for the log.
        first_signal: The service's own graceful-shutdown signal.
        timeout: Seconds to wait after each signal.
    """
    if process.poll() is not None:
        return
    process.send_signal(first_signal)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("%s (pid %d) ignored %s; killing it", what, process.pid, first_signal.name)
        process.kill()
        process.wait(timeout)
