"""The demo OpenID Provider through HTTP: discovery, the sign-in page, PKCE, single-use codes, redirect URI
checks, client authentication, tokens that verify against its JWKS (with the gateway's own ID token checks)."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc.jwk import RSAKey

from gateway.oidc.tokens import verify_id_token
from gateway.services.oidc_connections import discover

from .conftest import CLIENT_ID, PUBLIC_URL, REDIRECT_URI, Client, query_of

ISSUER = f"{PUBLIC_URL}/demo-idp"


def _json_fetch(idp: FlaskClient):  # type: ignore[no-untyped-def]
    def fetch(url: str) -> dict[str, Any]:
        assert url.startswith(PUBLIC_URL)
        response = idp.get(url.removeprefix(PUBLIC_URL))
        assert response.status_code == 200
        return response.get_json()

    return fetch


def _verified(idp: FlaskClient, rp: Client, id_token: str, now: Any, access_token: str | None = None) -> dict:
    jwks = idp.get("/demo-idp/jwks").get_json()

    def key_for(kid: str | None, alg: str) -> RSAKey:
        assert alg == "RS256"
        return RSAKey.import_key(next(k for k in jwks["keys"] if k["kid"] == kid))

    return verify_id_token(
        id_token, issuer=ISSUER, client_id=rp.client_id, nonce=rp.nonce, allowed_algs=["RS256"],
        key_for=key_for, now=now, access_token=access_token,
    )  # fmt: skip


# -- discovery and keys -----------------------------------------------------------------------------------
def test_discovery_document_passes_the_gateways_own_discovery_checks(idp: FlaskClient) -> None:
    metadata = discover(ISSUER, _json_fetch(idp), allow_private=True)
    assert metadata.issuer == ISSUER
    assert metadata.token_endpoint == f"{ISSUER}/token"
    assert metadata.userinfo_endpoint == f"{ISSUER}/userinfo"
    doc = idp.get("/demo-idp/.well-known/openid-configuration").get_json()
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]


def test_jwks_publishes_one_public_rsa_key_with_a_kid(idp: FlaskClient) -> None:
    keys = idp.get("/demo-idp/jwks").get_json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


# -- the sign-in page -------------------------------------------------------------------------------------
def test_authorize_shows_the_demo_people_and_carries_the_request(rp: Client) -> None:
    response = rp.authorize(login_hint="ada@demo.example")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "admin@demo.example" in html and "newhire@invite.example" in html
    assert f'name="code_challenge" value="{rp.authorization_params()["code_challenge"]}"' in html
    assert 'value="ada@demo.example" checked' in html
    assert response.headers["X-Frame-Options"] == "DENY"


def test_confirming_redirects_to_the_client_with_a_code_and_its_state(rp: Client) -> None:
    response = rp.confirm("grace@demo.example")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    params = query_of(response)
    assert params["state"] == rp.state and params["code"]


def test_any_typed_address_of_a_demo_domain_is_accepted_and_others_are_not(rp: Client) -> None:
    token = rp.exchange(_typed_code(rp)).get_json()
    claims = rp.http.get(
        "/demo-idp/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    ).get_json()
    assert claims["email"] == "jo.doe@invite.example" and claims["name"] == "Jo Doe"
    refused = rp.confirm("someone@gmail.com", typed=True)
    assert refused.status_code == 400
    assert "demo.example or invite.example" in refused.get_data(as_text=True)
    assert "Location" not in refused.headers


def _typed_code(rp: Client) -> str:
    response = rp.confirm("jo.doe@invite.example", typed=True)
    assert response.status_code == 303
    return query_of(response)["code"]


def test_cancelling_returns_access_denied_to_the_client(rp: Client) -> None:
    response = rp.confirm(action="cancel")
    assert response.status_code == 303
    assert query_of(response) == {
        "error": "access_denied", "error_description": "The person cancelled the sign-in.", "state": rp.state,
    }  # fmt: skip


# -- redirect URIs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/oidc/demo-idp/callback",
        "http://gateway.test.evil.example/oidc/demo-idp/callback",
        "http://gateway.test:8080/oidc/demo-idp/callback",
        "http://gateway.test/admin",
        "http://gateway.test/oidc/demo-idp/callback?next=https://evil.example",
        "http://gateway.test/oidc/../admin/callback",
        None,
    ],
)
def test_a_redirect_uri_outside_the_gateways_callbacks_is_refused_without_redirecting(
    rp: Client, redirect_uri: str | None
) -> None:
    for response in (rp.authorize(redirect_uri=redirect_uri), _confirm_to(rp, redirect_uri)):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert "cannot be used" in response.get_data(as_text=True)


def _confirm_to(rp: Client, redirect_uri: str | None):  # type: ignore[no-untyped-def]
    form = {
        **rp.authorization_params(redirect_uri=redirect_uri),
        "action": "confirm",
        "person": "admin@demo.example",
    }
    return rp.http.post("/demo-idp/authorize", data=form)


def test_the_platform_callback_is_an_accepted_redirect_uri(idp: FlaskClient) -> None:
    rp = Client(idp, client_id="demo-platform-login", redirect_uri=f"{PUBLIC_URL}/login/platform/callback")
    token = rp.exchange(rp.code("newhire@invite.example"))
    assert token.status_code == 200, token.get_json()


def test_the_token_request_must_repeat_the_authorization_requests_redirect_uri(rp: Client) -> None:
    code = rp.code()
    response = rp.exchange(code, redirect_uri=f"{PUBLIC_URL}/login/platform/callback")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert rp.exchange(code, redirect_uri=None).get_json()["error"] == "invalid_grant"
    assert rp.exchange(code).status_code == 200  # the refused attempts did not use the code up


# -- PKCE -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
        ({"code_challenge_method": None}, "Only the S256"),
        ({"code_challenge_method": "plain"}, "Only the S256"),
        ({"code_challenge": "short"}, "not a base64url SHA-256"),
    ],
)
def test_authorization_requests_without_pkce_s256_go_back_with_invalid_request(
    rp: Client, changes: dict[str, str | None], description: str
) -> None:
    response = rp.authorize(**changes)
    assert response.status_code == 303
    params = query_of(response)
    assert params["error"] == "invalid_request" and params["state"] == rp.state
    assert description in params["error_description"]


def test_other_response_types_and_scopes_without_openid_are_refused(rp: Client) -> None:
    assert query_of(rp.authorize(response_type="token"))["error"] == "unsupported_response_type"
    assert query_of(rp.authorize(scope="email profile"))["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "verifier", ["a-different-verifier-of-enough-length-0123456789abcdef", None, "short"]
)
def test_the_token_endpoint_requires_the_matching_code_verifier(rp: Client, verifier: str | None) -> None:
    code = rp.code()
    response = rp.exchange(code, code_verifier=verifier)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_grant" and "code_verifier" in body["error_description"]


# -- codes ------------------------------------------------------------------------------------------------
def test_a_code_is_single_use(rp: Client) -> None:
    code = rp.code()
    first = rp.exchange(code)
    assert first.status_code == 200
    second = rp.exchange(code)
    assert second.status_code == 400
    assert second.get_json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code was already used.",
    }
    assert second.headers["Cache-Control"] == "no-store"


def test_a_code_expires_after_two_minutes(rp: Client, clock) -> None:  # type: ignore[no-untyped-def]
    code = rp.code()
    clock.advance(minutes=2, seconds=1)
    response = rp.exchange(code)
    assert response.get_json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code has expired.",
    }


def test_a_tampered_or_made_up_code_is_refused(rp: Client) -> None:
    code = rp.code()
    tampered = code[:-6] + ("AAAAAA" if not code.endswith("AAAAAA") else "BBBBBB")
    for bad in (tampered, "not-a-code", "x" * 5000, "gAAAA\u00e9\u2603"):
        response = rp.exchange(bad)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_code_issued_to_one_client_cannot_be_redeemed_by_another(idp: FlaskClient, rp: Client) -> None:
    code = rp.code()
    other = Client(idp, client_id="demo-platform-login", verifier=rp.verifier)
    response = other.exchange(code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


# -- client authentication --------------------------------------------------------------------------------
def test_the_token_endpoint_authenticates_the_client(rp: Client) -> None:
    code = rp.code()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": rp.verifier,
    }
    wrong = rp.http.post("/demo-idp/token", data=form, auth=(CLIENT_ID, "wrong-secret"))
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    anonymous = rp.http.post("/demo-idp/token", data=form)
    assert anonymous.status_code == 401
    posted = rp.http.post(
        "/demo-idp/token", data={**form, "client_id": CLIENT_ID, "client_secret": rp.secret}
    )
    assert posted.status_code == 200  # client_secret_post works too, and the refusals above kept the code


def test_only_the_authorization_code_grant_is_supported(rp: Client) -> None:
    response = rp.exchange(rp.code(), grant_type="refresh_token")
    assert response.get_json()["error"] == "unsupported_grant_type"


# -- tokens -----------------------------------------------------------------------------------------------
def test_the_id_token_verifies_against_the_jwks_with_the_gateways_checks(rp: Client, clock) -> None:  # type: ignore[no-untyped-def]
    token = rp.exchange(rp.code("ada@demo.example")).get_json()
    assert token["token_type"] == "Bearer"
    claims = _verified(rp.http, rp, token["id_token"], clock(), token["access_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == CLIENT_ID and claims["nonce"] == rp.nonce
    assert claims["email"] == "ada@demo.example" and claims["email_verified"] is True
    assert claims["given_name"] == "Ada" and claims["family_name"] == "Lovelace"
    assert claims["sub"].startswith("demo|") and "ada" not in claims["sub"]
    header = token["id_token"].split(".")[0]
    kid = rp.http.get("/demo-idp/jwks").get_json()["keys"][0]["kid"]
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "RS256", "kid": kid, "typ": "JWT"}


def test_userinfo_answers_for_the_access_token_and_only_for_it(rp: Client, clock) -> None:  # type: ignore[no-untyped-def]
    token = rp.exchange(rp.code("grace@demo.example")).get_json()
    claims = _verified(rp.http, rp, token["id_token"], clock())
    info = rp.http.get("/demo-idp/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 200
    assert info.get_json()["sub"] == claims["sub"] and info.get_json()["email"] == "grace@demo.example"
    for header in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer gAAAA\u00e9"},
        {"Authorization": f"Basic {token['access_token']}"},
    ):
        refused = rp.http.get("/demo-idp/userinfo", headers=header)
        assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    clock.advance(minutes=11)
    expired = rp.http.get("/demo-idp/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert expired.status_code == 401


def test_of_two_concurrent_exchanges_of_one_code_exactly_one_succeeds(idp_app, rp: Client) -> None:  # type: ignore[no-untyped-def]
    code = rp.code()
    start = threading.Barrier(2)

    def exchange() -> int:
        racer = Client(idp_app.test_client(), verifier=rp.verifier)
        start.wait(timeout=10)
        return racer.exchange(code).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(lambda _: exchange(), range(2)))
    assert statuses == [200, 400]
