"""The `[channels]` section: validation, secrets from files and the environment, masking."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from alerts.channels import SECRET_ENV, load_channel_settings
from collector.config import ConfigError
from tests.unit.channels.push_keys import vapid_pem

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "kuzet.example.toml"


def test_secret_from_file(tmp_path: Path) -> None:
    # a mounted secret ends with a newline; it is stripped
    token = tmp_path / "telegram_token"
    token.write_text("123:abc\n", encoding="utf-8")
    settings = load_channel_settings({"telegram": {"token_file": str(token), "chats": ["1"]}})
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:abc"


@pytest.mark.parametrize(
    ("section", "env", "expected"),
    [
        # the environment overrides the file's inline value
        ({"token": "from-file"}, {"KUZET_TELEGRAM_TOKEN": "from-env"}, "from-env"),
        # … and its *_file, which is then not read at all
        ({"token_file": "/nonexistent"}, {"KUZET_TELEGRAM_TOKEN": "from-env"}, "from-env"),
        # an empty variable is unset
        ({"token": "from-file"}, {"KUZET_TELEGRAM_TOKEN": " "}, "from-file"),
        # no section at all: the variable alone is enough
        (None, {"KUZET_TELEGRAM_TOKEN": "from-env"}, "from-env"),
    ],
)
def test_secret_from_env(
    section: dict[str, Any] | None, env: dict[str, str], expected: str
) -> None:
    data = {"telegram": section} if section is not None else {}
    settings = load_channel_settings(data, env)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == expected


def test_every_secret_env_names_a_secret_field() -> None:
    # a typo in SECRET_ENV would silently ignore the variable
    for name, (channel, key) in SECRET_ENV.items():
        settings = load_channel_settings({}, {name: vapid_pem() if "VAPID" in name else "v"})
        value = getattr(getattr(settings, channel), key)
        assert value is not None, name


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        # typos are errors, not silently ignored keys
        ({"telegram": {"chat": ["1"]}}, "channels.telegram.chat: Extra inputs"),
        ({"telegram": {"token": "x", "token_file": "/x"}}, "token or token_file, not both"),
        ({"telegram": {"token_file": "/nonexistent/token"}}, "cannot read /nonexistent/token"),
        ({"telegram": {"chats": ["1"]}}, "chats need a token"),
        ({"telegram": {"token": "x", "chats": ["me"]}}, "chat_id"),  # neither id nor @name
        ({"telegram": {"token": "x", "chats": [{"chat_id": "1", "lang": "de"}]}}, "lang"),
        ({"telegram": {"api_base": "api.telegram.org"}}, "not an http(s) URL"),
        ({"email": {"to": ["a@b.kz"]}}, "recipients need a sender"),
        ({"email": {"from": "a@b.kz", "to": ["a@b.kz\r\nBcc: x@y.kz"]}}, "plain e-mail address"),
        ({"email": {"from": "a@b.kz\nBcc: x@y.kz"}}, "one line"),
        ({"email": {"from": "a@b.kz", "to": ["c@d.kz"], "password": "x"}}, "without username"),
        ({"email": {"security": "ssl"}}, "channels.email.security"),
        ({"ntfy": {"topics": ["has space"]}}, "channels.ntfy.topics.0.topic"),
        ({"alertmanager": {"urls": ["am:9093"]}}, "not an http(s) URL"),
        ({"webhook": {"min_severity": "major"}}, "channels.webhook.min_severity"),
        ({"mqtt": {"kinds": ["weather"]}}, "channels.mqtt.kinds.0"),  # not a kind of alert
        ({"ntfy": {"rate_limit": 0}}, "channels.ntfy.rate_limit"),
        ({"webpush": {"enabled": True}}, "needs vapid_private_key"),
        (
            {"webpush": {"enabled": True, "vapid_private_key": "junk", "subject": "mailto:a@b.kz"}},
            "VAPID",
        ),
        (
            {"webpush": {"enabled": True, "vapid_private_key": vapid_pem(), "subject": "ops"}},
            "subject",
        ),
    ],
)
def test_invalid_sections(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_channel_settings(section)
    assert problem in str(info.value)


def test_email_defaults_and_alias() -> None:
    settings = load_channel_settings({"email": {"from": "Kuzet <a@b.kz>", "to": ["c@d.kz"]}})
    assert settings.email.sender == "Kuzet <a@b.kz>"
    assert settings.email.effective_port == 587  # STARTTLS submission
    tls = load_channel_settings({"email": {"security": "tls"}})
    assert tls.email.effective_port == 465


def test_dump_masks_secrets() -> None:
    # check-config prints the section: no secret may appear
    settings = load_channel_settings(
        {"telegram": {"token": "123:abc"}, "ntfy": {"token": "tk_x"}},
        {"KUZET_SMTP_PASSWORD": "smtp-pw-1", "KUZET_VAPID_PRIVATE_KEY": "vapid-key-1"},
    )
    dumped = str(settings.model_dump(mode="json"))
    for secret in ("123:abc", "tk_x", "smtp-pw-1", "vapid-key-1"):
        assert secret not in dumped


# A commented example line: a table header or `key = value`.
EXAMPLE_LINE = re.compile(r"^# (\[channels\.[a-z]+\]|[a-z_]+ = .*)$")


def test_example_configuration_is_valid() -> None:
    # deploy/kuzet.example.toml documents every key: as shipped (all commented) it loads to
    # the defaults, and its uncommented examples load too
    text = EXAMPLE.read_text(encoding="utf-8")
    assert load_channel_settings(tomllib.loads(text).get("channels", {})) == load_channel_settings(
        {}
    )
    block = text[text.index("# --- channels") : text.index("# --- end of channels")]
    lines = [m.group(1) for m in map(EXAMPLE_LINE.match, block.splitlines()) if m]
    examples = tomllib.loads("\n".join(lines))["channels"]
    for table, key in (
        ("telegram", "token"),
        ("email", "password"),
        ("ntfy", "token"),
        ("alertmanager", "token"),
        ("webpush", "vapid_private_key"),
    ):
        examples[table].pop(f"{key}_file")  # the files do not exist here
    examples["webpush"].update(enabled=True, vapid_private_key=vapid_pem())
    settings = load_channel_settings(examples, {"KUZET_TELEGRAM_TOKEN": "1:x"})
    assert [c.chat_id for c in settings.telegram.chats] == ["-1001234567890", "@almaty_alerts"]
    assert settings.email.to[1].kinds == ["seismic", "lake"]
    assert settings.alertmanager.firing_ttl.total_seconds() == 5 * 3600
    assert settings.webpush.allowed_origins == ["https://alerts.example.kz"]
