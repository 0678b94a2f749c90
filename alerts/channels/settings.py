"""The `[channels]` section: one table per channel, its routing, rate limit and secrets.

A secret (`token`, `password`, `vapid_private_key`) may be given inline, as `<name>_file` (a
file holding it, e.g. a mounted Kubernetes or Docker secret) or by an environment variable
(SECRET_ENV), which overrides both. Files are read when the section is validated, so a
missing file is a configuration error at start-up.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.catalogue import Lang
from alerts.channels.routing import Route
from alerts.channels.webpush import DEFAULT_PUSH_HOSTS, load_vapid
from alerts.model import Severity
from collector.config import ConfigError, Duration

Kind = Literal["air", "seismic", "lake", "system"]

# Environment variable → (channel, secret key). They override the file.
SECRET_ENV: Mapping[str, tuple[str, str]] = {
    "KUZET_TELEGRAM_TOKEN": ("telegram", "token"),
    "KUZET_SMTP_PASSWORD": ("email", "password"),
    "KUZET_NTFY_TOKEN": ("ntfy", "token"),
    "KUZET_ALERTMANAGER_TOKEN": ("alertmanager", "token"),
    "KUZET_VAPID_PRIVATE_KEY": ("webpush", "vapid_private_key"),
}
MAX_PORT = 65535
_CONTROL = frozenset("\r\n\t\x00")


class _Frozen(BaseModel):
    # Unknown keys are errors: a typo in a route must not silently send everything.
    model_config = ConfigDict(frozen=True, extra="forbid")


def _secret_from_file(data: Any, key: str) -> Any:
    """Before validation: read `<key>_file` into `<key>`."""
    if not isinstance(data, dict) or data.get(f"{key}_file") is None:
        return data
    path = Path(str(data[f"{key}_file"]))
    if data.get(key) is not None:
        raise ValueError(f"set {key} or {key}_file, not both")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{key}_file: cannot read {path}: {exc.strerror}") from None
    if not text:
        raise ValueError(f"{key}_file: {path} is empty")
    return {**data, key: text}


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def _recipient(data: Any, key: str) -> Any:
    """A recipient given as a bare string (or number) is the table `{<key> = "..."}`."""
    return {key: str(data)} if isinstance(data, str | int) else data


class RouteSettings(_Frozen):
    """Which alert transitions pass: a channel's, or a recipient's narrower, filter."""

    min_severity: Severity = Severity.INFO
    # empty: every kind / area
    kinds: list[Kind] = Field(default_factory=list)
    areas: list[str] = Field(default_factory=list)
    send_resolved: bool = True

    def route(self) -> Route:
        """The filter as a value."""
        return Route.of(
            min_severity=self.min_severity,
            kinds=self.kinds,
            areas=self.areas,
            send_resolved=self.send_resolved,
        )


class ChannelBase(RouteSettings):
    """Routing plus the channel's own rate limit."""

    # messages per minute for the whole channel; above it deliveries wait in the outbox
    rate_limit: int | None = Field(default=None, ge=1)


class WebhookSettings(ChannelBase):
    """`[channels.webhook]`: Alertmanager-format receivers (KUZET_WEBHOOK_URL)."""

    urls: list[str] = Field(default_factory=list)
    timeout: Duration = timedelta(seconds=10)

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        return [_http_url(u) for u in urls]


class MqttChannelSettings(ChannelBase):
    """`[channels.mqtt]`: publish every transition to `<prefix>/alerts/<kind>/<rule>`."""

    enabled: bool = True


class TelegramChat(RouteSettings):
    """A chat: `"-100123"`, `"@channel"`, or a table with `chat_id`, `lang` and a route."""

    chat_id: str = Field(pattern=r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
    lang: Lang | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        return _recipient(data, "chat_id")


class TelegramSettings(ChannelBase):
    """`[channels.telegram]`: Bot API sendMessage to each chat."""

    token: SecretStr | None = None
    token_file: Path | None = None
    api_base: str = "https://api.telegram.org"
    chats: list[TelegramChat] = Field(default_factory=list)
    lang: Lang = "ru"
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="before")
    @classmethod
    def _secret_file(cls, data: Any) -> Any:
        return _secret_from_file(data, "token")

    @field_validator("api_base")
    @classmethod
    def _http(cls, value: str) -> str:
        return _http_url(value)

    @model_validator(mode="after")
    def _needs_token(self) -> TelegramSettings:
        if self.chats and self.token is None:
            raise ValueError("chats need a token (token, token_file or KUZET_TELEGRAM_TOKEN)")
        return self


class EmailRecipient(RouteSettings):
    """An address, or a table with `address`, `lang` and a route."""

    address: str
    lang: Lang | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        return _recipient(data, "address")

    @field_validator("address")
    @classmethod
    def _plain_address(cls, value: str) -> str:
        if parseaddr(value)[1] != value or "@" not in value or _CONTROL & set(value):
            raise ValueError(f"{value!r} is not a plain e-mail address (user@example.kz)")
        return value


