"""Every sign-in the gateway must refuse, refused with a clear page and no session: bad or replayed
``state``, tokens with the wrong nonce, issuer, audience or lifetime, ``alg=none``, HS256 signed with the
provider's public key, unknown keys; and open redirects through ``next``.

The forged tokens travel the real path: the provider answers the gateway's token request with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.signout import sign_out

from .conftest import CLI, Tenant
from .peer import Browser, OpenIdProvider, new_key


def assert_no_session(client: FlaskClient, response) -> None:  # type: ignore[no-untyped-def]
    assert "gw_session=" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert client.get("/me").status_code == 401


def assert_refused(client: FlaskClient, response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert f"Reason: {code}" in response.get_data(as_text=True)
    assert_no_session(client, response)


def claims(tenant: Tenant, browser: Browser, provider: OpenIdProvider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": provider.issuer,
        "aud": tenant.client_id,
        "sub": "mallory@acme.test",
        "email": "mallory@acme.test",
        "email_verified": True,
        "nonce": browser.auth_params["nonce"],
        "iat": now,
        "exp": now + 300,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def through_provider(browser: Browser, provider: OpenIdProvider, tenant: Tenant, make_token) -> Any:  # type: ignore[no-untyped-def]
    """Run a real sign-in, but have the provider's token response carry ``make_token()``."""
    browser.start(tenant.login_path)
    callback = browser.authenticate("mallory@acme.test")
    provider.override_next_id_token(make_token())
    return browser.finish(callback)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- state --------------------------------------------------------------------------------------------------
def test_callback_without_state_is_refused(tenant: Tenant, browser: Browser) -> None:
    browser.start(tenant.login_path)
    callback = browser.authenticate("mallory@acme.test")
    response = browser.finish(callback.replace("state=", "ignored="))
    assert_refused(browser.gateway, response, 400, "state_missing")


def test_callback_with_a_wrong_state_is_refused(tenant: Tenant, browser: Browser) -> None:
    browser.start(tenant.login_path)
    callback = browser.authenticate("mallory@acme.test")
    state = browser.auth_params["state"]
    response = browser.finish(callback.replace(state, "st_forged"))
    assert_refused(browser.gateway, response, 400, "state_invalid")


def test_replayed_callback_is_refused(tenant: Tenant, browser: Browser, app) -> None:  # type: ignore[no-untyped-def]
    browser.start(tenant.login_path)
    callback = browser.authenticate("alice@acme.test")
    assert browser.finish(callback).status_code == 303
    sign_out(browser.gateway)

    response = browser.finish(callback)
    assert_refused(browser.gateway, response, 400, "state_invalid")


def test_callback_in_another_browser_is_refused(tenant: Tenant, browser: Browser, app) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: an attacker's own callback URL opened in the victim's browser does not sign it in."""
    browser.start(tenant.login_path)
    callback = browser.authenticate("mallory@acme.test")
    victim = Browser(app.test_client())
    response = victim.finish(callback)
    assert_refused(victim.gateway, response, 400, "state_mismatch")


def test_error_answer_from_the_provider_is_shown(tenant: Tenant, browser: Browser) -> None:
    browser.start(tenant.login_path)
    state = browser.auth_params["state"]
    response = browser.gateway.get(
        f"/oidc/{tenant.connection.slug}/callback?state={state}&error=access_denied&error_description=User+cancelled"
    )
    assert_refused(browser.gateway, response, 403, "idp_error")
    assert "access_denied" in response.get_data(as_text=True)


def test_expired_pending_sign_in_is_refused(tenant: Tenant, browser: Browser, live_clock) -> None:  # type: ignore[no-untyped-def]
    browser.start(tenant.login_path)
    callback = browser.authenticate("alice@acme.test")
    live_clock.advance(minutes=11)
    assert_refused(browser.gateway, browser.finish(callback), 400, "state_expired")


# -- the ID token -------------------------------------------------------------------------------------------
def test_wrong_nonce_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    response = through_provider(
        browser,
        provider,
        tenant,
        lambda: provider.forge(claims(tenant, browser, provider, nonce="nonce_other")),
    )
    assert_refused(browser.gateway, response, 403, "id_token_bad_nonce")


def test_missing_nonce_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    response = through_provider(
        browser, provider, tenant, lambda: provider.forge(claims(tenant, browser, provider, nonce=None))
    )
    assert_refused(browser.gateway, response, 403, "id_token_bad_nonce")


def test_wrong_issuer_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    """Authlib drops its own ``iss`` check as soon as ``claims_options`` is passed; the gateway's does it."""
    response = through_provider(
        browser, provider, tenant,
        lambda: provider.forge(claims(tenant, browser, provider, iss="https://evil.example")),
    )  # fmt: skip
    assert_refused(browser.gateway, response, 403, "id_token_bad_iss")


