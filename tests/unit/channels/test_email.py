"""The e-mail channel against a real local SMTP server (aiosmtpd) with STARTTLS."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alerts.catalogue import Lang
from alerts.channels.base import DeliveryError
from alerts.channels.email import EmailChannel, EmailConfig, Security
from tests.unit.channels.sample import DESCRIPTION, SUMMARY, element, note

NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
SENDER = "Kuzet <alerts@kuzet.example.kz>"
USER, PASSWORD = "kuzet", "pa55"


@dataclass(frozen=True, slots=True)
class Tls:
    server: ssl.SSLContext
    ca_file: str


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 and the CA file that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return Tls(context, str(cert_file))


@dataclass(slots=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool


@dataclass(slots=True)
class Mailbox:
    """What the server received, and the replies it is told to give instead of 250."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None


class Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.box.rcpt_reply:
            return self.box.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.box.data_reply:
            return self.box.data_reply
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.box.received.append(
            Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), parsed, session.ssl is not None
            )
        )
        return "250 Message accepted"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers 535 itself
    return AuthResult(success=ok, handled=False)


@contextlib.asynccontextmanager
async def smtp_server(tls: Tls, *, auth: bool = False) -> AsyncIterator[Mailbox]:
    """aiosmtpd on 127.0.0.1: STARTTLS required before MAIL, AUTH only over TLS."""
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            Handler(box),
            hostname="localhost",
            tls_context=tls.server,
            require_starttls=True,
            authenticator=authenticate if auth else None,
            auth_required=auth,
            loop=loop,
        ),
        "127.0.0.1",
        0,
    )
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()


def channel(
    port: int,
    tls: Tls | None,
    *,
    security: Security = "starttls",
    username: str | None = None,
    password: str | None = None,
) -> EmailChannel:
    config = EmailConfig(
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        recipients=("duty@example.kz", "akimat@example.kz"),
        security=security,
        username=username,
        password=password,
        ca_file=tls.ca_file if tls else None,
        default_lang="ru",
        langs={"akimat@example.kz": "kk"},
        timeout_s=5,
    )
    return EmailChannel(config, clock=lambda: NOW)


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    return str(plain.get_content()), str(rich.get_content())


async def test_delivers_over_starttls_in_three_languages(tls: Tls) -> None:
    async with smtp_server(tls) as box:
        await channel(box.port, tls).send(note("duty@example.kz"))
    (got,) = box.received
    assert got.over_tls
    assert got.mail_from == "alerts@kuzet.example.kz"
    assert got.rcpt_tos == ["duty@example.kz"]
    message = got.message
    assert message["Subject"] == f"[Kuzet] WARNING: {SUMMARY['ru']}"
    assert message["To"] == "duty@example.kz"
    assert message["From"] == SENDER
    assert message["Message-ID"] == "<kuzet.n42@kuzet.example.kz>"
    assert message["References"] == "<kuzet.alert17@kuzet.example.kz>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = parts(message)
    # the recipient's language first, then the others
    positions = [plain.index(SUMMARY[lang]) for lang in ("ru", "en", "kk")]
    assert positions == sorted(positions)
    assert all(DESCRIPTION[lang] in plain for lang in SUMMARY)
    assert '<section lang="ru">' in rich
    assert '<section lang="kk">' in rich
    assert "http://127.0.0.1:8321/api/v1/alerts/17" in plain


@pytest.mark.parametrize(
    ("recipient", "lang"),
    [
        ("duty@example.kz", "ru"),  # no language of its own: the channel's
        ("akimat@example.kz", "kk"),  # the recipient's language in the subject
    ],
)
async def test_subject_in_the_recipients_language(tls: Tls, recipient: str, lang: Lang) -> None:
    async with smtp_server(tls) as box:
        await channel(box.port, tls).send(note(recipient))
    assert SUMMARY[lang] in box.received[0].message["Subject"]


async def test_crlf_in_a_summary_cannot_inject_headers(tls: Tls) -> None:
    # a value with CR/LF would start a new header (Bcc) if it reached the header verbatim
    evil = "Smoke\r\nBcc: victim@example.com\r\nX-Evil: 1"
    alert = element(summary={"en": evil, "ru": evil, "kk": evil})
    async with smtp_server(tls) as box:
        await channel(box.port, tls).send(note("duty@example.kz", alert))
    (got,) = box.received
    assert got.rcpt_tos == ["duty@example.kz"]
    assert got.message["Bcc"] is None
    assert got.message["X-Evil"] is None
    subject = str(got.message["Subject"])
    assert "\r" not in subject
    assert "\n" not in subject
    assert "Smoke Bcc: victim@example.com X-Evil: 1" in subject


async def test_html_part_escapes_values(tls: Tls) -> None:
    # markup in an alert value is shown as text, not rendered
    alert = element(description={"en": "<img src=x onerror=alert(1)>", "ru": "a & b", "kk": "<"})
    async with smtp_server(tls) as box:
        await channel(box.port, tls).send(note("duty@example.kz", alert))
    _, rich = parts(box.received[0].message)
    assert "<img" not in rich
    assert "&lt;img src=x onerror=alert(1)&gt;" in rich
    assert "a &amp; b" in rich


async def test_login_over_tls(tls: Tls) -> None:
    async with smtp_server(tls, auth=True) as box:
        await channel(box.port, tls, username=USER, password=PASSWORD).send(note("duty@example.kz"))
    assert len(box.received) == 1


@dataclass(frozen=True, slots=True)
class Case:
    rcpt_reply: str | None = None
    data_reply: str | None = None
    security: Security = "starttls"
    trusted: bool = True
    password: str | None = None


@pytest.mark.parametrize(
    ("case", "retryable"),
    [
        (Case(rcpt_reply="450 4.2.1 Mailbox busy"), True),  # transient 4xx: try again
        (Case(rcpt_reply="550 5.1.1 No such user"), False),  # permanent 5xx
        (Case(data_reply="451 4.3.0 Try again later"), True),  # greylisting and the like
        (Case(data_reply="554 5.7.1 Rejected as spam"), False),
        # plain SMTP to a server that demands STARTTLS: 530, a configuration error
        (Case(security="none"), False),
        # a certificate we do not trust: configuration, not a transient fault
        (Case(trusted=False), False),
        # wrong password: 535
        (Case(password="wrong"), False),  # noqa: S106 - a test value
    ],
)
async def test_failure_classification(tls: Tls, case: Case, retryable: bool) -> None:
    async with smtp_server(tls, auth=case.password is not None) as box:
        box.rcpt_reply = case.rcpt_reply
        box.data_reply = case.data_reply
        mail = channel(
            box.port,
            tls if case.trusted else None,
            security=case.security,
            username=USER if case.password else None,
            password=case.password,
        )
        with pytest.raises(DeliveryError) as info:
            await mail.send(note("duty@example.kz"))
    assert info.value.retryable is retryable
    assert box.received == []


async def test_connection_refused_is_retryable(tls: Tls) -> None:
    # nothing listens on port 9: the server may be back later
    with pytest.raises(DeliveryError) as info:
        await channel(9, tls).send(note("duty@example.kz"))
    assert info.value.retryable is True


def test_targets_are_the_recipients(tls: Tls) -> None:
    # one outbox row per recipient
    assert channel(25, tls).targets() == ("duty@example.kz", "akimat@example.kz")


def test_ca_file_must_exist() -> None:
    # the CA file is read when the channel is built, so a wrong path fails at start-up
    config = EmailConfig(host="x", port=25, sender=SENDER, recipients=(), ca_file="/nonexistent")
    with pytest.raises(FileNotFoundError):
        EmailChannel(config)