class EmailSettings(ChannelBase):
    """`[channels.email]`: SMTP submission, one message per recipient."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = "localhost"
    # default: 587 for starttls, 465 for tls, 25 for none
    port: int | None = Field(default=None, ge=1, le=MAX_PORT)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = Field(default="", alias="from")
    to: list[EmailRecipient] = Field(default_factory=list)
    lang: Lang = "ru"
    ca_file: Path | None = None
    subject_prefix: str = "[Kuzet]"
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="before")
    @classmethod
    def _secret_file(cls, data: Any) -> Any:
        return _secret_from_file(data, "password")

    @field_validator("sender", "subject_prefix")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if _CONTROL & set(value):
            raise ValueError("must be one line")
        return value

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.to and "@" not in parseaddr(self.sender)[1]:
            raise ValueError('recipients need a sender: from = "Kuzet <alerts@example.kz>"')
        if self.to and self.password is not None and not self.username:
            raise ValueError("password given without username")
        return self

    @property
    def effective_port(self) -> int:
        """The configured port, or the usual one for the security mode."""
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


class NtfyTopic(RouteSettings):
    """A topic name, or a table with `topic`, `lang` and a route."""

    topic: str = Field(pattern=r"^[-_A-Za-z0-9]{1,64}$")
    lang: Lang | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        return _recipient(data, "topic")


class NtfySettings(ChannelBase):
    """`[channels.ntfy]`: JSON publishing to each topic on one server."""

    server: str = "https://ntfy.sh"
    topics: list[NtfyTopic] = Field(default_factory=list)
    token: SecretStr | None = None
    token_file: Path | None = None
    lang: Lang = "ru"
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="before")
    @classmethod
    def _secret_file(cls, data: Any) -> Any:
        return _secret_from_file(data, "token")

    @field_validator("server")
    @classmethod
    def _http(cls, value: str) -> str:
        return _http_url(value)


class AlertmanagerSettings(ChannelBase):
    """`[channels.alertmanager]`: API v2 postable alerts to each instance."""

    urls: list[str] = Field(default_factory=list)
    token: SecretStr | None = None
    token_file: Path | None = None
    # endsAt of a firing alert = post time + this; keep it above [alerts] repeat_interval
    firing_ttl: Duration = timedelta(hours=5)
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="before")
    @classmethod
    def _secret_file(cls, data: Any) -> Any:
        return _secret_from_file(data, "token")

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        return [_http_url(u) for u in urls]


class WebPushSettings(ChannelBase):
    """`[channels.webpush]`: VAPID identity, delivery and the public subscription endpoint."""

    enabled: bool = False
    vapid_private_key: SecretStr | None = None
    vapid_private_key_file: Path | None = None
    subject: str = ""
    ttl: Duration = timedelta(hours=6)
    lang: Lang = "ru"
    concurrency: int = Field(default=16, ge=1, le=256)
    timeout: Duration = timedelta(seconds=10)
    endpoint_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_PUSH_HOSTS))
    allow_http: bool = False
    max_subscriptions: int = Field(default=100_000, ge=1)
    subscribe_rate: int = Field(default=10, ge=1)
    allowed_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _secret_file(cls, data: Any) -> Any:
        return _secret_from_file(data, "vapid_private_key")

    @model_validator(mode="after")
    def _complete(self) -> WebPushSettings:
        if not self.enabled:
            return self
        if self.vapid_private_key is None:
            raise ValueError(
                "needs vapid_private_key, vapid_private_key_file or KUZET_VAPID_PRIVATE_KEY"
            )
        load_vapid(self.vapid_private_key.get_secret_value())
        if not self.subject.startswith(("mailto:", "https://")):
            raise ValueError('subject must be "mailto:<operator address>" or an https URL')
        return self


class ChannelSettings(_Frozen):
    """The `[channels]` section."""

    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    mqtt: MqttChannelSettings = Field(default_factory=MqttChannelSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    ntfy: NtfySettings = Field(default_factory=NtfySettings)
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings)
    webpush: WebPushSettings = Field(default_factory=WebPushSettings)


def _with_env(section: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(dict(section))
    for name, (channel, key) in SECRET_ENV.items():
        value = env.get(name, "").strip()
        if not value:
            continue
        table = data.get(channel)
        table = dict(table) if isinstance(table, Mapping) else {}
        table[key] = value
        table.pop(f"{key}_file", None)
        data[channel] = table
    return data


def load_channel_settings(
    section: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> ChannelSettings:
    """Validate `[channels]`, secrets from SECRET_ENV in `env` overriding the file.

    Args:
        section: the `[channels]` table.
        env: the environment (passed in; None: secrets only from the file).

    Raises:
        ConfigError: one line naming every problem.
    """
    try:
        return ChannelSettings.model_validate(_with_env(section, env or {}))
    except ValidationError as exc:
        problems = [
            "channels."
            + ".".join(str(p) for p in e["loc"])
            + ": "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise ConfigError("; ".join(problems)) from None
