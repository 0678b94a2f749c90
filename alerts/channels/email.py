"""E-mail channel: SMTP (STARTTLS by default), one message per recipient, text in kk/ru/en."""

from __future__ import annotations

import html
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal

import aiosmtplib

from alerts.catalogue import LANGS, Lang
from alerts.channels.base import DeliveryError, Notification
from alerts.channels.text import DETAILS, description, labels, mark, one_line, summary, truncate

Security = Literal["starttls", "tls", "none"]
# A subject longer than this is cut (RFC 5322 recommends short lines; clients truncate anyway).
MAX_SUBJECT = 200
# SMTP reply classes: 4xx transient, 5xx permanent (RFC 5321 §4.2.1).
_TRANSIENT = range(400, 500)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """SMTP server, credentials, sender and recipients with their languages."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    # CA bundle for the server certificate; None: the system store
    ca_file: str | None = None
    subject_prefix: str = "[Kuzet]"
    default_lang: Lang = "ru"
    # recipient address → language of the subject and of the first body section
    langs: Mapping[str, Lang] = field(default_factory=dict)
    timeout_s: float = 30.0


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "kuzet.invalid"


def _languages(first: Lang) -> tuple[Lang, ...]:
    return (first, *(lang for lang in LANGS if lang != first))


def _section(alert: Mapping[str, Any], lang: Lang) -> tuple[str, str]:
    return summary(alert, lang), description(alert, lang)


def plain_body(alert: Mapping[str, Any], event: str, first: Lang) -> str:
    """Every language, the recipient's first, each as summary then description."""
    parts = []
    for lang in _languages(first):
        head, text = _section(alert, lang)
        parts.append(f"{mark(alert, event)} {head}\n\n{text}".rstrip())
    url = str(alert.get("generatorURL", ""))
    if url:
        parts.append(f"{DETAILS[first]}: {url}")
    return "\n\n---\n\n".join(parts) + "\n"


def html_body(alert: Mapping[str, Any], event: str, first: Lang) -> str:
    """The same text as HTML, each language in its own `lang` section; every value escaped."""
    sections = []
    for lang in _languages(first):
        head, text = _section(alert, lang)
        paragraphs = "".join(
            f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p
        )
        sections.append(
            f'<section lang="{lang}"><h2>{html.escape(mark(alert, event))} '
            f"{html.escape(head)}</h2>{paragraphs}</section>"
        )
    url = str(alert.get("generatorURL", ""))
    link = (
        f'<p><a href="{html.escape(url, quote=True)}">{html.escape(DETAILS[first])}</a></p>'
        if url.startswith(("http://", "https://"))
        else ""
    )
    return f'<!DOCTYPE html><html lang="{first}"><body>{"<hr>".join(sections)}{link}</body></html>'


def build_message(
    notification: Notification,
    *,
    sender: str,
    recipient: str,
    lang: Lang,
    subject_prefix: str,
    now: datetime,
) -> EmailMessage:
    """The e-mail for one recipient; the stdlib encodes every header (RFC 2047 for non-ASCII).

    Values from the alert reach headers only through `one_line`, so a CR/LF in a summary
    cannot start a new header; EmailMessage would refuse one anyway.
    """
    alert = notification.alert
    event = notification.event.value
    domain = _domain(sender)
    severity = labels(alert).get("severity", "").upper()
    subject = one_line(f"{subject_prefix} {severity}: {summary(alert, lang)}")
    message = EmailMessage()
    message["Subject"] = truncate(subject, MAX_SUBJECT)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(now.astimezone(UTC))
    # Stable per notification: a retried delivery is recognisably the same message, and the
    # transitions of one alert thread together.
    message["Message-ID"] = f"<kuzet.n{notification.id}@{domain}>"
    message["References"] = f"<kuzet.alert{notification.alert_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    message["Content-Language"] = ", ".join(_languages(lang))
    message.set_content(plain_body(alert, event, lang), charset="utf-8")
    message.add_alternative(html_body(alert, event, lang), subtype="html", charset="utf-8")
    return message


def classify(exc: Exception) -> DeliveryError:
    """Retryable: 4xx replies, connection and timeout errors; permanent: 5xx, no STARTTLS, TLS."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        retryable = bool(codes) and all(code in _TRANSIENT for code in codes)
        return DeliveryError(f"recipients refused: {exc}", retryable=retryable)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"SMTP {exc.code}: {exc.message}", retryable=exc.code in _TRANSIENT)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # e.g. the server offers no STARTTLS: sending in clear is not an option to fall back to
        return DeliveryError(f"SMTP: {exc}", retryable=False)
    if isinstance(exc, ssl.SSLCertVerificationError) or isinstance(
        exc.__cause__, ssl.SSLCertVerificationError
    ):
        # An untrusted certificate is a configuration problem: an hour of retries cannot fix it.
        return DeliveryError(f"TLS: {exc}", retryable=False)
    return DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)


class EmailChannel:
    """Sends one message per notification to its recipient (the outbox target)."""

    def __init__(
        self, config: EmailConfig, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._config = config
        self._clock = clock
        self._tls = ssl.create_default_context(cafile=config.ca_file)

    def targets(self) -> tuple[str, ...]:
        """One outbox row per recipient: a refused address does not hold back the others."""
        return self._config.recipients

    async def send(self, notification: Notification) -> None:
        """Connect, STARTTLS (or TLS), authenticate, send; see `classify` for failures."""
        config = self._config
        recipient = notification.target
        message = build_message(
            notification,
            sender=config.sender,
            recipient=recipient,
            lang=config.langs.get(recipient, config.default_lang),
            subject_prefix=config.subject_prefix,
            now=self._clock(),
        )
        try:
            await aiosmtplib.send(
                message,
                sender=parseaddr(config.sender)[1],
                recipients=[recipient],
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                tls_context=self._tls if config.security != "none" else None,
                timeout=config.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise classify(exc) from exc
