"""Web Push channel (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID) via pywebpush.

The channel is one outbox target ("all"): its `send` reads every stored subscription and
pushes to each (subscriptions come and go between the transition and the delivery, so they
cannot be outbox targets fixed at enqueue time). Outcome of one fan-out:

- a 404/410 from a push service means the subscription is gone: it is deleted;
- if at least one subscription got the message, the notification counts as sent, and the
  transient failures of the others are logged and counted (`kuzet_push_deliveries`), not
  retried: retrying only the failed subscriptions is out of scope, and retrying all of them
  would repeat the message to everyone who already has it;
- if none got it and some failed transiently (push services down, network), the whole
  notification is retried by the outbox; if all failed permanently, it fails.

A fan-out runs within the dispatcher's lease (60 s): with `concurrency` parallel requests this
suits up to some thousands of subscriptions, not a city-wide audience.

Payload (JSON, for the service worker's `showNotification`): title, body, tag (the alert
fingerprint, so a later notice replaces the earlier one), url, severity, event, alertname,
kind, area, lang.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush_async  # type: ignore[import-untyped]

from alerts.catalogue import LANGS, Lang
from alerts.channels.base import DeliveryError, Notification, http_retryable
from alerts.channels.limits import KeyedRateLimiter
from alerts.channels.metrics import ChannelMetrics
from alerts.channels.text import (
    as_lang,
    description,
    is_resolved,
    labels,
    summary,
    truncate_bytes,
)
from storage.push import Subscription, delete_subscriptions, list_subscriptions

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]

TARGET = "all"
# Push services accept 4096 bytes of encrypted body; aes128gcm adds 86 bytes of header and
# 17 of padding and tag (RFC 8291 §4), so the plaintext must stay below 3993.
MAX_PAYLOAD_BYTES = 3800
MAX_ENDPOINT = 2048
_P256_POINT = 65
_AUTH_SECRET = 16
# RFC 8030 §5.3 Urgency per severity; resolve notices are low.
URGENCY: Mapping[str, str] = {"critical": "high", "warning": "normal", "info": "low"}
# Push services of the major browsers; an endpoint elsewhere is refused (it would make the
# daemon POST to any URL a stranger submits).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "notify.windows.com",
    "push.apple.com",
)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_vapid(private_key: str) -> Any:
    """A py_vapid signer from a PEM, a base64url raw 32-byte key, or a base64 DER key.

    Raises:
        ValueError: not a P-256 private key.
    """
    text = private_key.strip()
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
            vapid = Vapid02(key)
        else:
            vapid = Vapid02.from_string(text)
        curve = vapid.private_key.curve.name
    except (ValueError, TypeError, binascii.Error, AttributeError) as exc:
        raise ValueError(f"not a VAPID private key: {type(exc).__name__}") from None
    if curve != ec.SECP256R1.name:
        raise ValueError("the VAPID key must be on the P-256 curve")
    return vapid


def public_key_of(vapid: Any) -> str:
    """The `applicationServerKey` for PushManager.subscribe(): uncompressed point, base64url."""
    point: bytes = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64encode(point)


@dataclass(frozen=True, slots=True)
class PushPolicy:
    """What the public subscription endpoint accepts."""

    default_lang: Lang = "ru"
    endpoint_hosts: tuple[str, ...] = DEFAULT_PUSH_HOSTS
    # plain http endpoints: only for a local push service in tests
    allow_http: bool = False
    max_subscriptions: int = 100_000
    # subscription requests per minute per client address
    subscribe_rate: int = 10
    # origins allowed to call the endpoint from a browser (CORS); "*" for any
    allowed_origins: tuple[str, ...] = ()

    def host_allowed(self, host: str) -> bool:
        """Whether `host` is one of the push services or a subdomain of one."""
        host = host.lower().rstrip(".")
        return any(host == h or host.endswith(f".{h}") for h in self.endpoint_hosts)


class InvalidSubscriptionError(ValueError):
    """A subscription request that cannot be stored; the message is for the API client."""


def _p256_point(text: str) -> bytes | None:
    try:
        point = _b64decode(text)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, binascii.Error):
        return None
    return point if len(point) == _P256_POINT else None


def parse_subscription(data: Any, policy: PushPolicy) -> Subscription:
    """Validate a `PushSubscription.toJSON()` body plus an optional `lang`.

    Raises:
        InvalidSubscriptionError: with a message fit for the API client.
    """
    if not isinstance(data, dict):
        raise InvalidSubscriptionError("body must be a JSON object")
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
        raise InvalidSubscriptionError(
            f"endpoint must be a URL of at most {MAX_ENDPOINT} characters"
        )
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise InvalidSubscriptionError("endpoint must be an https URL without credentials")
    if not policy.host_allowed(parts.hostname):
        raise InvalidSubscriptionError(
            f"endpoint host {parts.hostname!r} is not a known push service"
        )
    if not isinstance(keys, dict):
        raise InvalidSubscriptionError("keys must be an object with p256dh and auth")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise InvalidSubscriptionError("keys.p256dh and keys.auth must be base64url strings")
    point = _p256_point(p256dh)
    if point is None:
        raise InvalidSubscriptionError(
            "keys.p256dh must be an uncompressed P-256 point (base64url)"
        )
    try:
        secret = _b64decode(auth)
    except (ValueError, binascii.Error):
        secret = b""
    if len(secret) != _AUTH_SECRET:
        raise InvalidSubscriptionError("keys.auth must be 16 bytes (base64url)")
    lang = data.get("lang", policy.default_lang)
    if lang not in LANGS:
        raise InvalidSubscriptionError(f"lang must be one of {', '.join(LANGS)}")
    return Subscription(endpoint, _b64encode(point), _b64encode(secret), lang)


def push_payload(alert: Mapping[str, Any], event: str, lang: Lang) -> bytes:
    """The JSON message a service worker shows; the body is cut to fit a push message."""
    alert_labels = labels(alert)
    data = {
        "title": summary(alert, lang),
        "body": "",
        "tag": str(alert.get("fingerprint", "")),
        "url": str(alert.get("generatorURL", "")),
        "severity": alert_labels.get("severity", ""),
        "event": event,
        "alertname": alert_labels.get("alertname", ""),
        "kind": alert_labels.get("kind", ""),
        "area": alert_labels.get("area", ""),
        "lang": lang,
    }
    body = description(alert, lang)
    room = MAX_PAYLOAD_BYTES - len(orjson.dumps(data))
    while True:
        data["body"] = truncate_bytes(body, room)
        encoded = orjson.dumps(data)
        if len(encoded) <= MAX_PAYLOAD_BYTES or room <= 0:
            return encoded
        # JSON escapes (quotes, newlines) made it longer than the text: cut more.
        room -= len(encoded) - MAX_PAYLOAD_BYTES


class Outcome(enum.StrEnum):
    """What happened to one subscription (the labels of kuzet_push_deliveries)."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"


