"""Setting up SAML connections: IdP metadata from each vendor (file or URL), manual entry, certificates,
atomic creation with domains, and the shared replay/request state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from saml_helpers import CLI, FakeClock, real_now
from saml_idp import IDP_KEY, IDP_NEW_KEY

from gateway.domain import model as m
from gateway.domain.errors import Conflict, InvalidInput, NotFound
from gateway.services import Services
from gateway.services.saml_connections import (
    BINDING_POST,
    BINDING_REDIRECT,
    IdpDescriptor,
    SamlConfig,
    SamlConnectionService,
    SamlRefused,
    cert_fingerprint,
    fetch_metadata,
    load_metadata,
    normalize_cert,
    parse_idp_metadata,
)
from gateway.storage.saml_store import SamlStore
from gateway.storage.saml_tables import SamlAssertionSeen

FIXTURES = Path(__file__).parent / "fixtures"


def vendor_metadata(vendor: str) -> bytes:
    text = (FIXTURES / vendor / "metadata.xml").read_text()
    wrapped = "\n".join(IDP_KEY.cert_b64[i : i + 64] for i in range(0, len(IDP_KEY.cert_b64), 64))
    return (
        text.replace("{CERT_WRAPPED}", wrapped)
        .replace("{CERT2}", IDP_NEW_KEY.cert_b64)
        .replace("{CERT}", IDP_KEY.cert_b64)
    ).encode()


@pytest.fixture
def saml(services: Services) -> SamlConnectionService:
    return SamlConnectionService(
        services.db, services.clock, services.connections.tokens, box=services.saml_connections.box
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(real_now())


@pytest.fixture
def acme(services: Services) -> m.Organization:
    return services.orgs.create("Acme", m.MembershipMode.SSO, CLI, domains=["acme.test"]).org


VENDOR_METADATA = {
    "okta": (
        "http://www.okta.com/exk8acmegateway0x7",
        "https://acme.okta.com/app/acme_gateway_1/exk8acmegateway0x7/sso/saml",
        1,
        None,
    ),
    "google": (
        "https://accounts.google.com/o/saml2?idpid=C01acme42",
        "https://accounts.google.com/o/saml2/idp?idpid=C01acme42",
        1,
        None,
    ),
    "entra": (
        "https://sts.windows.net/6e2c2a0c-3c2b-4f3e-9a7e-4c1e2d3f4a5b/",
        "https://login.microsoftonline.com/6e2c2a0c-3c2b-4f3e-9a7e-4c1e2d3f4a5b/saml2",
        2,
        "https://login.microsoftonline.com/6e2c2a0c-3c2b-4f3e-9a7e-4c1e2d3f4a5b/saml2",
    ),
    "jumpcloud": (
        "acme-gateway",
        "https://sso.jumpcloud.com/saml2/acme-gateway",
        1,
        "https://sso.jumpcloud.com/saml2/acme-gateway/slo",
    ),
}


@pytest.mark.parametrize("vendor", sorted(VENDOR_METADATA))
def test_vendor_metadata_is_imported(vendor: str) -> None:
    entity_id, sso_url, cert_count, slo_url = VENDOR_METADATA[vendor]
    idp = parse_idp_metadata(vendor_metadata(vendor))
    assert idp.entity_id == entity_id
    assert idp.sso_url == sso_url
    assert idp.sso_binding == BINDING_REDIRECT
    assert len(idp.certs) == cert_count and idp.certs[0] == IDP_KEY.cert_b64
    assert idp.slo_url == slo_url


def test_aggregate_metadata_yields_the_one_idp_and_only_signing_keys() -> None:
    idp = parse_idp_metadata(vendor_metadata("generic"))
    assert idp.entity_id == "https://idp.example.test/saml2/idp"
    assert idp.sso_binding == BINDING_POST
    assert idp.certs == (IDP_KEY.cert_b64,)


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>',
        b"<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>",
        b"not xml",
        b"<a>" + b"x" * (600 * 1024) + b"</a>",
    ],
    ids=["xxe", "no_idp", "garbage", "too_large"],
)
def test_bad_metadata_is_refused_clearly(xml: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_idp_metadata(xml)


def test_metadata_without_a_certificate_is_refused() -> None:
    xml = vendor_metadata("okta").replace(IDP_KEY.cert_b64.encode(), b"bm90IGEgY2VydA==")
    with pytest.raises(InvalidInput, match="certificate"):
        parse_idp_metadata(xml)


def test_certificates_are_accepted_as_pem_or_base64() -> None:
    pem = Path(IDP_KEY.cert_file).read_text()
    assert normalize_cert(pem) == IDP_KEY.cert_b64 == normalize_cert(IDP_KEY.cert_b64)


class _MetadataServer:
    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status


@pytest.fixture
def metadata_server() -> Iterator[tuple[str, _MetadataServer]]:
    """A real loopback HTTP server serving whatever the test puts in ``state``."""
    state = _MetadataServer(b"")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state.status)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metadata", state
    server.shutdown()
    server.server_close()


def test_metadata_is_fetched_from_a_url(metadata_server: tuple[str, _MetadataServer]) -> None:
    url, state = metadata_server
    state.body = vendor_metadata("okta")
    assert (
        parse_idp_metadata(load_metadata(url, allow_private=True)).entity_id
        == "http://www.okta.com/exk8acmegateway0x7"
    )


def test_fetch_stops_at_the_size_limit(metadata_server: tuple[str, _MetadataServer]) -> None:
    url, state = metadata_server
    state.body = b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>"
    with pytest.raises(InvalidInput, match="larger"):
        fetch_metadata(url, allow_private=True)


def test_fetch_reports_http_errors(metadata_server: tuple[str, _MetadataServer]) -> None:
    url, state = metadata_server
    state.status = 404
    with pytest.raises(InvalidInput, match="404"):
        fetch_metadata(url, allow_private=True)


def test_fetch_uses_a_timeout_and_reports_it() -> None:
    seen: dict = {}

    def timing_out(url: str, **kwargs: object) -> None:
        seen.update(kwargs)
        raise requests.Timeout("slow")

    with pytest.raises(InvalidInput, match="Timeout"):
        fetch_metadata("https://idp.example.test/metadata", allow_private=True, get=timing_out)
    assert seen["timeout"] and seen["stream"] is True and seen["allow_redirects"] is False


def test_plain_http_metadata_is_refused_except_on_loopback() -> None:
    with pytest.raises(InvalidInput, match="https"):
        fetch_metadata("http://idp.example.test/metadata", allow_private=True)


def test_manual_entry_creates_a_working_configuration(
    saml: SamlConnectionService, acme: m.Organization
) -> None:
    idp = IdpDescriptor(
        entity_id="urn:acme:idp", sso_url="https://idp.acme.test/sso", certs=(IDP_KEY.cert_b64,)
    )
    connection = saml.create(acme.id, "Manual", idp, CLI, preset="jumpcloud", allow_idp_initiated=True)
    config = SamlConfig.from_dict(connection.config)
    assert connection.protocol is m.ConnectionProtocol.SAML and connection.preset == "jumpcloud"
    assert config.attributes["groups"] == "memberOf"
    assert config.allow_idp_initiated is True and config.want_assertions_encrypted is False
    assert len(config.sp_keys) == 1 and config.sp_keys[0].key.startswith("fernet:v1:")
    assert "PRIVATE KEY" in saml.config(connection).sp_keys[0].key


@pytest.mark.parametrize(
    "idp",
    [
        IdpDescriptor(entity_id="", sso_url="https://idp/sso", certs=(IDP_KEY.cert_b64,)),
        IdpDescriptor(entity_id="x", sso_url="javascript:alert(1)", certs=(IDP_KEY.cert_b64,)),
        IdpDescriptor(entity_id="x", sso_url="https://idp/sso", certs=()),
    ],
    ids=["no_entity_id", "bad_url", "no_cert"],
)
def test_manual_entry_is_validated(
    saml: SamlConnectionService, acme: m.Organization, idp: IdpDescriptor
) -> None:
    with pytest.raises(InvalidInput):
        saml.create(acme.id, "Manual", idp, CLI)


def test_unknown_preset_is_refused(saml: SamlConnectionService, acme: m.Organization) -> None:
    with pytest.raises(InvalidInput, match="preset"):
        saml.create(acme.id, "x", parse_idp_metadata(vendor_metadata("okta")), CLI, preset="onelogin")


def test_creation_with_domains_is_one_transaction(
    saml: SamlConnectionService, services: Services, acme: m.Organization
) -> None:
    services.orgs.create("Globex", m.MembershipMode.SSO, CLI, domains=["globex.test"])
    idp = parse_idp_metadata(vendor_metadata("okta"))
    with pytest.raises(Conflict):
        saml.create(acme.id, "okta", idp, CLI, domains=("acme.example", "globex.test"))
    assert services.connections.list(acme.id) == []
    assert [d.domain for d in services.orgs.get(acme.id).domains] == ["acme.test"]

    saml.create(acme.id, "okta", idp, CLI, domains=("acme.example",))
    assert [d.domain for d in services.orgs.get(acme.id).domains] == ["acme.example", "acme.test"]
    actions = [e.action for e in services.audit.list(acme.id)[0]]
    assert "connection.created" in actions and "domain.verified" in actions


def test_connection_of_an_invitation_mode_org_starts_suspended(
    saml: SamlConnectionService, services: Services
) -> None:
    org = services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI).org
    connection = saml.create(org.id, "okta", parse_idp_metadata(vendor_metadata("okta")), CLI)
    assert connection.suspended and not connection.is_usable


def test_certificates_rotate_but_the_last_one_stays(
    saml: SamlConnectionService, acme: m.Organization
) -> None:
    connection = saml.create(acme.id, "okta", parse_idp_metadata(vendor_metadata("okta")), CLI)
    connection = saml.add_idp_certificate(acme.id, connection.id, IDP_NEW_KEY.cert_b64, CLI)
    assert len(SamlConfig.from_dict(connection.config).idp_certs) == 2
    connection = saml.remove_idp_certificate(acme.id, connection.id, cert_fingerprint(IDP_KEY.cert_b64), CLI)
    assert SamlConfig.from_dict(connection.config).idp_certs == (IDP_NEW_KEY.cert_b64,)
    with pytest.raises(InvalidInput, match="at least one"):
        saml.remove_idp_certificate(acme.id, connection.id, cert_fingerprint(IDP_NEW_KEY.cert_b64), CLI)
    with pytest.raises(NotFound):
        saml.remove_idp_certificate(acme.id, connection.id, "00" * 32, CLI)


def test_setup_changes_are_scoped_to_the_organization(
    saml: SamlConnectionService, services: Services, acme: m.Organization
) -> None:
    connection = saml.create(acme.id, "okta", parse_idp_metadata(vendor_metadata("okta")), CLI)
    other = services.orgs.create("Globex", m.MembershipMode.SSO, CLI).org
    with pytest.raises(NotFound):
        saml.set_allow_idp_initiated(other.id, connection.id, True, CLI)


def test_replay_cache_entries_expire_and_are_purged(
    saml: SamlConnectionService, services: Services, acme: m.Organization, clock: FakeClock
) -> None:
    connection = saml.create(acme.id, "okta", parse_idp_metadata(vendor_metadata("okta")), CLI)
    until = clock.now + timedelta(minutes=5)
    saml.accept_assertion(connection, assertion_id="_a", not_on_or_after=until, in_response_to=None)
    with pytest.raises(SamlRefused) as refused:
        saml.accept_assertion(connection, assertion_id="_a", not_on_or_after=until, in_response_to=None)
    assert refused.value.code == "saml_replay"
    clock.advance(minutes=10)
    with services.db.transaction() as tx:
        assert SamlStore(tx).purge_expired(clock.now) == 1
        assert tx.session.get(SamlAssertionSeen, (connection.id, "_a")) is None


def test_the_same_assertion_id_on_another_connection_is_not_a_replay(
    saml: SamlConnectionService, acme: m.Organization
) -> None:
    idp = parse_idp_metadata(vendor_metadata("okta"))
    first = saml.create(acme.id, "one", idp, CLI)
    second = saml.create(acme.id, "two", idp, CLI)
    saml.accept_assertion(first, assertion_id="_same", not_on_or_after=None, in_response_to=None)
    saml.accept_assertion(second, assertion_id="_same", not_on_or_after=None, in_response_to=None)


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1"])
def test_outside_development_metadata_on_a_private_address_is_never_requested(address: str) -> None:
    requested: list[str] = []

    def get(url: str, **kwargs: object) -> None:
        requested.append(url)

    def dns(host: str, port: int) -> list[str]:
        return [address]

    for load in (fetch_metadata, load_metadata):
        with pytest.raises(InvalidInput, match="private or reserved") as error:
            load("https://idp.example.test/metadata", allow_private=False, get=get, resolver=dns)
        assert address in error.value.message and error.value.details["field"] == "metadata"
    with pytest.raises(InvalidInput, match="https"):
        fetch_metadata("http://127.0.0.1/metadata", allow_private=False, get=get, resolver=dns)
    assert requested == []
