"""The invitation email: a text and an HTML body from ``gateway/templates/email``, with the accept link built
from the configured public base URL (never from a request's Host header)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
ACCEPT_PATH = "/invitations/accept"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def accept_link(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + ACCEPT_PATH + "?" + urlencode({"token": token})


def human_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return f"{value.day} {value:%B %Y} at {value:%H:%M} UTC"


@dataclass(frozen=True)
class InvitationEmail:
    recipient: str
    org_name: str
    inviter: str
    expires_at: datetime
    link: str

    def subject(self) -> str:
        return f"{self.inviter} invited you to join {self.org_name}"

    def render(self, sender: str, message_id_domain: str | None = None) -> EmailMessage:
        context = {
            "org_name": self.org_name,
            "inviter": self.inviter,
            "link": self.link,
            "expires": human_time(self.expires_at),
            "recipient": self.recipient,
        }
        message = EmailMessage()
        message["Subject"] = self.subject().replace("\r", " ").replace("\n", " ")
        message["From"] = sender
        message["To"] = self.recipient
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=message_id_domain)
        message.set_content(_env.get_template("invitation.txt").render(context))
        message.add_alternative(_env.get_template("invitation.html").render(context), subtype="html")
        return message
