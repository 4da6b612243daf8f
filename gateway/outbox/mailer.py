"""Sending email: over SMTP (STARTTLS or implicit TLS, optional AUTH) or, in development without an SMTP host,
into a local Maildir mailbox in the instance folder that ``gateway mailbox`` shows.

Configuration comes from ``gateway/config/email.toml``, overridden by ``GATEWAY_SMTP_*`` environment variables."""

from __future__ import annotations

import email.policy
import logging
import mailbox
import os
import smtplib
import ssl
import tomllib
from dataclasses import dataclass, fields
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from gateway.settings import Settings, SettingsError, config_file

log = logging.getLogger("gateway.outbox.mail")

SECURITY_MODES = ("starttls", "tls", "none")


class MailError(Exception):
    """Sending failed. ``permanent`` means retrying cannot help (the server refused the address for good)."""

    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


class Mailer(Protocol):
    sender: str

    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class EmailConfig:
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = "Identity Gateway <no-reply@localhost>"
    timeout_seconds: int = 15

    def __repr__(self) -> str:
        return f"EmailConfig(host={self.host!r}, port={self.port}, security={self.security!r}, sender={self.sender!r})"


def load_email_config(
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    path: Path | None = None,
) -> EmailConfig:
    """``gateway/config/email.toml``'s ``[smtp]`` table, then ``GATEWAY_SMTP_<KEY>`` variables, then ``overrides``."""
    environ = dict(os.environ if environ is None else environ)
    path = path or config_file("email.toml")
    values: dict[str, Any] = {}
    if path.exists():
        with open(path, "rb") as fh:
            values = dict(tomllib.load(fh).get("smtp", {}))
    kinds = {f.name: int if f.type in ("int", int) else str for f in fields(EmailConfig)}
    for name in kinds:
        raw = environ.get(f"GATEWAY_SMTP_{name.upper()}")
        if raw not in (None, ""):
            values[name] = raw
    values.update(overrides or {})
    unknown = set(values) - set(kinds)
    if unknown:
        raise SettingsError(f"unknown email settings: {', '.join(sorted(unknown))}")
    coerced: dict[str, Any] = {}
    for name, raw in values.items():
        try:
            coerced[name] = kinds[name](raw)
        except (TypeError, ValueError):
            raise SettingsError(f"GATEWAY_SMTP_{name.upper()} must be an integer, got {raw!r}") from None
    config = EmailConfig(**coerced)
    if config.security not in SECURITY_MODES:
        raise SettingsError(f"GATEWAY_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
    if not config.sender.strip():
        raise SettingsError("GATEWAY_SMTP_SENDER must not be empty")
    return config


class SmtpMailer:
    def __init__(self, config: EmailConfig, tls_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.sender = config.sender
        self.tls_context = tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "tls":
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_seconds, context=self.tls_context)
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
        if c.security == "starttls":
            smtp.ehlo()
            smtp.starttls(context=self.tls_context)
            smtp.ehlo()
        return smtp

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self.config.username:
                    smtp.login(self.config.username, self.config.password)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise MailError(
                f"the SMTP server refused the recipient ({codes[0] if codes else '?'})",
                permanent=all(500 <= code < 600 for code in codes),
                status_code=codes[0] if codes else None,
            ) from None
        except smtplib.SMTPDataError as exc:
            raise MailError(
                f"the SMTP server rejected the message ({exc.smtp_code})",
                permanent=500 <= exc.smtp_code < 600,
                status_code=exc.smtp_code,
            ) from None
        except smtplib.SMTPResponseException as exc:
            # Authentication, STARTTLS or sender problems are configuration: retry, an operator can fix them.
            raise MailError(f"the SMTP server answered {exc.smtp_code}", status_code=exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(
                f"cannot reach the SMTP server {self.config.host}:{self.config.port}: {exc}"
            ) from None
        if refused:
            raise MailError("the SMTP server refused the recipient", permanent=True)


class MailboxMailer:
    """Development only: a Maildir in the instance folder, so invitation emails can be read without a mail
    server (``gateway mailbox``)."""

    def __init__(self, path: Path, sender: str) -> None:
        self.path = Path(path)
        self.sender = sender

    def send(self, message: EmailMessage) -> None:
        box = mailbox.Maildir(self.path, create=True)
        try:
            box.add(message)
        finally:
            box.close()
        log.info("email saved to the development mailbox", extra={"path": str(self.path)})

    def messages(self) -> list[EmailMessage]:
        if not self.path.exists():
            return []
        box = mailbox.Maildir(self.path, create=False)
        found = []
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            found.append(
                (box.get_message(key).get_date(), message_from_bytes(raw, policy=email.policy.default))
            )
        box.close()
        return [msg for _, msg in sorted(found, key=lambda item: item[0])]  # type: ignore[misc]


def mailbox_path(settings: Settings) -> Path:
    return Path(settings.instance_path) / "mailbox"


def build_mailer(settings: Settings, config: EmailConfig) -> Mailer:
    if config.host:
        return SmtpMailer(config)
    if settings.is_production:
        raise SettingsError("GATEWAY_SMTP_HOST is required in production (invitation emails)")
    return MailboxMailer(mailbox_path(settings), config.sender)
