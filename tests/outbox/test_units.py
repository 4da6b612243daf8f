"""Pure parts of the outbox: retry schedule, Standard Webhooks signatures, sealing, the email
configuration and the invitation email's rendering. No database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.outbox import signing
from gateway.outbox.emails import InvitationEmail, accept_link
from gateway.outbox.events import EVENT_TYPES, event_type_for
from gateway.outbox.mailer import load_email_config
from gateway.outbox.retry import RetryPolicy
from gateway.outbox.sealing import Sealer, SealError
from gateway.settings import SettingsError


def test_backoff_doubles_is_capped_jittered_then_dead() -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(minutes=1), max_attempts=5, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(minutes=1),
        None,
    ]
    jittered = RetryPolicy(base=timedelta(seconds=10), jitter=0.5, rand=lambda: 1.0)
    assert jittered.delay(1) == timedelta(seconds=5)
    assert RetryPolicy(base=timedelta(seconds=10), jitter=0.5, rand=lambda: 0.0).delay(1) == timedelta(
        seconds=10
    )
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_signatures_verify_with_the_standardwebhooks_package() -> None:
    secret = signing.new_secret()
    now = int(datetime.now(UTC).timestamp())
    body = '{"type":"member.created","data":{"email":"ada@acme.test"}}'
    headers = signing.headers(secret, "evt_1", now, body)
    assert Webhook(secret).verify(body, headers) == {
        "type": "member.created",
        "data": {"email": "ada@acme.test"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("ada", "eve"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_sealed_values_open_only_with_the_same_key() -> None:
    sealed = Sealer("key-one").seal("inv_token")
    assert "inv_token" not in sealed
    assert Sealer("key-one").open(sealed) == "inv_token"
    with pytest.raises(SealError, match="GATEWAY_SECRET_KEY"):
        Sealer("key-two").open(sealed)


def test_email_config_reads_the_file_then_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "email.toml"
    path.write_text('[smtp]\nhost = "smtp.example.com"\nport = 587\nsender = "A <a@example.com>"\n')
    config = load_email_config(
        environ={"GATEWAY_SMTP_PORT": "2525", "GATEWAY_SMTP_PASSWORD": "pw", "GATEWAY_SMTP_SECURITY": "tls"},
        path=path,
    )
    assert (config.host, config.port, config.security, config.password) == (
        "smtp.example.com",
        2525,
        "tls",
        "pw",
    )
    assert "pw" not in repr(config)
    with pytest.raises(SettingsError, match="integer"):
        load_email_config(environ={"GATEWAY_SMTP_PORT": "many"}, path=path)
    with pytest.raises(SettingsError, match="SECURITY"):
        load_email_config(environ={"GATEWAY_SMTP_SECURITY": "ssl3"}, path=path)
    assert load_email_config(environ={}).security == "starttls", "the shipped gateway/config/email.toml loads"


def test_the_invitation_email_escapes_names_in_html_and_builds_the_link_from_the_public_url() -> None:
    link = accept_link("https://id.example.com/", "inv_abc+/=")
    assert link == "https://id.example.com/invitations/accept?token=inv_abc%2B%2F%3D"
    message = InvitationEmail(
        recipient="bob@acme.test",
        org_name="<Acme & Co>",
        inviter="Ada",
        expires_at=datetime(2026, 12, 9, 9, 30, tzinfo=UTC),
        link=link,
    ).render("Gateway <no-reply@example.com>")
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "&lt;Acme &amp; Co&gt;" in html and "<Acme & Co>" not in html
    assert "<Acme & Co>" in text and link in text
    assert "9 December 2026 at 09:30 UTC" in text


def test_audit_actions_map_to_published_event_types() -> None:
    assert event_type_for("member.joined") == "member.created"
    assert event_type_for("invitation.resent") == "invitation.sent"
    assert event_type_for("member.something_new") == "member.updated"
    assert event_type_for("sign_in.succeeded") is None
    assert event_type_for("session.started") is None
    assert {"member.created", "invitation.expired", "mode.switched", "scim_token.revoked"} <= set(EVENT_TYPES)
