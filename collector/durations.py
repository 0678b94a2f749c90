"""Human durations (`30d`, `48h`, `90s`, `1h30m`) for configuration values."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")


def parse_duration(text: str | float) -> timedelta:
    """Parse `30d`, `48h`, `1h30m`, `500ms` or a number of seconds into a timedelta.

    Raises:
        ValueError: the text is not a duration.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        compact = text.strip().replace(" ", "")
        if not compact:
            raise ValueError("empty duration")
        pos, seconds = 0, 0.0
        for match in _PART.finditer(compact):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(compact):
            raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 48h, 15m, 90s)")
    if seconds < 0:
        raise ValueError(f"negative duration: {text!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the shortest form `parse_duration` reads back."""
    total = value.total_seconds()
    if total == 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        whole = int(total // size)
        if whole:
            parts.append(f"{whole}{unit}")
            total -= whole * size
    if total:
        parts.append(f"{total:g}s")
    return "".join(parts)
