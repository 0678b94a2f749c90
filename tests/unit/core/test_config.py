from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from collector.config import ConfigError, load_settings, masked_dict


def test_defaults_without_file_or_env() -> None:
    # spec §2: every variable has a default and no file is needed
    s = load_settings(None, {})
    assert s.mqtt.url == "mqtt://127.0.0.1:1883"
    assert s.database.url == "postgresql://localhost/kuzet"
    assert s.http.listen == "127.0.0.1:8321"
    assert s.topic_prefix == "almaty"
    assert s.ingest.unknown_stations == "accept"
    assert s.ingest.max_age == timedelta(days=30)
    assert s.mqtt.client_id.startswith("kuzet-")
    assert s.http.api_token is None


@pytest.mark.parametrize(
    ("env", "check"),
    [
        # each KUZET_* variable of spec §2 lands on its setting
        (
            {"KUZET_MQTT_URL": "mqtts://u:p@broker:8883"},
            lambda s: (
                (s.mqtt.host, s.mqtt.port, s.mqtt.tls, s.mqtt.username, s.mqtt.password)
                == ("broker", 8883, True, "u", "p")
            ),
        ),
        (
            {"KUZET_DATABASE_URL": "postgresql://db/k"},
            lambda s: s.database.url == "postgresql://db/k",
        ),
        (
            {"KUZET_HTTP_LISTEN": "0.0.0.0:9000"},
            lambda s: (s.http.host, s.http.port) == ("0.0.0.0", 9000),
        ),
        ({"KUZET_TOPIC_PREFIX": "kz"}, lambda s: s.topic_prefix == "kz"),
        ({"KUZET_STATIONS": "/x/st.toml"}, lambda s: s.stations_file == Path("/x/st.toml")),
        (
            {"KUZET_API_TOKEN": "sekret"},
            lambda s: (
                s.http.api_token is not None and s.http.api_token.get_secret_value() == "sekret"
            ),
        ),
        (
            {"KUZET_WEBHOOK_URL": "http://a/x, http://b/y"},
            lambda s: s.channels["webhook"]["urls"] == ["http://a/x", "http://b/y"],
        ),
        ({"KUZET_LOG_LEVEL": "DEBUG"}, lambda s: s.log_level == "debug"),
        ({"KUZET_MQTT_CLIENT_ID": "kuzet-a"}, lambda s: s.mqtt.client_id == "kuzet-a"),
        ({"KUZET_UNKNOWN_STATIONS": "reject"}, lambda s: s.ingest.unknown_stations == "reject"),
        ({"KUZET_MAX_AGE": "48h"}, lambda s: s.ingest.max_age == timedelta(hours=48)),
        # an empty variable means "not set", not "empty value"
        ({"KUZET_TOPIC_PREFIX": ""}, lambda s: s.topic_prefix == "almaty"),
    ],
)
def test_environment_overrides(env: dict[str, str], check: object) -> None:
    assert callable(check)
    assert check(load_settings(None, env))


def test_env_overrides_file(tmp_path: Path) -> None:
    # the file sets a value, the environment wins
    f = tmp_path / "k.toml"
    f.write_text('topic_prefix = "file"\n[ingest]\nmax_age = "7d"\n')
    s = load_settings(f, {"KUZET_TOPIC_PREFIX": "env"})
    assert s.topic_prefix == "env"
    assert s.ingest.max_age == timedelta(days=7)


def test_kuzet_config_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "k.toml"
    f.write_text('log_level = "warning"\n')
    assert load_settings(None, {"KUZET_CONFIG": str(f)}).log_level == "warning"


@pytest.mark.parametrize(
    ("text", "env", "fragment"),
    [
        # a typo in a key is an error, not a silent default
        ("[ingest]\nmax_agee = '1d'\n", {}, "ingest.max_agee"),
        # a bad MQTT scheme
        ("", {"KUZET_MQTT_URL": "http://x"}, "mqtt.url"),
        # a bad duration
        ("", {"KUZET_MAX_AGE": "forever"}, "ingest.max_age"),
        # an unknown enum value
        ("", {"KUZET_UNKNOWN_STATIONS": "maybe"}, "ingest.unknown_stations"),
        # listen needs host:port
        ("", {"KUZET_HTTP_LISTEN": "8321"}, "http.listen"),
        # broken TOML
        ("topic_prefix = ", {}, "not valid TOML"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, text: str, env: dict[str, str], fragment: str) -> None:
    f = tmp_path / "k.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(f, env)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", {})


def test_secrets_are_masked() -> None:
    s = load_settings(
        None,
        {
            "KUZET_MQTT_URL": "mqtt://user:topsecret@b:1883",
            "KUZET_DATABASE_URL": "postgresql://kuzet:dbsecret@db/kuzet",
            "KUZET_API_TOKEN": "tokensecret",
        },
    )
    text = repr(masked_dict(s))
    for secret in ("topsecret", "dbsecret", "tokensecret"):
        assert secret not in text
    assert "user:********@b" in text