def test_wrong_audience_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    response = through_provider(
        browser, provider, tenant,
        lambda: provider.forge(claims(tenant, browser, provider, aud="another-client", azp="another-client")),
    )  # fmt: skip
    assert response.status_code == 403
    assert_no_session(browser.gateway, response)


def test_audience_is_checked_even_when_azp_names_the_gateway(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    """Authlib checks ``aud`` only when ``claims_options`` asks for it; with ``azp`` equal to the client ID
    nothing else catches a token minted for another audience."""
    response = through_provider(
        browser, provider, tenant,
        lambda: provider.forge(claims(tenant, browser, provider, aud="another-client", azp=tenant.client_id)),
    )  # fmt: skip
    assert_refused(browser.gateway, response, 403, "id_token_bad_aud")


def test_expired_token_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    now = int(time.time())
    response = through_provider(
        browser, provider, tenant,
        lambda: provider.forge(claims(tenant, browser, provider, iat=now - 3600, exp=now - 600)),
    )  # fmt: skip
    assert_refused(browser.gateway, response, 403, "id_token_expired")


def test_alg_none_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    def unsigned() -> str:
        header = b64(json.dumps({"alg": "none", "kid": provider.keys[0].kid}).encode())
        return f"{header}.{b64(json.dumps(claims(tenant, browser, provider)).encode())}."

    response = through_provider(browser, provider, tenant, unsigned)
    assert_refused(browser.gateway, response, 403, "id_token_bad_alg")


def test_hs256_signed_with_the_public_key_is_refused(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    """Key confusion: an HMAC "signature" keyed with the provider's public key, which anyone can make."""

    def confused() -> str:
        key = provider.keys[0]
        header = b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims(tenant, browser, provider)).encode())
        secret = key.as_pem(private=False)
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(signature)}"

    response = through_provider(browser, provider, tenant, confused)
    assert_refused(browser.gateway, response, 403, "id_token_bad_alg")


def test_unknown_kid_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    stranger = new_key()
    response = through_provider(
        browser, provider, tenant, lambda: provider.forge(claims(tenant, browser, provider), key=stranger)
    )
    assert_refused(browser.gateway, response, 403, "unknown_key")


def test_token_signed_by_another_key_under_a_known_kid_is_refused(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    stranger = new_key()
    response = through_provider(
        browser, provider, tenant,
        lambda: provider.forge(claims(tenant, browser, provider), key=stranger, header={"kid": provider.keys[0].kid}),
    )  # fmt: skip
    assert_refused(browser.gateway, response, 403, "id_token_bad_signature")


def test_unverified_email_is_refused(tenant: Tenant, browser: Browser, provider: OpenIdProvider) -> None:
    provider.set_accounts({"mallory@acme.test": {"email_verified": False}})
    response = browser.sign_in(tenant.login_path, "mallory@acme.test")
    assert_refused(browser.gateway, response, 403, "email_unverified")


# -- the JWKS cache -----------------------------------------------------------------------------------------
def test_retired_key_stops_working_after_the_cache_lifetime(
    app, tenant: Tenant, browser: Browser, provider: OpenIdProvider, live_clock
) -> None:  # type: ignore[no-untyped-def]
    """Authlib caches the JWKS forever; the gateway's cache expires, so a key the provider retired (and that
    may have leaked) stops verifying tokens."""
    old = provider.keys[0]
    assert browser.sign_in(tenant.login_path, "alice@acme.test").status_code == 303
    provider.set_keys([new_key()])

    live_clock.advance(minutes=2)
    cached = Browser(app.test_client())
    response = through_provider(
        cached,
        provider,
        tenant,
        lambda: provider.forge(claims(tenant, cached, provider, **_now(live_clock)), key=old),
    )
    assert response.status_code == 303, "inside the lifetime the cached key still verifies"

    live_clock.advance(minutes=16)
    late = Browser(app.test_client())
    response = through_provider(
        late,
        provider,
        tenant,
        lambda: provider.forge(claims(tenant, late, provider, **_now(live_clock)), key=old),
    )
    assert_refused(late.gateway, response, 403, "unknown_key")


def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
    app, tenant: Tenant, browser: Browser, provider: OpenIdProvider, live_clock
) -> None:  # type: ignore[no-untyped-def]
    assert browser.sign_in(tenant.login_path, "alice@acme.test").status_code == 303
    live_clock.advance(minutes=2)
    before = provider.stats()["jwks"]
    for _ in range(3):
        attacker = Browser(app.test_client())
        response = through_provider(
            attacker, provider, tenant,
            lambda b=attacker: provider.forge(claims(tenant, b, provider, **_now(live_clock)), key=new_key()),
        )  # fmt: skip
        assert_refused(attacker.gateway, response, 403, "unknown_key")
    assert provider.stats()["jwks"] == before + 1


