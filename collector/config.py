"""Settings: TOML file plus KUZET_* environment overrides, validated once into frozen objects."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.durations import format_duration, parse_duration
from collector.shard import Shard, ordinal_from_hostname

MAX_CLIENT_ID = 128
MAX_PORT = 65535

Duration = Annotated[
    timedelta,
    BeforeValidator(lambda v: v if isinstance(v, timedelta) else parse_duration(v)),
    PlainSerializer(format_duration, return_type=str),
]


class ConfigError(Exception):
    """The configuration is invalid; the message is one line meant for an operator."""


class _Frozen(BaseModel):
    # Unknown keys are errors: a typo in a threshold must not silently keep the default.
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSettings(_Frozen):
    """Broker connection and session (spec §2, §3)."""

    url: str = "mqtt://127.0.0.1:1883"
    # auto: MQTT 5, falling back to 3.1.1 when the broker refuses 5 (both keep a
    # persistent session; only 5 has Receive Maximum and a client-chosen session expiry).
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    client_id: str = Field(default_factory=lambda: f"kuzet-{socket.gethostname()}")
    # Persistent session: the broker keeps our subscriptions and queues QoS 1 messages
    # while we are away, for this long.
    session_expiry: Duration = timedelta(days=1)
    keepalive: Duration = timedelta(seconds=30)
    reconnect_initial: Duration = timedelta(seconds=1)
    reconnect_max: Duration = timedelta(seconds=60)
    # MQTT 5 Receive Maximum: QoS 1 messages the broker may send before we acknowledge.
    # Messages are acknowledged only after their readings are committed, so this bounds
    # the un-acknowledged window, and with it memory.
    receive_maximum: int = Field(default=1000, ge=1, le=65535)
    # Received messages held in memory before the daemon stops reading the socket (and
    # resumes below half of it). Brokers do not always honour Receive Maximum (mosquitto
    # 2.0 exceeds it once acknowledgements flow); this bounds memory without discarding:
    # the backlog waits in the broker's session queue instead.
    incoming_buffer: int = Field(default=2000, ge=2)
    ca_file: Path | None = None
    tls_insecure: bool = False

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("has no host")
        _ = parts.port  # raises ValueError on a bad port
        return value

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not value or len(value) > MAX_CLIENT_ID:
            raise ValueError("must be 1..128 characters")
        return value

    @property
    def host(self) -> str:
        """Broker host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """Broker port (1883, or 8883 for mqtts, unless given)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def username(self) -> str | None:
        """User name from the URL, if any."""
        user = urlsplit(self.url).username
        return unquote(user) if user else None

    @property
    def password(self) -> str | None:
        """Password from the URL, if any."""
        password = urlsplit(self.url).password
        return unquote(password) if password else None


class DatabaseSettings(_Frozen):
    """PostgreSQL/TimescaleDB connection and storage policies (spec §5)."""

    url: str = "postgresql://localhost/kuzet"
    pool_min: int = Field(default=1, ge=1)
    pool_max: int = Field(default=4, ge=1)
    # auto: use TimescaleDB when the extension can be created; require: fail without it;
    # off: plain PostgreSQL even where TimescaleDB is installed.
    timescaledb: Literal["auto", "require", "off"] = "auto"
    compress_after: Duration = timedelta(days=7)
    retention: Duration = timedelta(days=730)
    seismic_retention: Duration = timedelta(days=30)
    connect_timeout: Duration = timedelta(seconds=10)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")) and "=" not in value:
            raise ValueError("must be a libpq URL (postgresql://…) or key=value string")
        return value


class IngestSettings(_Frozen):
    """Decoding limits, batching and backpressure of the ingest path (spec §3)."""

    unknown_stations: Literal["accept", "reject"] = "accept"
    max_age: Duration = timedelta(days=30)
    max_future: Duration = timedelta(minutes=5)
    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    # Messages between the MQTT loop and the writer. When full, the MQTT loop waits:
    # nothing is acknowledged yet, so the broker keeps the backlog (no loss, no OOM).
    queue_size: int = Field(default=10_000, ge=1)
    batch_max_rows: int = Field(default=5_000, ge=1)
    # A partial batch is committed as soon as the queue runs dry; this caps how long the
    # writer lingers for more rows before committing what it has.
    linger: Duration = timedelta(milliseconds=20)
    # One log line per rejected message, at most once per topic per this interval.
    reject_log_interval: Duration = timedelta(seconds=60)
    # Per-station token bucket (messages per second, capacity): a station above it has its
    # messages acknowledged and dropped (kuzet_messages_throttled_total), so one flooding
    # station cannot starve the others. Generous: the busiest station (seismic) sends 1/s.
    # Time advanced by the station's own readings also refills it, so a catch-up backlog
    # is never throttled. 0 turns it off.
    station_rate: float = Field(default=20.0, ge=0)
    station_burst: int = Field(default=200, ge=1)


class HttpSettings(_Frozen):
    """HTTP API and metrics endpoint (spec §7)."""

    listen: str = "127.0.0.1:8321"
    api_token: SecretStr | None = None
    external_url: str | None = None

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= MAX_PORT:
            raise ValueError("must be host:port")
        if not host:
            raise ValueError("must be host:port (host missing)")
        return value

    @property
    def host(self) -> str:
        """Listen address without brackets."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """Listen port."""
        return int(self.listen.rpartition(":")[2])

    @property
    def base_url(self) -> str:
        """The URL under which operators reach this daemon (links in notifications)."""
        return self.external_url or f"http://{self.listen}"


class ShardSettings(_Frozen):
    """This replica's shard among `count` (docs/scaling.md); one shard is an unsharded daemon."""

    count: int = Field(default=1, ge=1, le=1024)
    # Unset with count > 1: the ordinal of a StatefulSet hostname (`kuzet-2` → 2).
    index: int | None = Field(default=None, ge=0)
    # How often a standby retries the leader lock (seismic association, city-wide rules):
    # the failover time after the leader's database session ends.
    leader_poll: Duration = timedelta(seconds=1)
    # How often data extents (seismic) and air flags go to the other shards.
    exchange_interval: Duration = timedelta(seconds=1)
    # wildcard: every shard receives every message and skips other shards' (unknown stations
    # work; receive cost × count). stations: one subscription per owned station of the
    # stations file (receive cost / count; needs ingest.unknown_stations = "reject").
    subscribe: Literal["wildcard", "stations"] = "wildcard"
    # Base URLs of the shards' HTTP servers, by index (e.g. the StatefulSet's pod DNS names):
    # per-station API requests for another shard's station are answered by that shard.
    # Empty: each replica answers from its own memory.
    peers: list[str] = Field(default_factory=list)
    # A live shard adopts the index of a shard whose lease (an advisory lock) has been free
    # this long: it resumes that shard's MQTT session until the shard is back. 0 disables.
    takeover_after: Duration = timedelta(seconds=30)

    @model_validator(mode="before")
    @classmethod
    def _derive_index(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("index") in (None, ""):
            count = str(data.get("count", 1)).strip()
            if not count.isdigit() or int(count) <= 1:
                # one shard is index 0; a bad count is reported by its own field
                return {**data, "index": 0}
            ordinal = ordinal_from_hostname(socket.gethostname())
            if ordinal is None:
                raise ValueError("index unset and the hostname has no StatefulSet ordinal (name-N)")
            return {**data, "index": ordinal}
        return data

    @model_validator(mode="after")
    def _check_index(self) -> ShardSettings:
        if self.index is not None and self.index >= self.count:
            raise ValueError(f"index {self.index} must be below count {self.count}")
        if self.peers and len(self.peers) != self.count:
            raise ValueError(f"peers lists {len(self.peers)} URLs for {self.count} shards")
        for url in self.peers:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"peer {url!r} is not an http(s) URL")
        return self

    @property
    def shard(self) -> Shard:
        """The validated identity."""
        return Shard(self.index or 0, self.count)


