"""Invitations in the console: send one or many, links shown once, expiry, revoke, resend, SSO mode."""

from __future__ import annotations

import re

from console_helpers import CLI, Org, field_error, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def _links(body: str) -> list[str]:
    return re.findall(r'value="(http://gateway\.test/invitations/accept\?token=[^"]+)"', body)


def test_sending_to_many_addresses_shows_each_link_once(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    response = post(
        admin_client, "/admin/invitations", {"emails": "bob@acme.test, Carol@acme.test\nbob@acme.test"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    links = _links(response.get_data(as_text=True))
    assert len(links) == 2
    token = links[0].split("token=")[1]
    assert app_services.invitations.peek(token).email == "bob@acme.test"
    listing = admin_client.get("/admin/invitations")
    assert _links(listing.get_data(as_text=True)) == []
    words = text_of(listing)
    assert "bob@acme.test member pending 2026-11-02 09:00 UTC 2026-11-09 09:00 UTC" in words
    assert "carol@acme.test" in words


def test_one_bad_address_sends_nothing_and_is_named_next_to_the_field(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    response = post(admin_client, "/admin/invitations", {"emails": "bob@acme.test\nnot-an-email"})
    assert response.status_code == 400
    assert "Not an email address: not-an-email. Nothing was sent" in (field_error(response, "emails") or "")
    assert "not-an-email" in response.get_data(as_text=True)  # the typed list is kept for correction
    assert app_services.invitations.list(acme.id)[1] == 0
    empty = post(admin_client, "/admin/invitations", {"emails": "  "})
    assert "at least one email" in (field_error(empty, "emails") or "")


def test_addresses_that_cannot_be_invited_are_reported_one_by_one(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI)
    response = post(
        admin_client, "/admin/invitations", {"emails": "bob@acme.test admin@acme.test dan@acme.test"}
    )
    words = text_of(response)
    assert "2 of 3 invitation(s) were not sent" in (field_error(response, "emails") or "")
    assert "resend it instead" in words and "already a member" in words
    assert len(_links(response.get_data(as_text=True))) == 1


def test_revoke_and_resend(admin_client: FlaskClient, app_services: Services, acme: Org) -> None:
    first = app_services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI)
    resent = post(
        admin_client, f"/admin/invitations/{first.invitation.id}/resend", token_from="/admin/invitations"
    )
    links = _links(resent.get_data(as_text=True))
    assert len(links) == 1 and first.token not in links[0]
    assert app_services.invitations.get(acme.id, first.invitation.id).send_count == 2

    response = post(
        admin_client, f"/admin/invitations/{first.invitation.id}/revoke", token_from="/admin/invitations"
    )
    assert response.status_code == 303
    assert "is revoked" in text_of(admin_client.get(response.headers["Location"]))
    assert app_services.invitations.get(acme.id, first.invitation.id).status is m.InvitationStatus.REVOKED
    again = post(
        admin_client, f"/admin/invitations/{first.invitation.id}/revoke", token_from="/admin/invitations"
    )
    assert again.status_code == 409 and "revoked, not pending" in text_of(again)


def test_expired_invitations_are_shown_as_expired(
    admin_client: FlaskClient, app_services: Services, acme: Org, clock
) -> None:
    app_services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI)
    clock.advance(days=8)
    sign_in(admin_client, app_services, acme.id, acme.admin.id)  # the earlier session timed out meanwhile
    app_services.invitations.create(acme.id, "carol@acme.test", m.Role.MEMBER, CLI)
    assert "bob@acme.test member expired" in text_of(admin_client.get("/admin/invitations"))
    expired = text_of(admin_client.get("/admin/invitations?status=expired"))
    assert "bob@acme.test" in expired and "carol@acme.test" not in expired
    pending = text_of(admin_client.get("/admin/invitations?status=pending"))
    assert "carol@acme.test" in pending and "bob@acme.test" not in pending


def test_in_sso_mode_the_page_explains_and_offers_no_form(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    sign_in(client, app_services, globex.id, globex.admin.id)
    page = client.get("/admin/invitations")
    assert "invitations cannot be sent, resent or accepted" in text_of(page)
    assert 'name="emails"' not in page.get_data(as_text=True)
    response = post(client, "/admin/invitations", {"emails": "bob@globex.test"})
    assert "SSO mode" in text_of(response)
    assert app_services.invitations.list(globex.id)[1] == 0