def _now(clock) -> dict[str, int]:  # type: ignore[no-untyped-def]
    now = int(clock().timestamp())
    return {"iat": now, "exp": now + 300}


# -- open redirects -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "%2F%2Fevil.example", "/%5Cevil.example",
     "/%2F/evil.example", "https:%2F%2Fevil.example", "\\\\evil.example", "/%09/evil.example"],
)  # fmt: skip
def test_next_cannot_redirect_off_the_gateway(tenant: Tenant, browser: Browser, target: str) -> None:
    from urllib.parse import quote

    response = browser.sign_in(f"{tenant.login_path}?next={quote(target, safe='')}", "alice@acme.test")
    assert response.status_code == 303
    assert response.headers["Location"] == "/me"


# -- connections and outcomes -------------------------------------------------------------------------------
def test_unknown_connection_gets_a_404_page(browser: Browser) -> None:
    response = browser.gateway.get("/oidc/nope/login")
    assert_refused(browser.gateway, response, 404, "not_found")


def test_disabled_connection_is_refused(tenant: Tenant, browser: Browser, app_services) -> None:  # type: ignore[no-untyped-def]
    app_services.connections.set_enabled(tenant.org.id, tenant.connection.id, False, CLI, override=True)
    assert_refused(browser.gateway, browser.gateway.get(tenant.login_path), 403, "connection_disabled")


def test_connection_disabled_during_sign_in_is_refused(
    tenant: Tenant, browser: Browser, app_services
) -> None:  # type: ignore[no-untyped-def]
    browser.start(tenant.login_path)
    callback = browser.authenticate("alice@acme.test")
    app_services.connections.set_enabled(tenant.org.id, tenant.connection.id, False, CLI, override=True)
    assert_refused(browser.gateway, browser.finish(callback), 403, "connection_disabled")


def test_provider_refusing_the_code_exchange_is_refused(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    provider.change_client_secret(tenant.client_id, "rotated-at-the-provider")
    response = browser.sign_in(tenant.login_path, "alice@acme.test")
    assert_refused(browser.gateway, response, 403, "token_exchange_failed")


def test_email_outside_the_organizations_domains_is_not_created(
    tenant: Tenant, browser: Browser, app_services
) -> None:  # type: ignore[no-untyped-def]
    response = browser.sign_in(tenant.login_path, "eve@elsewhere.test")
    assert_refused(browser.gateway, response, 403, "mode_forbids")
    assert app_services.members.list(tenant.org.id)[1] == 0
    refused = app_services.audit.list(tenant.org.id, action="sign_in.refused")[0]
    assert refused and refused[0].details["email"] == "eve@elsewhere.test"


def test_suspended_member_is_refused(tenant: Tenant, browser: Browser, app, app_services) -> None:  # type: ignore[no-untyped-def]
    browser.sign_in(tenant.login_path, "alice@acme.test")
    member = app_services.members.list(tenant.org.id)[0][0]
    app_services.members.suspend(tenant.org.id, member.id, CLI)
    again = Browser(app.test_client())
    assert_refused(again.gateway, again.sign_in(tenant.login_path, "alice@acme.test"), 403, "member_inactive")


def test_an_address_in_another_orgs_verified_domain_is_not_created(
    tenant: Tenant, browser: Browser, app_services
) -> None:  # type: ignore[no-untyped-def]
    from gateway.domain import model as m

    app_services.orgs.create("Owner", m.MembershipMode.SSO, CLI, domains=["owner.test"])
    response = browser.sign_in(tenant.login_path, "eve@owner.test")
    assert_refused(browser.gateway, response, 403, "address_domain_owned")
    assert "This email address belongs to another organization" in response.get_data(as_text=True)
    assert app_services.members.list(tenant.org.id)[1] == 0
