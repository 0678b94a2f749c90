"""Notification channels, one module each, built from the `[channels]` section."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import aiohttp
import psycopg
from prometheus_client import CollectorRegistry
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from alerts.channels.alertmanager import AlertmanagerChannel, AlertmanagerConfig
from alerts.channels.base import Channel, DeliveryError, Notification
from alerts.channels.email import EmailChannel, EmailConfig
from alerts.channels.limits import Limited, RateLimiter, RetryAfterError
from alerts.channels.metrics import ChannelMetrics
from alerts.channels.mqtt import MqttChannel, Publisher
from alerts.channels.ntfy import NtfyChannel, NtfyConfig
from alerts.channels.routing import ANY, Route, RoutedTarget, select
from alerts.channels.settings import (
    SECRET_ENV,
    AlertmanagerSettings,
    ChannelBase,
    ChannelSettings,
    EmailSettings,
    MqttChannelSettings,
    NtfySettings,
    TelegramSettings,
    WebhookSettings,
    WebPushSettings,
    load_channel_settings,
)
from alerts.channels.telegram import TelegramChannel, TelegramConfig
from alerts.channels.webhook import WebhookChannel, WebhookConfig
from alerts.channels.webpush import PushPolicy, PushSubscriptions, WebPushChannel, WebPushConfig
from storage.alerts import Target

__all__ = [
    "SECRET_ENV",
    "Channel",
    "ChannelSettings",
    "Channels",
    "DeliveryError",
    "MqttChannelSettings",
    "Notification",
    "RetryAfterError",
    "WebhookSettings",
    "build_channels",
    "load_channel_settings",
]

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]


@dataclass(frozen=True, slots=True)
class Channels:
    """The configured channels by name, their routed outbox targets, and the push endpoint."""

    by_name: Mapping[str, Channel]
    routed: tuple[RoutedTarget, ...] = ()
    # the public side of Web Push (VAPID key, subscription checks) when it is enabled
    push: PushSubscriptions | None = None

    def targets_for(self, labels: Mapping[str, str], event: str) -> tuple[Target, ...]:
        """The outbox targets of one transition (`event`: firing/escalated/repeat/resolved)."""
        return select(self.routed, labels, event)

    @property
    def targets(self) -> tuple[Target, ...]:
        """Every target, ignoring routes (what the engine used before routing existed)."""
        return tuple(r.target for r in self.routed)


class _Registry:
    """Collects channels while build_channels walks the settings."""

    def __init__(self, metrics: ChannelMetrics) -> None:
        self.metrics = metrics
        self.by_name: dict[str, Channel] = {}
        self.routed: list[RoutedTarget] = []

    def add(
        self,
        name: str,
        channel: Channel,
        settings: ChannelBase,
        recipients: Iterable[tuple[str, Route]],
    ) -> None:
        limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None
        self.by_name[name] = Limited(name, channel, limiter=limiter, metrics=self.metrics)
        route = settings.route()
        self.routed.extend(RoutedTarget(Target(name, t), (route, r)) for t, r in recipients)


def _telegram(settings: TelegramSettings, session: aiohttp.ClientSession) -> TelegramChannel:
    assert settings.token is not None  # noqa: S101 - validated: chats need a token
    return TelegramChannel(
        TelegramConfig(
            token=settings.token.get_secret_value(),
            chats=tuple(c.chat_id for c in settings.chats),
            api_base=settings.api_base,
            default_lang=settings.lang,
            langs={c.chat_id: c.lang for c in settings.chats if c.lang},
            timeout_s=settings.timeout.total_seconds(),
        ),
        session,
    )


def _email(settings: EmailSettings) -> EmailChannel:
    return EmailChannel(
        EmailConfig(
            host=settings.host,
            port=settings.effective_port,
            sender=settings.sender,
            recipients=tuple(r.address for r in settings.to),
            security=settings.security,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            ca_file=str(settings.ca_file) if settings.ca_file else None,
            subject_prefix=settings.subject_prefix,
            default_lang=settings.lang,
            langs={r.address: r.lang for r in settings.to if r.lang},
            timeout_s=settings.timeout.total_seconds(),
        )
    )


def _ntfy(settings: NtfySettings, session: aiohttp.ClientSession) -> NtfyChannel:
    return NtfyChannel(
        NtfyConfig(
            server=settings.server,
            topics=tuple(t.topic for t in settings.topics),
            token=settings.token.get_secret_value() if settings.token else None,
            default_lang=settings.lang,
            langs={t.topic: t.lang for t in settings.topics if t.lang},
            timeout_s=settings.timeout.total_seconds(),
        ),
        session,
    )


def _alertmanager(
    settings: AlertmanagerSettings, session: aiohttp.ClientSession
) -> AlertmanagerChannel:
    return AlertmanagerChannel(
        AlertmanagerConfig(
            urls=tuple(settings.urls),
            token=settings.token.get_secret_value() if settings.token else None,
            firing_ttl=settings.firing_ttl,
            timeout_s=settings.timeout.total_seconds(),
        ),
        session,
    )


def _webpush(
    settings: WebPushSettings,
    session: aiohttp.ClientSession,
    pool: Pool,
    metrics: ChannelMetrics,
) -> WebPushChannel:
    assert settings.vapid_private_key is not None  # noqa: S101 - validated when enabled
    return WebPushChannel(
        WebPushConfig(
            vapid_private_key=settings.vapid_private_key.get_secret_value(),
            subject=settings.subject,
            ttl_s=int(settings.ttl.total_seconds()),
            concurrency=settings.concurrency,
            timeout_s=settings.timeout.total_seconds(),
            policy=PushPolicy(
                default_lang=settings.lang,
                endpoint_hosts=tuple(settings.endpoint_hosts),
                allow_http=settings.allow_http,
                max_subscriptions=settings.max_subscriptions,
                subscribe_rate=settings.subscribe_rate,
                allowed_origins=tuple(settings.allowed_origins),
            ),
        ),
        session,
        pool,
        metrics=metrics,
    )


def build_channels(
    settings: ChannelSettings,
    *,
    session: aiohttp.ClientSession,
    publisher: Publisher,
    topic_prefix: str,
    external_url: str,
    pool: Pool | None = None,
    registry: CollectorRegistry | None = None,
) -> Channels:
    """Instantiate the enabled channels, each behind its rate limit, with their routes.

    Args:
        settings: the validated `[channels]` section.
        session: the daemon's HTTP client session (closed by the caller).
        publisher: the daemon's MQTT connection.
        topic_prefix: first MQTT topic level.
        external_url: the daemon's public URL (webhook `externalURL`).
        pool: the database pool; required when Web Push is enabled (subscriptions).
        registry: where the channel metrics go (the daemon's Metrics.registry).

    Raises:
        ValueError: Web Push is enabled but no pool was given.
    """
    built = _Registry(ChannelMetrics(registry))
    if settings.webhook.urls:
        webhook = WebhookChannel(
            WebhookConfig(
                urls=tuple(settings.webhook.urls),
                external_url=external_url,
                timeout_s=settings.webhook.timeout.total_seconds(),
            ),
            session,
        )
        built.add("webhook", webhook, settings.webhook, ((u, ANY) for u in webhook.targets()))
    if settings.mqtt.enabled:
        built.add("mqtt", MqttChannel(publisher, topic_prefix), settings.mqtt, [("", ANY)])
    if settings.telegram.chats:
        telegram = _telegram(settings.telegram, session)
        recipients = [(c.chat_id, c.route()) for c in settings.telegram.chats]
        built.add("telegram", telegram, settings.telegram, recipients)
    if settings.email.to:
        recipients = [(r.address, r.route()) for r in settings.email.to]
        built.add("email", _email(settings.email), settings.email, recipients)
    if settings.ntfy.topics:
        recipients = [(t.topic, t.route()) for t in settings.ntfy.topics]
        built.add("ntfy", _ntfy(settings.ntfy, session), settings.ntfy, recipients)
    if settings.alertmanager.urls:
        alertmanager = _alertmanager(settings.alertmanager, session)
        recipients = [(u, ANY) for u in alertmanager.targets()]
        built.add("alertmanager", alertmanager, settings.alertmanager, recipients)
    push: PushSubscriptions | None = None
    if settings.webpush.enabled:
        if pool is None:
            raise ValueError("Web Push needs the database pool (its subscriptions)")
        webpush = _webpush(settings.webpush, session, pool, built.metrics)
        built.add("webpush", webpush, settings.webpush, [(t, ANY) for t in webpush.targets()])
        push = webpush.subscriptions
    built.metrics.known_channels(built.by_name)
    return Channels(by_name=built.by_name, routed=tuple(built.routed), push=push)
