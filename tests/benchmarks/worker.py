"""Helper processes of the benchmarks: JSON-lines requests on stdin, one answer line on stdout.

The load generator, the bare subscriber and the naive bridge each run in a process of their
own, so that their CPU time is measured separately and none shares a GIL with another.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

Handler = Callable[..., dict[str, Any]]
ROOT = Path(__file__).resolve().parents[2]


class WorkerError(RuntimeError):
    """A helper process failed or answered with an error."""


class Worker:
    """The parent's end of a helper process (`python -m <module>`)."""

    def __init__(self, module: str, *, log: Path, env: Mapping[str, str] | None = None) -> None:
        self._log_path = log
        self._log: IO[bytes] = log.open("ab")
        environment = {**os.environ, **(env or {})}
        # The helper imports this package; run from the repository root like the runner.
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), environment.get("PYTHONPATH", "")) if p
        )
        self._process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=environment,
        )

    @property
    def pid(self) -> int:
        """Process id (for CPU and memory sampling)."""
        return self._process.pid

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """Send one request and wait for its answer.

        Raises:
            WorkerError: the helper died or reported an error.
        """
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps({"op": op, **arguments}).encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"helper {self.pid} is gone; see {self._log_path}") from None
        line = stdout.readline()
        if not line:
            raise WorkerError(f"helper {self.pid} exited; see {self._log_path}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise WorkerError(f"helper {self.pid}: {op}: {answer['error']}")
        return answer

    def close(self, timeout: float = 10.0) -> None:
        """Ask the helper to exit; kill it if it does not."""
        with contextlib.suppress(WorkerError, OSError, ValueError):
            self.call("exit")
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def serve(handlers: Mapping[str, Handler]) -> None:
    """Answer requests until `exit` or end of input (the child's main loop)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "exit":
            out.write("{}\n")
            out.flush()
            return
        try:
            answer = handlers[op](**request)
        except Exception as exc:
            logger.exception("%s failed", op)
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
