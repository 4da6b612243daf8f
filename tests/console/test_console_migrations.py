"""Account migrations in the console: a refused invitation offers the request, the Admin previews and
requests, the person confirms with their sign-in, the source Admin approves or refuses."""

from __future__ import annotations

from console_helpers import CLI, Org, make_org, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from tests.conftest import FakeClock

EMAIL = "ada@mail.test"


def personal(services: Services) -> tuple[str, m.Member]:
    view = services.orgs.create("Ada Lovelace", m.MembershipMode.INVITATION, CLI)
    return view.org.id, services.members.add_admin(view.org.id, EMAIL, CLI)


def test_a_refused_invitation_offers_to_request_a_migration(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    personal(app_services)
    sent = post(
        admin_client,
        "/admin/invitations",
        {"emails": EMAIL, "role": "member"},
        token_from="/admin/invitations",
    )
    body = sent.get_data(as_text=True)
    assert "another organization" in text_of(sent)
    assert 'href="/admin/migrations?email=ada@mail.test"' in body and "Request migration" in text_of(sent)
    form = admin_client.get("/admin/migrations?email=ada%40mail.test").get_data(as_text=True)
    assert 'value="ada@mail.test"' in form


def test_preview_then_request_then_the_person_confirms(
    client: FlaskClient, app_services: Services, acme: Org, clock: FakeClock
) -> None:
    source_id, ada = personal(app_services)
    sign_in(client, app_services, acme.id, acme.admin.id)
    preview = post(client, "/admin/migrations", {"email": EMAIL, "role": "admin", "action": "preview"},
                   token_from="/admin/migrations")  # fmt: skip
    page = text_of(preview)
    assert "Moving ada@mail.test into Acme would:" in page and "approval is automatic" in page
    assert app_services.migrations.list(acme.id) == []
    requested = post(client, "/admin/migrations", {"email": EMAIL, "role": "admin", "action": "request"},
                     token_from="/admin/migrations")  # fmt: skip
    assert requested.status_code == 303
    assert "into Acme from another organization admin requested" in text_of(client.get("/admin/migrations"))

    clock.advance(minutes=2)
    person = FlaskClient(client.application)
    sign_in(person, app_services, source_id, ada.id)
    mine = text_of(person.get("/admin/migrations"))
    assert "Acme asks to move your account (ada@mail.test) there as admin" in mine
    migration = app_services.migrations.list(acme.id)[0]
    confirmed = post(person, f"/admin/migrations/{migration.id}/confirm", token_from="/admin/migrations")
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/login")
    assert app_services.migrations.get(acme.id, migration.id).applied_at is not None
    assert app_services.members.list(acme.id, query="ada@")[0][0].role is m.Role.ADMIN


def test_a_session_from_before_the_request_must_sign_in_again(
    client: FlaskClient, app_services: Services, acme: Org, clock: FakeClock
) -> None:
    source_id, ada = personal(app_services)
    sign_in(client, app_services, source_id, ada.id)
    clock.advance(minutes=1)
    migration = app_services.migrations.request(acme.id, EMAIL, CLI)
    post(client, f"/admin/migrations/{migration.id}/confirm", token_from="/admin/migrations")
    assert "signing in again" in text_of(client.get("/admin/migrations"))
    assert app_services.migrations.get(acme.id, migration.id).is_open


def test_the_source_admin_approves_or_refuses(client: FlaskClient, app_services: Services, acme: Org) -> None:
    initech = make_org(app_services, "Initech", m.MembershipMode.INVITATION, "initech.test")
    ada = app_services.members.add_admin(initech.id, EMAIL, CLI)
    app_services.members.change_role(initech.id, ada.id, m.Role.MEMBER, CLI)
    first = app_services.migrations.request(acme.id, EMAIL, CLI)
    sign_in(client, app_services, initech.id, initech.admin.id)
    page = text_of(client.get("/admin/migrations"))
    assert "out to Acme member requested" in page and "Approve" in page
    post(client, f"/admin/migrations/{first.id}/approve", token_from="/admin/migrations")
    assert app_services.migrations.get(initech.id, first.id).approval is not None
    post(client, f"/admin/migrations/{first.id}/refuse", {"reason": "No"}, token_from="/admin/migrations")
    refused = app_services.migrations.get(initech.id, first.id)
    assert (refused.refusal_code, refused.refusal_reason) == ("refused_by_source", "No")
    assert "refused by source: No" in text_of(client.get("/admin/migrations"))


def test_a_member_sees_only_their_own_and_cannot_request(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bob = app_services.members.add_admin(acme.id, "bob@mail2.test", CLI)
    app_services.members.change_role(acme.id, bob.id, m.Role.MEMBER, CLI)
    sign_in(client, app_services, acme.id, bob.id)
    page = text_of(client.get("/admin/migrations"))
    assert "Request a migration" not in page
    refused = post(
        client, "/admin/migrations", {"email": EMAIL, "action": "request"}, token_from="/admin/billing"
    )
    assert refused.status_code == 403


def test_a_refusal_reason_is_shown_next_to_the_field(admin_client: FlaskClient, acme: Org) -> None:
    refused = post(admin_client, "/admin/migrations", {"email": "nobody@mail.test", "action": "request"},
                   token_from="/admin/migrations")  # fmt: skip
    assert refused.status_code == 400
    assert "nothing to migrate" in text_of(refused)
