"""Adding OIDC connections (discovery, encrypted secret, vendor rules) and the pending sign-in store,
at the service level with a scripted provider document source."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Conflict, InvalidInput
from gateway.oidc.vendors import PresetVendorRules, identity_from_claims
from gateway.presets import load_preset
from gateway.services import Services
from gateway.services.base import TokenFactory
from gateway.services.oidc_connections import (
    OidcConnectionService,
    OidcLoginService,
    OidcRefused,
    ProviderMetadata,
    SecretBox,
    checked_fetch,
    discover,
)
from gateway.services.outbound import OutboundPolicy

from .conftest import CLI

# Production-like name resolution: every host is public except these.
PRIVATE_HOSTS = {
    "internal.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:127.0.0.1"],
}


def public_dns(host: str, port: int) -> list[str]:
    return PRIVATE_HOSTS.get(host, ["93.184.216.34"])


ENTRA_TENANT = "6f1d2a3b-1111-4222-8333-944455556666"


def document(issuer: str, **extra: Any) -> dict[str, Any]:
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/keys",
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256"],
        **extra,
    }


class Documents:
    """Discovery documents and JWKS by URL, as an identity provider would serve them."""

    def __init__(self) -> None:
        self.by_url: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []

    def serve(self, issuer: str, **extra: Any) -> None:
        doc = document(issuer, **extra)
        self.by_url[issuer.rstrip("/") + "/.well-known/openid-configuration"] = doc
        self.by_url[doc["jwks_uri"]] = {"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]}

    def __call__(self, url: str) -> dict[str, Any]:
        self.requests.append(url)
        if url not in self.by_url:
            raise OidcRefused("provider_unreachable", f"Could not reach {url}.")
        return copy.deepcopy(self.by_url[url])


@pytest.fixture
def docs() -> Documents:
    return Documents()


@pytest.fixture
def oidc(services: Services, docs: Documents, clock) -> OidcConnectionService:  # type: ignore[no-untyped-def]
    return OidcConnectionService(
        services.db, clock, TokenFactory(), box=SecretBox("k" * 32), vendors=PresetVendorRules(),
        redirect_uri=lambda slug: f"https://gw.test/oidc/{slug}/callback", fetch=docs,
        outbound=OutboundPolicy(allow_private=False, resolver=public_dns),
    )  # fmt: skip


@pytest.fixture
def org(services: Services) -> m.Organization:
    return services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme", domains=["acme.test"]).org


def add(oidc: OidcConnectionService, org: m.Organization, issuer: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    return oidc.add(org.id, CLI, issuer=issuer, client_id="cid", client_secret="s3cret", **kwargs)


# -- secrets -----------------------------------------------------------------------------------------------
def test_secret_box_round_trips_and_hides_the_value() -> None:
    box = SecretBox("gateway-secret")
    sealed = box.seal("client-secret")
    assert "client-secret" not in sealed and sealed.startswith("fernet:v1:")
    assert box.open(sealed) == "client-secret"
    assert box.seal("client-secret") != sealed


def test_secret_sealed_under_another_key_is_refused_clearly() -> None:
    sealed = SecretBox("old-key").seal("client-secret")
    with pytest.raises(OidcRefused) as error:
        SecretBox("new-key").open(sealed)
    assert error.value.code == "secret_unreadable" and "GATEWAY_SECRET_KEY" in error.value.message


def test_client_secret_is_stored_encrypted(oidc, org, docs, services: Services) -> None:  # type: ignore[no-untyped-def]
    docs.serve("https://idp.test")
    created = add(oidc, org, "https://idp.test")
    stored = services.connections.by_slug(created.connection.slug)
    assert "s3cret" not in str(stored.config)
    assert oidc.client_settings(stored).client_secret == "s3cret"


# -- discovery ---------------------------------------------------------------------------------------------
def test_discovery_requires_the_same_issuer(docs: Documents) -> None:
    docs.by_url["https://idp.test/.well-known/openid-configuration"] = document("https://other.test")
    with pytest.raises(OidcRefused) as error:
        discover("https://idp.test", docs, allow_private=False, resolver=public_dns)
    assert error.value.code == "bad_issuer"


def test_discovery_keeps_the_documents_issuer_with_its_trailing_slash(docs: Documents) -> None:
    docs.serve("https://oauth.id.jumpcloud.com/")
    assert (
        discover("https://oauth.id.jumpcloud.com", docs, allow_private=False, resolver=public_dns).issuer
        == "https://oauth.id.jumpcloud.com/"
    )


def test_discovery_refuses_http_outside_development(docs: Documents) -> None:
    with pytest.raises(InvalidInput):
        discover("http://idp.test", docs, allow_private=False, resolver=public_dns)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"response_types_supported": ["token"]}, "authorization code"),
        ({"code_challenge_methods_supported": ["plain"]}, "PKCE"),
        ({"id_token_signing_alg_values_supported": ["HS256"]}, "RS/PS/ES"),
        ({"jwks_uri": None}, "jwks_uri"),
    ],
)
def test_discovery_refuses_providers_the_gateway_cannot_use_safely(
    docs: Documents, extra: dict, needle: str
) -> None:
    docs.by_url["https://idp.test/.well-known/openid-configuration"] = document("https://idp.test", **extra)
    with pytest.raises(OidcRefused) as error:
        discover("https://idp.test", docs, allow_private=False, resolver=public_dns)
    assert needle in error.value.message


def test_failed_discovery_writes_nothing(oidc, org, services: Services) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OidcRefused):
        add(oidc, org, "https://idp.test", domains=["new.test"])
    assert services.connections.list(org.id) == []
    assert [d.domain for d in services.orgs.get(org.id).domains] == ["acme.test"]


def test_domain_of_another_organization_refuses_the_whole_connection(
    oidc, org, docs, services: Services
) -> None:  # type: ignore[no-untyped-def]
    services.orgs.create("Globex", m.MembershipMode.SSO, CLI, slug="globex", domains=["globex.test"])
    docs.serve("https://idp.test")
    with pytest.raises(Conflict):
        add(oidc, org, "https://idp.test", domains=["globex.test"])
    assert services.connections.list(org.id) == []


def test_connection_of_an_invitation_mode_org_starts_suspended(oidc, docs, services: Services) -> None:  # type: ignore[no-untyped-def]
    org = services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI, slug="initech").org
    docs.serve("https://idp.test")
    assert add(oidc, org, "https://idp.test").connection.suspended


def test_connection_creation_is_audited(oidc, org, docs, services: Services) -> None:  # type: ignore[no-untyped-def]
    docs.serve("https://idp.test")
    add(oidc, org, "https://idp.test")
    event = services.audit.list(org.id, action="connection.created")[0][0]
    assert event.details["protocol"] == "oidc" and event.details["issuer"] == "https://idp.test"
    assert "s3cret" not in str(event.details)


# -- presets -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers", "{tenantid}"])
def test_entra_refuses_multi_tenant_issuers(oidc, org, tenant: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as error:
        add(oidc, org, f"https://login.microsoftonline.com/{tenant}/v2.0", preset="entra")
    assert "tenant-specific" in error.value.message


def test_entra_records_the_tenant(oidc, org, docs) -> None:  # type: ignore[no-untyped-def]
    docs.serve(f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0")
    created = add(oidc, org, f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0", preset="entra")
    assert created.connection.config["vendor"] == {"tenant_id": ENTRA_TENANT}


def test_google_issuer_is_fixed(oidc, org) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        add(oidc, org, "https://accounts.google.test", preset="google")


@pytest.mark.parametrize(
    ("issuer", "kind"),
    [("https://acme.okta.test", "org"), ("https://acme.okta.test/oauth2/default", "custom")],
)
def test_okta_authorization_server_kind_is_recorded(oidc, org, docs, issuer: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    docs.serve(issuer, scopes_supported=["openid", "email", "profile"])
    created = add(oidc, org, issuer, preset="okta")
    assert created.connection.config["vendor"] == {"authorization_server": kind}
    assert created.scopes == ["openid", "email", "profile"]
    assert any("'groups'" in note for note in created.notes)


def settings_for(oidc, org, docs, preset: str, issuer: str):  # type: ignore[no-untyped-def]
    docs.serve(issuer)
    created = add(oidc, org, issuer, preset=preset)
    return oidc.client_settings(created.connection)


def test_entra_token_from_another_tenant_is_refused(oidc, org, docs) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(
        oidc, org, docs, "entra", f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
    )
    claims = {"sub": "s", "email": "a@acme.test", "tid": "00000000-0000-4000-8000-000000000000"}
    with pytest.raises(OidcRefused) as error:
        identity_from_claims(settings, claims, lambda d: d == "acme.test")
    assert error.value.code == "wrong_tenant"
    ok = identity_from_claims(settings, {**claims, "tid": ENTRA_TENANT}, lambda d: d == "acme.test")
    assert ok.email == "a@acme.test"


def test_entra_unverified_email_is_accepted_only_for_verified_domains(oidc, org, docs) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(
        oidc, org, docs, "entra", f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
    )
    claims = {"sub": "s", "preferred_username": "a@other.test", "tid": ENTRA_TENANT}
    with pytest.raises(OidcRefused) as error:
        identity_from_claims(settings, claims, lambda d: d == "acme.test")
    assert error.value.code == "email_unverified"


@pytest.mark.parametrize(
    ("hd", "verified", "ok"),
    [
        ("acme.test", True, True),
        (None, True, False),
        ("other.test", True, False),
        ("acme.test", False, False),
    ],
)
def test_google_hosted_domain_must_be_the_organizations(oidc, org, docs, hd, verified, ok) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(oidc, org, docs, "google", "https://accounts.google.com")
    claims = {"sub": "s", "email": "a@acme.test", "email_verified": verified, **({"hd": hd} if hd else {})}
    if ok:
        assert identity_from_claims(settings, claims, lambda d: d == "acme.test").email == "a@acme.test"
    else:
        with pytest.raises(OidcRefused):
            identity_from_claims(settings, claims, lambda d: d == "acme.test")


def test_jumpcloud_groups_come_from_the_presets_claim(oidc, org, docs) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(oidc, org, docs, "jumpcloud", "https://oauth.id.jumpcloud.com/")
    claim = load_preset("jumpcloud").oidc["groups"]
    identity = identity_from_claims(
        settings,
        {"sub": "s", "email": "a@acme.test", "email_verified": True, claim: ["eng", "ops"]},
        lambda d: False,
    )
    assert identity.groups == ["eng", "ops"]
    assert settings.metadata.issuer == "https://oauth.id.jumpcloud.com/"


def test_metadata_round_trips() -> None:
    metadata = ProviderMetadata.from_dict(document("https://idp.test", scopes_supported=["openid"]))
    assert ProviderMetadata.from_dict(metadata.as_dict()) == metadata


# -- pending sign-ins --------------------------------------------------------------------------------------
@pytest.fixture
def logins(services: Services, clock) -> OidcLoginService:  # type: ignore[no-untyped-def]
    return OidcLoginService(services.db, clock, TokenFactory(), box=SecretBox("k"))


def test_pending_sign_in_is_single_use(logins: OidcLoginService) -> None:
    started = logins.begin("platform", next_url="/me")
    record = logins.take(started.state, started.browser_secret, "platform")
    assert (
        record.nonce == started.nonce
        and record.code_verifier == started.code_verifier
        and record.next_url == "/me"
    )
    with pytest.raises(OidcRefused) as error:
        logins.take(started.state, started.browser_secret, "platform")
    assert error.value.code == "state_invalid"


def test_pending_sign_in_is_bound_to_its_browser_and_purpose(logins: OidcLoginService) -> None:
    started = logins.begin("platform")
    with pytest.raises(OidcRefused) as error:
        logins.take(started.state, "br_other", "platform")
    assert error.value.code == "state_mismatch"
    again = logins.begin("platform")
    with pytest.raises(OidcRefused):
        logins.take(again.state, again.browser_secret, "connection")


def test_pending_sign_in_expires_and_is_purged(logins: OidcLoginService, clock, services: Services) -> None:  # type: ignore[no-untyped-def]
    old = logins.begin("platform")
    clock.advance(minutes=11)
    with pytest.raises(OidcRefused) as error:
        logins.take(old.state, old.browser_secret, "platform")
    assert error.value.code == "state_expired"
    abandoned = logins.begin("platform")
    clock.advance(minutes=11)
    logins.begin("platform")
    with pytest.raises(OidcRefused) as gone:
        logins.take(abandoned.state, abandoned.browser_secret, "platform")
    assert gone.value.code == "state_invalid"


def test_invitation_token_is_kept_encrypted(logins: OidcLoginService, services: Services) -> None:
    started = logins.begin("platform", invitation_token="inv_secret-token")
    record = logins.take(started.state, started.browser_secret, "platform")
    assert "inv_secret-token" not in str(record.data)
    assert logins.invitation_token(record) == "inv_secret-token"


def test_concurrent_callbacks_with_one_state_sign_in_once(logins: OidcLoginService) -> None:
    """Two gateway processes receiving the same callback at once: the row lock lets exactly one take it."""
    from concurrent.futures import ThreadPoolExecutor

    started = logins.begin("platform")

    def take() -> str:
        try:
            logins.take(started.state, started.browser_secret, "platform")
            return "taken"
        except OidcRefused as error:
            return error.code

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(lambda _: take(), range(4)))
    assert outcomes == ["state_invalid"] * 3 + ["taken"]


# -- outbound address policy (SSRF) -----------------------------------------------------------------------
@pytest.mark.parametrize("host", sorted(PRIVATE_HOSTS))
def test_an_issuer_on_a_private_address_is_refused_before_any_request(  # type: ignore[no-untyped-def]
    oidc, org, docs: Documents, host: str
) -> None:
    docs.serve(f"https://{host}")
    with pytest.raises(InvalidInput) as error:
        add(oidc, org, f"https://{host}")
    assert error.value.details["field"] == "issuer" and "private or reserved" in error.value.message
    assert docs.requests == []


@pytest.mark.parametrize("field", ["token_endpoint", "jwks_uri", "userinfo_endpoint"])
def test_discovered_endpoints_on_private_addresses_are_refused(  # type: ignore[no-untyped-def]
    oidc, org, docs: Documents, services: Services, field: str
) -> None:
    docs.serve("https://idp.test", **{field: "https://metadata.test/latest/meta-data"})
    with pytest.raises(InvalidInput) as error:
        add(oidc, org, "https://idp.test")
    assert error.value.details["field"] == field and "169.254.169.254" in error.value.message
    assert docs.requests == ["https://idp.test/.well-known/openid-configuration"]
    assert services.connections.list(org.id) == []


def test_development_allows_a_loopback_http_provider(docs: Documents) -> None:
    docs.serve("http://127.0.0.1:9000")
    assert discover("http://127.0.0.1:9000", docs, allow_private=True).issuer == "http://127.0.0.1:9000"


def test_checked_fetch_refuses_private_urls_before_fetching(docs: Documents) -> None:
    fetch = checked_fetch(docs, OutboundPolicy(allow_private=False, resolver=public_dns))
    with pytest.raises(InvalidInput, match="private or reserved"):
        fetch("https://mapped.test/keys")
    docs.serve("https://idp.test")
    assert fetch("https://idp.test/keys")["keys"]
    assert docs.requests == ["https://idp.test/keys"]
