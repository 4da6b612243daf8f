"""End-to-end OpenID Connect sign-in against npm's oidc-provider on loopback: authorization code with PKCE,
just-in-time membership, the session that results, key rotation at the provider."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from gateway.domain import model as m

from .conftest import Tenant, add_oidc_tenant
from .peer import Browser, OpenIdProvider, new_key


def test_sign_in_creates_the_member_just_in_time_and_starts_a_session(
    tenant: Tenant, browser: Browser, app_services
) -> None:
    response = browser.sign_in(tenant.login_path + "?next=/me", "alice@acme.test")

    assert response.status_code == 303
    assert response.headers["Location"] == "/me"
    me = browser.gateway.get("/me")
    assert me.status_code == 200
    body = me.get_json()
    assert body["email"] == "alice@acme.test"
    assert body["organization"]["slug"] == "acme"
    assert [p["is_default"] for p in body["projects"]] == [True]
    member = app_services.members.list(tenant.org.id)[0][0]
    assert member.joined_via is m.JoinPath.JIT
    actions = [e.action for e in app_services.audit.list(tenant.org.id, limit=20)[0]]
    assert "sign_in.succeeded" in actions and "session.started" in actions


def test_authorization_request_uses_pkce_s256_state_and_nonce(tenant: Tenant, browser: Browser) -> None:
    browser.start(tenant.login_path)
    params = browser.auth_params
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["state"] and params["nonce"]
    assert params["redirect_uri"] == f"http://gateway.test/oidc/{tenant.connection.slug}/callback"
    assert params["client_id"] == tenant.client_id
    assert set(params["scope"].split()) >= {"openid", "email", "profile"}


def test_provider_enforcing_pkce_completes_the_flow(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    """The provider refuses any authorization request without a code challenge, so this sign-in only
    works because the gateway sends one (Authlib sends none unless code_challenge_method is set)."""
    provider.require_pkce(True)
    response = browser.sign_in(tenant.login_path, "bob@acme.test")
    assert response.status_code == 303
    assert browser.gateway.get("/me").status_code == 200
    assert provider.stats()["token"] == 1


def test_key_rotation_at_the_provider_is_followed(
    app, tenant: Tenant, browser: Browser, provider: OpenIdProvider, live_clock
) -> None:
    before = provider.stats()["jwks"]
    assert browser.sign_in(tenant.login_path, "carol@acme.test").status_code == 303
    assert provider.stats()["jwks"] == before + 1
    old = provider.keys[0]
    provider.set_keys([new_key(), old])
    live_clock.advance(minutes=2)  # past the refetch rate limit, inside the cache lifetime

    second = Browser(app.test_client())
    response = second.sign_in(tenant.login_path, "carol@acme.test")

    assert response.status_code == 303, response.get_data(as_text=True)
    assert provider.stats()["jwks"] == before + 2
    assert second.gateway.get("/me").get_json()["email"] == "carol@acme.test"


def test_next_is_kept_through_the_provider(tenant: Tenant, browser: Browser) -> None:
    response = browser.sign_in(tenant.login_path + "?next=/me%3Fview%3Dfull", "dan@acme.test")
    assert response.headers["Location"] == "/me?view=full"


def test_groups_claim_maps_to_the_admin_role(
    app, provider: OpenIdProvider, live_clock, browser: Browser, app_services
) -> None:
    tenant = add_oidc_tenant(
        app, provider, slug="globex", domain="globex.test", preset="okta", admin_groups=["gw-admins"]
    )
    provider.set_accounts({"erin@globex.test": {"groups": ["staff", "gw-admins"]}})
    browser.sign_in(tenant.login_path, "erin@globex.test")
    assert browser.gateway.get("/me").get_json()["role"] == "admin"


def test_callback_redirect_uri_is_per_connection(
    app, provider: OpenIdProvider, live_clock, browser: Browser
) -> None:
    first = add_oidc_tenant(app, provider, slug="one", domain="one.test")
    second = add_oidc_tenant(app, provider, slug="two", domain="two.test")
    browser.start(first.login_path)
    uri_one = browser.auth_params["redirect_uri"]
    browser.start(second.login_path)
    assert uri_one != browser.auth_params["redirect_uri"]
    assert urlsplit(uri_one).path == f"/oidc/{first.connection.slug}/callback"
    assert parse_qs(urlsplit(browser.authorize_url).query)["client_id"] == [second.client_id]


def test_thin_id_token_is_completed_from_userinfo(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    """Okta-style: with an access token issued, email and groups are only at the userinfo endpoint."""
    provider.thin_id_tokens(True)
    provider.set_accounts({"fay@acme.test": {"given_name": "Fay", "family_name": "Lin"}})
    response = browser.sign_in(tenant.login_path, "fay@acme.test")
    assert response.status_code == 303, response.get_data(as_text=True)
    me = browser.gateway.get("/me").get_json()
    assert me["email"] == "fay@acme.test" and me["given_name"] == "Fay"


def test_userinfo_about_another_person_is_refused(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    provider.thin_id_tokens(True)
    browser.start(tenant.login_path)
    callback = browser.authenticate("fay@acme.test")
    now = int(time.time())
    forged = {
        "iss": provider.issuer,
        "aud": tenant.client_id,
        "sub": "someone-else",
        "nonce": browser.auth_params["nonce"],
        "iat": now,
        "exp": now + 300,
    }
    provider.override_next_id_token(provider.forge(forged))
    response = browser.finish(callback)
    assert response.status_code == 403 and "Reason: userinfo_mismatch" in response.get_data(as_text=True)
    assert browser.gateway.get("/me").status_code == 401


def test_groups_missing_from_a_thin_id_token_come_from_userinfo(
    app, provider: OpenIdProvider, live_clock, browser: Browser
) -> None:  # type: ignore[no-untyped-def]
    tenant = add_oidc_tenant(
        app, provider, slug="initrode", domain="initrode.test", preset="okta", admin_groups=["gw-admins"]
    )
    provider.thin_id_tokens(True)
    provider.set_accounts({"gus@initrode.test": {"groups": ["gw-admins"]}})
    browser.sign_in(tenant.login_path, "gus@initrode.test")
    assert browser.gateway.get("/me").get_json()["role"] == "admin"
