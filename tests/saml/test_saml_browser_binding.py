"""SAML sign-in is bound to the browser that started it: a response for a request started in another browser
is refused (login CSRF), and only IdP-initiated sign-in, when the connection allows it, needs no binding."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup, saml_connections
from saml_idp import post_acs, reason, start_login

from gateway.app import create_app
from gateway.settings import load_settings


def binding_cookie(answer) -> str:  # type: ignore[no-untyped-def]
    return next(v for v in answer.headers.getlist("Set-Cookie") if v.startswith("gw_saml_binding="))


def test_a_response_for_a_sign_in_started_in_another_browser_is_refused(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    # The attacker starts a sign-in in their own browser and obtains the IdP's response for their account ...
    attacker = app.test_client()
    request_id, relay = start_login(attacker, okta.slug)
    response = okta.response("mallory@acme.test", in_response_to=request_id)
    # ... and makes the victim's browser post it to the ACS.
    answer = post_acs(client, okta.slug, response, relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_other_browser"
    assert "another browser" in answer.get_data(as_text=True)
    assert client.get("/me").status_code == 401
    # The victim's own sign-ins still work.
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    assert client.get("/me").get_json()["email"] == "ada@acme.test"


def test_a_browser_without_the_binding_cookie_is_refused(client: FlaskClient, okta: SamlSetup) -> None:
    request_id, relay = start_login(client, okta.slug)
    client.delete_cookie("gw_saml_binding", path=f"/saml/{okta.slug}/")
    answer = post_acs(client, okta.slug, okta.response("ada@acme.test", in_response_to=request_id), relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_other_browser"


def test_two_tabs_of_one_browser_both_finish(client: FlaskClient, okta: SamlSetup) -> None:
    first, relay_first = start_login(client, okta.slug)
    second, relay_second = start_login(client, okta.slug)
    assert (
        post_acs(
            client, okta.slug, okta.response("ada@acme.test", in_response_to=second), relay_second
        ).status_code
        == 303
    )
    assert (
        post_acs(
            client, okta.slug, okta.response("ada@acme.test", in_response_to=first), relay_first
        ).status_code
        == 303
    )


def test_idp_initiated_sign_in_is_the_only_way_in_without_the_cookie(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    saml_connections(app).set_allow_idp_initiated(okta.org.id, okta.connection.id, True, CLI)
    assert post_acs(client, okta.slug, okta.response("ada@acme.test"), "/me").status_code == 303
    # Allowing IdP-initiated sign-in does not let an unbound answer to an SP-initiated request through.
    other = app.test_client()
    request_id, relay = start_login(other, okta.slug)
    answer = post_acs(client, okta.slug, okta.response("mallory@acme.test", in_response_to=request_id), relay)
    assert reason(answer) == "saml_other_browser"


def test_the_cookie_is_http_only_and_scoped_to_the_connection(client: FlaskClient, okta: SamlSetup) -> None:
    cookie = binding_cookie(client.get(f"/saml/{okta.slug}/login"))
    assert "HttpOnly" in cookie
    assert f"Path=/saml/{okta.slug}/" in cookie
    # Plain http (development): browsers refuse SameSite=None without Secure, so Lax (same-site IdPs).
    assert "SameSite=Lax" in cookie and "Secure" not in cookie


def test_over_https_the_cookie_survives_the_idps_cross_site_post(
    db_url: str, tmp_path: Path, okta: SamlSetup
) -> None:
    settings = load_settings(
        {
            "database_url": db_url,
            "instance_path": str(tmp_path / "https-instance"),
            "secret_key": "test-secret-key",
            "public_url": "https://gateway.test",
        }
    )
    https_app = create_app(settings=settings)
    try:
        cookie = binding_cookie(https_app.test_client().get(f"/saml/{okta.slug}/login"))
    finally:
        https_app.extensions["gateway.services"].db.dispose()
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
