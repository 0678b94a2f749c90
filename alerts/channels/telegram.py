"""Telegram channel: Bot API `sendMessage`, HTML parse mode, one outbox row per chat."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from alerts.catalogue import Lang
from alerts.channels.base import DeliveryError, Notification, http_retryable
from alerts.channels.limits import RetryAfterError
from alerts.channels.text import DETAILS, description, is_resolved, labels, mark, summary

# Bot API limit on the text of one message.
MAX_TEXT = 4096
# A summary is one line; more than this is a broken template, not a message worth 4 kB.
MAX_SUMMARY = 512
# Telegram answers 429 with parameters.retry_after; without it, wait this long.
DEFAULT_RETRY_AFTER_S = 1.0
# Statuses that no retry can fix: bad request (chat not found, bad markup), bot token
# rejected, bot blocked or kicked, unknown method/token.
_PERMANENT = (400, 401, 403, 404)


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """Bot token, API base URL and the chats with their languages."""

    token: str
    chats: tuple[str, ...]
    api_base: str = "https://api.telegram.org"
    default_lang: Lang = "ru"
    # chat id → language; chats not listed use `default_lang`
    langs: Mapping[str, Lang] = field(default_factory=dict)
    timeout_s: float = 10.0


def fit_escaped(text: str, budget: int) -> str:
    """HTML-escape `text`, cutting the plain text first so the result fits `budget` characters.

    Cutting before escaping never splits an entity such as `&amp;`.
    """
    escaped = html.escape(text)
    if len(escaped) <= budget:
        return escaped
    keep = len(text)
    while keep > 0:
        keep -= max(len(escaped) - budget, 1)
        escaped = html.escape(text[: max(keep, 0)].rstrip()) + "…"
        if len(escaped) <= budget:
            return escaped
    return ""


def render(alert: Mapping[str, Any], event: str, lang: Lang) -> str:
    """The HTML message: mark and bold summary, description, link; every value escaped."""
    head = f"{mark(alert, event)} <b>{fit_escaped(summary(alert, lang), MAX_SUMMARY)}</b>"
    url = str(alert.get("generatorURL", ""))
    tail = (
        f'\n\n<a href="{html.escape(url, quote=True)}">{html.escape(DETAILS[lang])}</a>'
        if url.startswith(("http://", "https://"))
        else ""
    )
    text = description(alert, lang)
    if not text:
        return head + tail
    budget = MAX_TEXT - len(head) - len(tail) - 2
    return f"{head}\n\n{fit_escaped(text, budget)}{tail}"


class TelegramChannel:
    """Sends each notification to its chat; honours the Bot API's flood control."""

    def __init__(
        self,
        config: TelegramConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._session = session
        self._clock = clock
        # After a 429, Telegram refuses every message for `retry_after` seconds: until then
        # deliveries fail fast instead of extending the flood ban.
        self._blocked_until = 0.0

    def targets(self) -> tuple[str, ...]:
        """One outbox row per chat, so a blocked chat does not hold back the others."""
        return self._config.chats

    def lang_of(self, chat_id: str) -> Lang:
        """The language configured for a chat."""
        return self._config.langs.get(chat_id, self._config.default_lang)

    async def send(self, notification: Notification) -> None:
        """POST sendMessage; 429 waits `retry_after`, 400/401/403/404 are permanent."""
        wait = self._blocked_until - self._clock()
        if wait > 0:
            raise RetryAfterError(
                f"Telegram flood control: {wait:.0f}s left", retry_after=wait, remote=True
            )
        alert = notification.alert
        resolved = is_resolved(alert, notification.event.value)
        body = {
            "chat_id": notification.target,
            "text": render(alert, notification.event.value, self.lang_of(notification.target)),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
            # Resolve notices and info alerts arrive without a sound.
            "disable_notification": resolved or labels(alert).get("severity") == "info",
        }
        url = f"{self._config.api_base.rstrip('/')}/bot{self._config.token}/sendMessage"
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        try:
            async with self._session.post(
                url,
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            ) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(
                self._redact(f"{type(exc).__name__}: {exc}"), retryable=True
            ) from exc
        self._check(status, raw)

    def _check(self, status: int, raw: bytes) -> None:
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if 200 <= status < 300 and answer.get("ok") is True:  # noqa: PLR2004 - HTTP success
            return
        text = self._redact(str(answer.get("description") or raw[:200].decode(errors="replace")))
        parameters = answer.get("parameters") or {}
        if status == 429:  # noqa: PLR2004 - Too Many Requests
            retry_after = float(parameters.get("retry_after") or DEFAULT_RETRY_AFTER_S)
            self._blocked_until = max(self._blocked_until, self._clock() + retry_after)
            raise RetryAfterError(f"HTTP 429: {text}", retry_after=retry_after, remote=True)
        if "migrate_to_chat_id" in parameters:
            # A group became a supergroup: the operator must configure the new id.
            text += f" (the chat is now {parameters['migrate_to_chat_id']})"
        if status in _PERMANENT:
            retryable = False
        elif 200 <= status < 300:  # noqa: PLR2004 - a 2xx without "ok": a proxy or a glitch
            retryable = True
        else:
            retryable = http_retryable(status)
        raise DeliveryError(f"HTTP {status}: {text}", retryable=retryable)

    def _redact(self, text: str) -> str:
        # The token is part of the URL; aiohttp errors may quote it.
        return text.replace(self._config.token, "<token>")