@dataclass(slots=True)
class PushSubscriptions:
    """The public side: the VAPID public key, validation and admission of subscriptions."""

    public_key: str
    policy: PushPolicy
    limiter: KeyedRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = KeyedRateLimiter(self.policy.subscribe_rate)

    def parse(self, data: Any) -> Subscription:
        """See parse_subscription."""
        return parse_subscription(data, self.policy)

    def admit(self, client: str, now: float) -> float:
        """0.0 when `client` may subscribe now, else seconds to wait."""
        return self.limiter.acquire(client, now)


@dataclass(frozen=True, slots=True)
class WebPushConfig:
    """VAPID identity and delivery settings."""

    vapid_private_key: str
    # the VAPID `sub` claim: mailto: or https: contact of the operator
    subject: str
    ttl_s: int = 6 * 3600
    concurrency: int = 16
    timeout_s: float = 10.0
    policy: PushPolicy = field(default_factory=PushPolicy)


class WebPushChannel:
    """Fans one notification out to every stored subscription."""

    def __init__(
        self,
        config: WebPushConfig,
        session: aiohttp.ClientSession,
        pool: Pool,
        *,
        metrics: ChannelMetrics | None = None,
    ) -> None:
        self._config = config
        self._session = session
        self._pool = pool
        self._metrics = metrics
        self._vapid = load_vapid(config.vapid_private_key)
        self.subscriptions = PushSubscriptions(public_key_of(self._vapid), config.policy)

    def targets(self) -> tuple[str, ...]:
        """A single target: the fan-out reads the subscriptions at delivery time."""
        return (TARGET,)

    async def send(self, notification: Notification) -> None:
        """Push to every subscription; see the module docstring for what counts as sent."""
        try:
            async with self._pool.connection() as conn:
                subscriptions = await list_subscriptions(conn)
        except psycopg.Error as exc:  # PoolTimeout included
            raise DeliveryError(f"subscriptions unavailable: {exc}", retryable=True) from exc
        if self._metrics is not None:
            self._metrics.push_subscriptions.set(len(subscriptions))
        if not subscriptions:
            return
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(subscription: Subscription) -> Outcome:
            async with gate:
                return await self._push(subscription, notification)

        outcomes = await asyncio.gather(*(one(s) for s in subscriptions))
        await self._forget(
            [s.endpoint for s, o in zip(subscriptions, outcomes, strict=True) if o is Outcome.GONE]
        )
        counts = {o: outcomes.count(o) for o in Outcome}
        if self._metrics is not None:
            for outcome, n in counts.items():
                self._metrics.push_deliveries.labels(outcome.value).inc(n)
        summary_text = ", ".join(f"{n} {o.value}" for o, n in counts.items() if n)
        if counts[Outcome.SENT]:
            if counts[Outcome.RETRY] or counts[Outcome.FAILED]:
                logger.warning("web push %d: partly delivered (%s)", notification.id, summary_text)
            return
        if counts[Outcome.RETRY]:
            raise DeliveryError(f"no subscription reached ({summary_text})", retryable=True)
        if counts[Outcome.FAILED]:
            raise DeliveryError(f"every subscription failed ({summary_text})", retryable=False)

    async def _push(self, subscription: Subscription, notification: Notification) -> Outcome:
        alert = notification.alert
        event = notification.event.value
        lang = as_lang(subscription.lang, self._config.policy.default_lang)
        severity = labels(alert).get("severity", "")
        headers = {
            "Urgency": "low" if is_resolved(alert, event) else URGENCY.get(severity, "high"),
            # A newer notice of the same alert replaces an undelivered older one (RFC 8030 §5.4).
            "Topic": str(alert.get("fingerprint", ""))[:32],
        }
        if not headers["Topic"]:
            del headers["Topic"]
        try:
            await webpush_async(
                subscription_info=subscription.info(),
                data=push_payload(alert, event, lang),
                vapid_private_key=self._vapid,
                # a new dict each time: pywebpush fills in `aud` and `exp` in place
                vapid_claims={"sub": self._config.subject},
                ttl=self._config.ttl_s,
                headers=headers,
                aiohttp_session=self._session,
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_s),
            )
        except WebPushException as exc:
            status = exc.status_code
            # 404/410: the subscription expired or was revoked
            if status in (404, 410):
                return Outcome.GONE
            if status is None or http_retryable(status):
                return Outcome.RETRY
            logger.warning("web push to %s: HTTP %s", _host(subscription.endpoint), status)
            return Outcome.FAILED
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.info("web push to %s: %s", _host(subscription.endpoint), exc)
            return Outcome.RETRY
        except Exception:  # one malformed stored subscription must not stop the fan-out
            logger.warning("web push to %s failed", _host(subscription.endpoint), exc_info=True)
            return Outcome.FAILED
        return Outcome.SENT

    async def _forget(self, endpoints: Sequence[str]) -> None:
        if not endpoints:
            return
        try:
            async with self._pool.connection() as conn:
                removed = await delete_subscriptions(conn, endpoints)
        except psycopg.Error as exc:  # PoolTimeout included
            # the pushes happened; the next fan-out meets the 410s again and retries this
            logger.warning("web push: expired subscriptions not removed: %s", exc)
            return
        logger.info("web push: %d expired subscriptions removed", removed)


def _host(endpoint: str) -> str:
    # Log the push service only: the endpoint path identifies a person's browser.
    return urlsplit(endpoint).hostname or "?"
