"""Storage errors, translated at the boundary and classified as retryable or permanent."""

from __future__ import annotations

import psycopg

# SQLSTATE classes worth retrying: connection exceptions, transaction rollbacks
# (serialization failure, deadlock), insufficient resources, operator intervention
# (admin shutdown, crash recovery) and system errors. Everything else will fail again.
_RETRYABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


class StorageError(Exception):
    """A database operation failed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class MigrationError(StorageError):
    """The schema could not be brought up to date (never retried automatically)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def is_retryable(exc: BaseException) -> bool:
    """Whether a psycopg error is transient (the same statement may succeed later)."""
    if isinstance(exc, StorageError):
        return exc.retryable
    if isinstance(exc, psycopg.Error):
        sqlstate = exc.sqlstate
        if sqlstate is None:
            # No server answer at all: the connection broke or could not be made.
            return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        return sqlstate[:2] in _RETRYABLE_CLASSES
    return isinstance(exc, OSError | TimeoutError)


def translate(exc: psycopg.Error, doing: str) -> StorageError:
    """Wrap a driver error with what we were doing and its retry class."""
    state = f" [{exc.sqlstate}]" if exc.sqlstate else ""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageError(f"{doing}: {first_line}{state}", retryable=is_retryable(exc))
