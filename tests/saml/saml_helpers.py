"""Helpers of the SAML tests: an organization's SAML connection wired to the independent test IdP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from saml_idp import IDP_KEY, SigningKey, TestIdP, idp_metadata, post_acs, start_login

from gateway.domain import model as m
from gateway.services.saml_connections import (
    SamlConnectionService,
    SpKey,
    generate_sp_key,
    parse_idp_metadata,
)

PUBLIC = "http://gateway.test"
CLI = m.Actor.cli()


class FakeClock:
    """The gateway's clock; SAML tests start it at the real time (see ``clock`` in conftest)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def real_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class SamlSetup:
    org: m.Organization
    connection: m.SsoConnection
    idp: TestIdP

    @property
    def slug(self) -> str:
        return self.connection.slug

    @property
    def acs(self) -> str:
        return f"{PUBLIC}/saml/{self.slug}/acs"

    @property
    def audience(self) -> str:
        return f"{PUBLIC}/saml/{self.slug}/metadata"

    def response(self, name_id: str, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
        kwargs.setdefault("acs", self.acs)
        kwargs.setdefault("audience", self.audience)
        return self.idp.response(name_id=name_id, **kwargs)

    def sign_in(self, client: FlaskClient, email: str, next_url: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        """A full SP-initiated sign-in: login redirect, IdP response, ACS post."""
        request_id, relay = start_login(client, self.slug, next_url)
        xml = self.response(email, in_response_to=request_id, **kwargs)
        return post_acs(client, self.slug, xml, relay)


def saml_connections(app: Flask) -> SamlConnectionService:
    return app.extensions["gateway.saml_connections"]


def add_saml_connection(
    app: Flask,
    client: FlaskClient,
    org: m.Organization,
    *,
    name: str = "okta",
    preset: str = "okta",
    entity_id: str | None = None,
    keys: tuple[SigningKey, ...] = (IDP_KEY,),
    signer: SigningKey = IDP_KEY,
    **options,  # type: ignore[no-untyped-def]
) -> SamlSetup:
    entity_id = entity_id or f"https://idp.{org.slug}.test/{name}"
    descriptor = parse_idp_metadata(idp_metadata(entity_id, keys))
    connection = saml_connections(app).create(org.id, name, descriptor, CLI, preset=preset, **options)
    sp_metadata = client.get(f"/saml/{connection.slug}/metadata").get_data(as_text=True)
    return SamlSetup(org, connection, cached_idp(entity_id, sp_metadata, signer))


_IDPS: dict[tuple[str, str, str], TestIdP] = {}


def cached_idp(entity_id: str, sp_metadata: str, signer: SigningKey) -> TestIdP:
    """The test IdP for this SP metadata, built once (pysaml2 parses its configuration and metadata)."""
    key = (entity_id, signer.name, sp_metadata)
    if key not in _IDPS:
        _IDPS[key] = TestIdP(entity_id, sp_metadata, key=signer)
    return _IDPS[key]


class SpKeyPool:
    """Real SP key pairs generated once per test session and handed out in the same order in every test,
    so the SP metadata (and the pysaml2 IdP built from it) repeats across tests. Key generation itself is
    tested in test_saml_connections.py, which does not use the pool."""

    def __init__(self, size: int = 4) -> None:
        self.keys = [generate_sp_key("identity-gateway SAML test", real_now()) for _ in range(size)]
        self.next = 0

    def __call__(self, common_name: str, now: datetime, **_: object) -> SpKey:
        key = self.keys[self.next % len(self.keys)]
        self.next += 1
        return key
