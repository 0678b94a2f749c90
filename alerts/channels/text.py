"""Text of a notification for people: per-language summary and description, cleaning, limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from alerts.catalogue import LANGS, Lang

# Annotation suffix per language (English is the unsuffixed default, as in alerts.payload).
_SUFFIX: Mapping[Lang, str] = {"en": "", "ru": "_ru", "kk": "_kk"}
# Control characters, CR and LF included: never allowed in a one-line field (a title, a header).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
ELLIPSIS = "…"

SEVERITY_MARK: Mapping[str, str] = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
RESOLVED_MARK = "✅"

# The link under a message, per language.
DETAILS: Mapping[Lang, str] = {"en": "Details", "ru": "Подробнее", "kk": "Толығырақ"}


def as_lang(value: object, default: Lang) -> Lang:
    """`value` if it names a language, else `default`."""
    for lang in LANGS:
        if value == lang:
            return lang
    return default


def labels(alert: Mapping[str, Any]) -> Mapping[str, str]:
    """The alert's labels as strings."""
    return {str(k): str(v) for k, v in dict(alert.get("labels", {})).items()}


def annotation(alert: Mapping[str, Any], name: str, lang: Lang) -> str:
    """`name` in `lang` (e.g. summary_kk), falling back to English, then to ""."""
    annotations = alert.get("annotations", {})
    value = annotations.get(f"{name}{_SUFFIX[lang]}") or annotations.get(name) or ""
    return str(value)


def summary(alert: Mapping[str, Any], lang: Lang) -> str:
    """The one-line summary in `lang`, or the rule name if the payload has none."""
    return one_line(annotation(alert, "summary", lang)) or labels(alert).get("alertname", "")


def description(alert: Mapping[str, Any], lang: Lang) -> str:
    """The longer description in `lang` (may be empty)."""
    return annotation(alert, "description", lang).strip()


def is_resolved(alert: Mapping[str, Any], event: str) -> bool:
    """Whether this notice tells that the alert is over."""
    return event == "resolved" or alert.get("status") == "resolved"


def mark(alert: Mapping[str, Any], event: str) -> str:
    """A symbol for the severity (or for a resolve) that reads without colour names."""
    if is_resolved(alert, event):
        return RESOLVED_MARK
    return SEVERITY_MARK.get(labels(alert).get("severity", ""), SEVERITY_MARK["critical"])


def one_line(text: str) -> str:
    """Control characters (CR, LF, tabs, NUL …) become single spaces; ends stripped."""
    return _CONTROL.sub(" ", text).strip()


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    if len(text) <= limit:
        return text
    if limit < len(ELLIPSIS):
        return ""
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def truncate_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut on a character boundary, an ellipsis marking a cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    if room < 0:
        return ""
    return data[:room].decode(errors="ignore").rstrip() + ELLIPSIS
