"""The SMTP mailer against a real aiosmtpd server on loopback: STARTTLS with credentials from configuration,
and how refusals are classified (a refused recipient is permanent, an unreachable server is not)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.domain import model as m
from gateway.outbox.mailer import EmailConfig, MailError, SmtpMailer
from gateway.storage.outbox_tables import MessageKind, MessageStatus

from .conftest import CLI, Inbox, Outbox, free_port


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Accounts:
    def __init__(self, username: str, password: str) -> None:
        self.expected = (username.encode(), password.encode())
        self.logins: list[bytes] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == self.expected:
            self.logins.append(auth_data.login)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[Controller, Inbox, Accounts, Path]]:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox, accounts = Inbox(), Accounts("gateway", "s3cret")
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), tls_context=server_tls, require_starttls=True,
        authenticator=accounts, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    yield controller, inbox, accounts, cert
    controller.stop()


def message(to: str = "bob@acme.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Gateway <no-reply@gateway.test>", to, "hello"
    msg.set_content("hello")
    return msg


def test_starttls_with_credentials_from_configuration(tls_smtp: Any) -> None:
    controller, inbox, accounts, cert = tls_smtp
    config = EmailConfig(
        host="127.0.0.1", port=controller.port, security="starttls", username="gateway", password="s3cret",
        sender="Gateway <no-reply@gateway.test>",
    )  # fmt: skip
    SmtpMailer(config, tls_context=ssl.create_default_context(cafile=str(cert))).send(message())
    assert [str(msg["To"]) for msg in inbox.messages] == ["bob@acme.test"]
    assert accounts.logins == [b"gateway"]


def test_a_wrong_password_or_an_untrusted_certificate_is_a_retryable_failure(tls_smtp: Any) -> None:
    controller, inbox, _, cert = tls_smtp
    base = dict(host="127.0.0.1", port=controller.port, security="starttls", username="gateway")
    with pytest.raises(MailError) as wrong:
        SmtpMailer(EmailConfig(**base, password="nope"), ssl.create_default_context(cafile=str(cert))).send(
            message()
        )
    assert not wrong.value.permanent and wrong.value.status_code == 535
    with pytest.raises(MailError) as untrusted:
        SmtpMailer(EmailConfig(**base, password="s3cret")).send(message())  # system CAs: not trusted
    assert not untrusted.value.permanent
    assert inbox.messages == []


class RefusingInbox(Inbox):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 no such mailbox"


def test_a_refused_recipient_is_dead_at_once(outbox: Outbox) -> None:
    controller = Controller(RefusingInbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mailer = SmtpMailer(EmailConfig(host="127.0.0.1", port=controller.port, security="none"))
        org = outbox.org()
        outbox.services.invitations.create(org.id, "ghost@acme.test", m.Role.MEMBER, CLI)
        outbox.worker(mailer).drain()
    finally:
        controller.stop()
    [dead], _ = outbox.webhooks.deliveries(org.id, kind=MessageKind.EMAIL)
    assert dead.status is MessageStatus.DEAD and dead.attempts == 1 and dead.last_status_code == 550
    assert dead.sealed_token, "kept sealed so an Admin can replay it while the invitation is pending"