class Settings(_Frozen):
    """Everything the daemon needs, validated once at start-up."""

    topic_prefix: str = Field(default="almaty", pattern=r"^[^/#+\s]{1,64}$")
    stations_file: Path | None = None
    log_level: Literal["debug", "info", "warning"] = "info"
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    shard: ShardSettings = Field(default_factory=ShardSettings)
    # Sections owned by other packages (alerts, channels) are validated by them.
    alerts: dict[str, Any] = Field(default_factory=dict)
    channels: dict[str, Any] = Field(default_factory=dict)
    cap: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_shard_subscriptions(self) -> Settings:
        if self.shard.subscribe == "stations" and self.ingest.unknown_stations == "accept":
            raise ValueError(
                'shard.subscribe = "stations" needs ingest.unknown_stations = "reject":'
                " messages of stations missing from the stations file would never be received"
            )
        return self


# Environment variable → dotted key (spec §2). They override the file.
ENV_KEYS: Mapping[str, str] = {
    "KUZET_MQTT_URL": "mqtt.url",
    "KUZET_DATABASE_URL": "database.url",
    "KUZET_HTTP_LISTEN": "http.listen",
    "KUZET_TOPIC_PREFIX": "topic_prefix",
    "KUZET_STATIONS": "stations_file",
    "KUZET_API_TOKEN": "http.api_token",
    "KUZET_WEBHOOK_URL": "channels.webhook.urls",
    "KUZET_LOG_LEVEL": "log_level",
    "KUZET_MQTT_CLIENT_ID": "mqtt.client_id",
    "KUZET_UNKNOWN_STATIONS": "ingest.unknown_stations",
    "KUZET_MAX_AGE": "ingest.max_age",
    "KUZET_SHARD_COUNT": "shard.count",
    "KUZET_SHARD_INDEX": "shard.index",
    "KUZET_SHARD_PEERS": "shard.peers",
}


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def _env_value(name: str, raw: str) -> Any:
    if name in ("KUZET_WEBHOOK_URL", "KUZET_SHARD_PEERS"):
        return [u.strip() for u in raw.split(",") if u.strip()]
    if name == "KUZET_LOG_LEVEL":
        return raw.strip().lower()
    return raw.strip()


def _one_line(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return "; ".join(problems)


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Read the TOML file (if any), apply environment overrides and validate.

    Args:
        path: the TOML file; None reads `KUZET_CONFIG` from `env`, else defaults only.
        env: the environment (passed in, so tests and the CLI decide what it is).

    Raises:
        ConfigError: with one line naming every problem.
    """
    if path is None and env.get("KUZET_CONFIG"):
        path = Path(env["KUZET_CONFIG"])
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for name, dotted in ENV_KEYS.items():
        raw = env.get(name)
        if raw is not None and raw.strip() != "":
            _set_dotted(data, dotted, _env_value(name, raw))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def masked_dict(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data with secrets masked (for check-config)."""
    data = settings.model_dump(mode="json")
    data["mqtt"]["url"] = _mask_url(settings.mqtt.url)
    data["database"]["url"] = _mask_url(settings.database.url)
    # Channel secrets are masked by the channels' own settings models.
    from alerts.channels.settings import load_channel_settings  # noqa: PLC0415 - avoids a cycle

    data["channels"] = load_channel_settings(settings.channels).model_dump(mode="json")
    if settings.http.api_token is not None:
        data["http"]["api_token"] = "********"  # noqa: S105 - the mask, not a secret
    return data


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return parts._replace(netloc=netloc).geturl()
