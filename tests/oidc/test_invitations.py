"""Invitation sign-in through the platform login provider (npm's oidc-provider on loopback): the link, the
sign-in, acceptance bound to the provider's verified email, and every refusal, each without a member session."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.oidc.platform import PlatformLogin
from gateway.services import Services
from tests.signout import sign_out

from .conftest import CLI, add_oidc_tenant
from .peer import Browser, OpenIdProvider, new_key
from .test_refusals import b64

INVITED = "ivy@initech.test"


@pytest.fixture
def org(app_services: Services, live_clock) -> m.Organization:  # type: ignore[no-untyped-def]
    return app_services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI, slug="initech").org


@pytest.fixture
def link(app_services: Services, org: m.Organization) -> str:
    token = app_services.invitations.create(org.id, INVITED, m.Role.MEMBER, CLI).token
    return f"/invitations/accept?token={token}"


def sign_in_url(browser: Browser, link: str) -> str:
    page = browser.gateway.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    start = html.index('href="/login/platform?') + len('href="')
    return html[start : html.index('"', start)].replace("&amp;", "&")


def member_signed_in(client: FlaskClient) -> dict[str, Any] | None:
    response = client.get("/me")
    return response.get_json() if response.status_code == 200 else None


def test_invited_person_signs_in_and_joins_the_default_project(
    browser: Browser, link: str, platform: PlatformLogin, app_services: Services, org
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    response = browser.finish(browser.authenticate(INVITED))

    assert response.status_code == 303 and response.headers["Location"] == "/me"
    me = member_signed_in(browser.gateway)
    assert me is not None and me["email"] == INVITED and me["organization"]["id"] == org.id
    assert [p["name"] for p in me["projects"]] == ["Default Project"]
    member = app_services.members.list(org.id)[0][0]
    assert member.joined_via is m.JoinPath.INVITATION
    invitation = app_services.invitations.list(org.id)[0][0]
    assert invitation.status is m.InvitationStatus.ACCEPTED


def test_invitation_page_names_the_organization_and_the_provider(
    browser: Browser, link: str, platform: PlatformLogin
) -> None:
    html = browser.gateway.get(link).get_data(as_text=True)
    assert "Initech" in html and "Loopback ID" in html and "i***@initech.test" in html


def test_wrong_email_at_the_provider_is_refused(
    browser: Browser, link: str, platform: PlatformLogin, app_services: Services, org
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    response = browser.finish(browser.authenticate("someone.else@initech.test"))

    assert response.status_code == 403
    assert "Reason: invitation_email_mismatch" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None
    assert app_services.invitations.list(org.id)[0][0].status is m.InvitationStatus.PENDING


def test_unverified_email_at_the_provider_is_refused(
    browser: Browser, link: str, platform: PlatformLogin, provider: OpenIdProvider
) -> None:
    provider.set_accounts({INVITED: {"email_verified": False}})
    browser.start(sign_in_url(browser, link))
    response = browser.finish(browser.authenticate(INVITED))
    assert response.status_code == 403 and "Reason: email_unverified" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None


def test_expired_link_gets_a_clear_page(
    browser: Browser, link: str, platform: PlatformLogin, live_clock
) -> None:  # type: ignore[no-untyped-def]
    live_clock.advance(days=7, seconds=1)
    response = browser.gateway.get(link)
    assert response.status_code == 403
    assert "This invitation has expired" in response.get_data(as_text=True)


def test_invitation_expiring_during_sign_in_is_refused(
    browser: Browser, link: str, platform: PlatformLogin, provider: OpenIdProvider, live_clock
) -> None:  # type: ignore[no-untyped-def]
    live_clock.advance(days=7, minutes=-1)
    browser.start(sign_in_url(browser, link))
    callback = browser.authenticate(INVITED)
    live_clock.advance(minutes=2)
    provider.override_next_id_token(provider.forge(platform_claims(browser, provider, platform, live_clock)))
    response = browser.finish(callback)
    assert response.status_code == 403 and "Reason: invitation_expired" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None


def test_revoked_link_is_refused_on_the_page_and_at_the_callback(
    browser: Browser, link: str, platform: PlatformLogin, app_services: Services, org
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    callback = browser.authenticate(INVITED)
    invitation = app_services.invitations.list(org.id)[0][0]
    app_services.invitations.revoke(org.id, invitation.id, CLI)

    response = browser.finish(callback)
    assert response.status_code == 403 and "Reason: invitation_revoked" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None
    assert "This invitation was revoked" in browser.gateway.get(link).get_data(as_text=True)


def test_resent_invitation_kills_the_old_link(
    browser: Browser, link: str, platform: PlatformLogin, app_services: Services, org
) -> None:  # type: ignore[no-untyped-def]
    invitation = app_services.invitations.list(org.id)[0][0]
    app_services.invitations.resend(org.id, invitation.id, CLI)
    response = browser.gateway.get(link)
    assert response.status_code == 404 and "Reason: invitation_invalid" in response.get_data(as_text=True)


def test_used_link_is_refused(app, browser: Browser, link: str, platform: PlatformLogin) -> None:  # type: ignore[no-untyped-def]
    url = sign_in_url(browser, link)
    browser.start(url)
    assert browser.finish(browser.authenticate(INVITED)).status_code == 303

    again = Browser(app.test_client())
    assert "This invitation was already used" in again.gateway.get(link).get_data(as_text=True)
    again.start(url)
    response = again.finish(again.authenticate(INVITED))
    assert response.status_code == 403 and "Reason: invitation_used" in response.get_data(as_text=True)


def test_link_is_refused_in_sso_mode(
    app,
    browser: Browser,
    link: str,
    platform: PlatformLogin,
    provider: OpenIdProvider,
    app_services: Services,
    org,
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    callback = browser.authenticate(INVITED)
    with app.app_context():
        app_services.oidc_connections.add(  # type: ignore[attr-defined]
            org.id,
            CLI,
            issuer=provider.issuer,
            client_id="initech-sso",
            client_secret="s",
            domains=["initech.test"],
        )
    app_services.mode.apply(org.id, m.MembershipMode.SSO, CLI)

    response = browser.finish(callback)
    assert response.status_code == 403 and "Reason: mode_forbids" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None
    assert "Reason: mode_forbids" in browser.gateway.get(link).get_data(as_text=True)


def test_session_captured_before_removal_stops_working_at_once(
    app, browser: Browser, link: str, platform: PlatformLogin, app_services: Services, org
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    browser.finish(browser.authenticate(INVITED))
    me = member_signed_in(browser.gateway)
    assert me is not None
    cookie = browser.gateway.get_cookie("gw_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("gw_session", cookie.value)
    assert thief.get("/me").status_code == 200

    app_services.members.remove(org.id, me["id"], CLI, override=True)

    assert thief.get("/me").status_code == 401
    assert browser.gateway.get("/me").status_code == 401


def test_existing_member_signs_in_with_the_platform_provider(
    app, browser: Browser, link: str, platform: PlatformLogin
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    browser.finish(browser.authenticate(INVITED))

    later = Browser(app.test_client())
    later.start("/login/platform?next=/me")
    response = later.finish(later.authenticate(INVITED))
    assert response.status_code == 303 and response.headers["Location"] == "/me"
    assert member_signed_in(later.gateway)["email"] == INVITED


def test_platform_sign_in_without_membership_explains(browser: Browser, platform: PlatformLogin) -> None:
    browser.start("/login/platform")
    response = browser.finish(browser.authenticate("stranger@nowhere.test"))
    assert response.status_code == 403 and "Reason: not_a_member" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None


def test_platform_sign_in_of_an_sso_org_member_is_sent_to_sso(
    app, provider: OpenIdProvider, live_clock, platform: PlatformLogin
) -> None:  # type: ignore[no-untyped-def]
    tenant = add_oidc_tenant(app, provider)
    first = Browser(app.test_client())
    first.sign_in(tenant.login_path, "alice@acme.test")
    browser = Browser(app.test_client())
    browser.start("/login/platform")
    response = browser.finish(browser.authenticate("alice@acme.test"))
    assert response.status_code == 403 and "Reason: use_sso" in response.get_data(as_text=True)
    assert member_signed_in(browser.gateway) is None


# -- the protocol refusals, on the platform provider's callback ---------------------------------------------
def platform_claims(
    browser: Browser, provider: OpenIdProvider, platform: PlatformLogin, clock, **changes: Any
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    now = int(clock().timestamp())
    base = {
        "iss": provider.issuer, "aud": platform.client_id, "sub": INVITED, "email": INVITED,
        "email_verified": True, "nonce": browser.auth_params["nonce"], "iat": now, "exp": now + 300,
    }  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _unsigned(claims: dict[str, Any], provider: OpenIdProvider) -> str:
    import json

    return f"{b64(json.dumps({'alg': 'none', 'kid': provider.keys[0].kid}).encode())}.{b64(json.dumps(claims).encode())}."


def _hs256_public(claims: dict[str, Any], provider: OpenIdProvider) -> str:
    import hashlib
    import hmac
    import json

    key = provider.keys[0]
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'kid': key.kid}).encode())}.{b64(json.dumps(claims).encode())}"
    )
    signature = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


DEFECTS = {
    "wrong_nonce": (lambda c, p: p.forge({**c, "nonce": "nonce_other"}), "id_token_bad_nonce"),
    "wrong_issuer": (lambda c, p: p.forge({**c, "iss": "https://evil.example"}), "id_token_bad_iss"),
    "wrong_audience": (
        lambda c, p: p.forge({**c, "aud": "other", "azp": "platform-client"}),
        "id_token_bad_aud",
    ),
    "expired": (
        lambda c, p: p.forge({**c, "iat": c["iat"] - 3600, "exp": c["iat"] - 600}),
        "id_token_expired",
    ),
    "alg_none": (_unsigned, "id_token_bad_alg"),
    "hs256_public_key": (_hs256_public, "id_token_bad_alg"),
    "unknown_kid": (lambda c, p: p.forge(c, key=new_key()), "unknown_key"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defective_id_token_does_not_accept_the_invitation(
    defect: str,
    browser: Browser,
    link: str,
    platform: PlatformLogin,
    provider: OpenIdProvider,
    live_clock,
    app_services: Services,
    org,
) -> None:  # type: ignore[no-untyped-def]
    make, code = DEFECTS[defect]
    browser.start(sign_in_url(browser, link))
    callback = browser.authenticate(INVITED)
    provider.override_next_id_token(make(platform_claims(browser, provider, platform, live_clock), provider))

    response = browser.finish(callback)
    assert response.status_code == 403 and f"Reason: {code}" in response.get_data(as_text=True)
    assert "gw_session=" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert member_signed_in(browser.gateway) is None
    assert app_services.invitations.list(org.id)[0][0].status is m.InvitationStatus.PENDING


@pytest.mark.parametrize("mangle", ["drop_state", "wrong_state", "replay", "other_browser"])
def test_bad_state_does_not_accept_the_invitation(
    mangle: str, app, browser: Browser, link: str, platform: PlatformLogin, app_services: Services, org
) -> None:  # type: ignore[no-untyped-def]
    browser.start(sign_in_url(browser, link))
    callback = browser.authenticate(INVITED)
    state = browser.auth_params["state"]
    target = browser
    if mangle == "drop_state":
        callback = callback.replace(f"state={state}", "")
    elif mangle == "wrong_state":
        callback = callback.replace(state, "st_forged")
    elif mangle == "replay":
        assert browser.finish(callback).status_code == 303
        sign_out(browser.gateway)
    else:
        target = Browser(app.test_client())

    response = target.finish(callback)
    assert response.status_code == 400
    assert member_signed_in(target.gateway) is None
    if mangle != "replay":
        assert app_services.invitations.list(org.id)[0][0].status is m.InvitationStatus.PENDING


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "%2F%2Fevil.example", "/%5Cevil.example"],
)
def test_next_cannot_redirect_off_the_gateway_after_accepting(
    target: str, browser: Browser, link: str, platform: PlatformLogin
) -> None:
    url = sign_in_url(browser, link) + "&next=" + quote(target, safe="")
    browser.start(url)
    response = browser.finish(browser.authenticate(INVITED))
    assert response.status_code == 303 and response.headers["Location"] == "/me"
