"""SAML connections: setting them up (IdP metadata, certificates, SP key pairs, the IdP-initiated flag) and
the shared state a sign-in consumes (remembered request ids, the assertion replay cache, refusals in the audit).

The protocol itself (python3-saml, the checks it lacks) is the ``saml`` adapter's business; this module keeps
what must be transactional and shared by every gateway process. The configuration lives in
``SsoConnection.config`` in the shape of :class:`SamlConfig`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from gateway.domain import model as m
from gateway.domain.errors import DomainError, InvalidInput, NotFound
from gateway.domain.policy import normalize_email, slugify
from gateway.presets import load_preset
from gateway.services.base import Clock, Listener, ServiceBase, TokenFactory, hash_token, new_id
from gateway.services.domains import DomainService
from gateway.services.kept_connections import ConnectionChanged, KeptConnections
from gateway.services.oidc_connections import OidcRefused, SecretBox
from gateway.services.outbound import Resolver, check_outbound_url, pinned_session, resolve
from gateway.storage.db import Database
from gateway.storage.saml_store import SamlStore
from gateway.storage.saml_tables import SamlAssertionSeen, SamlRequest

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

METADATA_MAX_BYTES = 512 * 1024
METADATA_TIMEOUT = (5.0, 10.0)
REQUEST_LIFETIME = timedelta(minutes=10)
# An assertion with no NotOnOrAfter of its own is remembered this long (longer than any sane validity).
REPLAY_FALLBACK_LIFETIME = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=2)
# The HKDF purpose of the box sealing SP private keys (a different key from the OIDC client secrets' box).
SP_KEY_PURPOSE = "saml sp private key"


class SamlRefused(DomainError):
    """A SAML message the gateway will not accept; ``code`` says why (stable, shown on the refusal page)."""

    code = "saml_refused"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


# -- configuration ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpKey:
    """An SP key pair (base64 DER certificate, PEM private key) used to decrypt assertions and sign logout.

    In ``SsoConnection.config`` the private key is sealed (``fernet:v1:...``, see
    :meth:`SamlConnectionService.config`); only the service's opened configuration carries the PEM."""

    cert: str
    key: str
    created_at: str

    @property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.cert)


@dataclass(frozen=True)
class SamlConfig:
    idp_entity_id: str
    idp_sso_url: str
    idp_certs: tuple[str, ...]
    idp_sso_binding: str = BINDING_REDIRECT
    idp_slo_url: str | None = None
    idp_slo_binding: str = BINDING_REDIRECT
    sp_keys: tuple[SpKey, ...] = ()
    want_assertions_encrypted: bool = False
    allow_idp_initiated: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    nameid_format: str = NAMEID_EMAIL
    admin_groups: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamlConfig:
        return cls(
            idp_entity_id=data["idp_entity_id"],
            idp_sso_url=data["idp_sso_url"],
            idp_certs=tuple(data.get("idp_certs", ())),
            idp_sso_binding=data.get("idp_sso_binding", BINDING_REDIRECT),
            idp_slo_url=data.get("idp_slo_url"),
            idp_slo_binding=data.get("idp_slo_binding", BINDING_REDIRECT),
            sp_keys=tuple(SpKey(**k) for k in data.get("sp_keys", ())),
            want_assertions_encrypted=bool(data.get("want_assertions_encrypted", False)),
            allow_idp_initiated=bool(data.get("allow_idp_initiated", False)),
            attributes=dict(data.get("attributes", {})),
            nameid_format=data.get("nameid_format", NAMEID_EMAIL),
            admin_groups=tuple(data.get("admin_groups", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["idp_certs"] = list(self.idp_certs)
        data["sp_keys"] = [asdict(k) for k in self.sp_keys]
        data["admin_groups"] = list(self.admin_groups)
        return data


@dataclass(frozen=True)
class IdpDescriptor:
    """What the gateway needs to know about an identity provider, from metadata or typed in by hand."""

    entity_id: str
    sso_url: str
    certs: tuple[str, ...]
    sso_binding: str = BINDING_REDIRECT
    slo_url: str | None = None
    slo_binding: str = BINDING_REDIRECT


# -- certificates and keys -------------------------------------------------------------------------------


def normalize_cert(text: str) -> str:
    """A certificate as base64 DER without PEM armour or whitespace; ``InvalidInput`` if it is not one."""
    body = "".join(
        line.strip() for line in (text or "").strip().splitlines() if line.strip() and "-----" not in line
    )
    body = "".join(body.split())
    try:
        der = base64.b64decode(body, validate=True)
        x509.load_der_x509_certificate(der)
    except Exception:
        raise InvalidInput(
            "This is not an X.509 certificate (PEM or base64 DER).", field="certificate"
        ) from None
    return base64.b64encode(der).decode()


def cert_fingerprint(cert_b64: str) -> str:
    """SHA-256 fingerprint of a base64 DER certificate, as lowercase hex."""
    return hashlib.sha256(base64.b64decode(cert_b64)).hexdigest()


def generate_sp_key(common_name: str, now: datetime, *, key_size: int = 2048) -> SpKey:
    """A new RSA key pair with a self-signed certificate (SAML uses the certificate only as a key carrier)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return SpKey(
        cert=base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        key=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        created_at=now.isoformat(),
    )


# -- IdP metadata ----------------------------------------------------------------------------------------


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def parse_idp_metadata(xml: bytes, entity_id: str | None = None) -> IdpDescriptor:
    """The IdP described by SAML metadata. Entities and DTDs are refused, never expanded."""
    if len(xml) > METADATA_MAX_BYTES:
        raise InvalidInput("The IdP metadata is larger than 512 KiB.", field="metadata")
    try:
        root = etree.fromstring(xml, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"The IdP metadata is not well-formed XML: {exc}", field="metadata") from None
    if root.getroottree().docinfo.doctype:
        raise InvalidInput("The IdP metadata must not contain a DOCTYPE.", field="metadata")
    entities = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else root.iter(f"{{{MD}}}EntityDescriptor")
    idps = [e for e in entities if e.find(f"{{{MD}}}IDPSSODescriptor") is not None]
    if entity_id:
        idps = [e for e in idps if e.get("entityID") == entity_id]
    if len(idps) != 1:
        raise InvalidInput(
            "The metadata must describe exactly one identity provider"
            + (f" with entity ID {entity_id!r}." if entity_id else "."),
            field="metadata",
        )
    entity = idps[0]
    descriptor = entity.find(f"{{{MD}}}IDPSSODescriptor")
    sso = {s.get("Binding"): s.get("Location") for s in descriptor.findall(f"{{{MD}}}SingleSignOnService")}
    slo = {s.get("Binding"): s.get("Location") for s in descriptor.findall(f"{{{MD}}}SingleLogoutService")}
    binding = BINDING_REDIRECT if sso.get(BINDING_REDIRECT) else BINDING_POST
    certs: list[str] = []
    for key in descriptor.findall(f"{{{MD}}}KeyDescriptor"):
        if key.get("use") not in (None, "", "signing"):
            continue
        for cert in key.iter(f"{{{DS}}}X509Certificate"):
            value = normalize_cert(cert.text or "")
            if value not in certs:
                certs.append(value)
    return validate_idp(
        IdpDescriptor(
            entity_id=entity.get("entityID") or "",
            sso_url=sso.get(binding) or "",
            certs=tuple(certs),
            sso_binding=binding,
            slo_url=slo.get(BINDING_REDIRECT) or slo.get(BINDING_POST),
            slo_binding=BINDING_REDIRECT
            if slo.get(BINDING_REDIRECT) or not slo.get(BINDING_POST)
            else BINDING_POST,
        )
    )


def validate_idp(idp: IdpDescriptor) -> IdpDescriptor:
    if not idp.entity_id.strip() or len(idp.entity_id) > 1024:
        raise InvalidInput("The IdP needs an entity ID.", field="entity_id")
    for label, url in (("SSO URL", idp.sso_url), ("SLO URL", idp.slo_url)):
        if url is None and label == "SLO URL":
            continue
        parts = urlsplit(url or "")
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InvalidInput(f"The IdP {label} must be an absolute http(s) URL.", field="sso_url")
    if idp.sso_binding not in (BINDING_REDIRECT, BINDING_POST):
        raise InvalidInput("The IdP must offer the HTTP-Redirect or HTTP-POST binding.", field="sso_url")
    if not idp.certs:
        raise InvalidInput("The IdP needs at least one signing certificate.", field="certificate")
    return replace(idp, entity_id=idp.entity_id.strip(), certs=tuple(normalize_cert(c) for c in idp.certs))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_metadata(
    url: str,
    *,
    allow_private: bool,
    get: Callable[..., Any] | None = None,
    resolver: Resolver = resolve,
    field: str = "metadata",
    max_bytes: int = METADATA_MAX_BYTES,
) -> bytes:
    """Download IdP metadata with a timeout and a size cap, never following redirects. The URL must pass the
    outbound address policy (``gateway.services.outbound``: https to public addresses outside development);
    plain http is accepted only on loopback, for local tests. ``field`` names the input in refusals."""
    url = check_outbound_url(
        url, what="metadata URL", field=field, allow_private=allow_private, resolver=resolver
    )
    parts = urlsplit(url)
    if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        raise InvalidInput("The metadata URL must use https.", field=field)
    # The connection goes to the address checked when it opens (no DNS rebinding past the check above).
    get = get or pinned_session(allow_private=allow_private, resolver=resolver).get
    try:
        with get(url, timeout=METADATA_TIMEOUT, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                raise InvalidInput(
                    f"Fetching the metadata answered HTTP {response.status_code}.", field=field
                )
            body = bytearray()
            for chunk in response.iter_content(65536):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise InvalidInput("The IdP metadata is larger than 512 KiB.", field=field)
            return bytes(body)
    except requests.RequestException as exc:
        raise InvalidInput(f"Could not fetch the metadata: {type(exc).__name__}.", field=field) from None


def load_metadata(
    source: str,
    *,
    allow_private: bool,
    get: Callable[..., Any] | None = None,
    resolver: Resolver = resolve,
) -> bytes:
    """Metadata from a URL or a file path (the CLI's ``--metadata FILE_OR_URL``)."""
    if source.startswith(("https://", "http://")):
        return fetch_metadata(source, allow_private=allow_private, get=get, resolver=resolver)
    try:
        with open(source, "rb") as fh:
            data = fh.read(METADATA_MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"Cannot read {source}: {exc.strerror}.", field="metadata") from None
    if len(data) > METADATA_MAX_BYTES:
        raise InvalidInput("The IdP metadata is larger than 512 KiB.", field="metadata")
    return data


# -- the service -----------------------------------------------------------------------------------------


class SamlConnectionService(ServiceBase):
    domains: DomainService | None = None

    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: TokenFactory,
        listeners: list[Listener] | None = None,
        *,
        allow_private_targets: bool = False,
        get: Callable[..., Any] | None = None,
        resolver: Resolver = resolve,
        box: SecretBox | None = None,
    ) -> None:
        """``allow_private_targets`` (development only) lets metadata come from loopback or private hosts.
        ``box`` seals SP private keys at rest; without one the service refuses to store a private key."""
        super().__init__(db, clock, tokens, listeners)
        self.allow_private_targets = allow_private_targets
        self.box = box
        self.get = get
        self.resolver = resolver
        self.kept = KeptConnections()

    # -- IdP metadata ------------------------------------------------------------------------------------
    def fetch_metadata(self, url: str, *, field: str = "metadata") -> bytes:
        """IdP metadata from an Admin's URL, under this gateway's outbound address policy."""
        return fetch_metadata(
            url, allow_private=self.allow_private_targets, get=self.get, resolver=self.resolver, field=field
        )

    def load_metadata(self, source: str) -> bytes:
        """IdP metadata from a URL (under the outbound address policy) or an operator's file."""
        return load_metadata(
            source, allow_private=self.allow_private_targets, get=self.get, resolver=self.resolver
        )

    # -- SP private keys at rest -------------------------------------------------------------------------
    def config(self, connection: m.SsoConnection) -> SamlConfig:
        """The connection's configuration with its SP private keys opened (PEM), for signing and decryption.

        A key stored before sealing existed (plain PEM) is read as is; the next write of the connection seals
        it. ``SamlRefused("saml_sp_key_unreadable")`` when a sealed key cannot be opened with this gateway's
        secret key."""
        config = SamlConfig.from_dict(connection.config)
        return replace(config, sp_keys=tuple(replace(k, key=self._open_key(k.key)) for k in config.sp_keys))

    def _open_key(self, stored: str) -> str:
        if not stored.startswith(SecretBox.PREFIX):
            return stored
        if self.box is None:
            raise SamlRefused(
                "saml_sp_key_unreadable", "The gateway has no secret key to open this connection's SP key."
            )
        try:
            return self.box.open(stored)
        except OidcRefused:
            raise SamlRefused(
                "saml_sp_key_unreadable",
                "This connection's SP private key cannot be decrypted with the gateway's secret key (was "
                "GATEWAY_SECRET_KEY changed?). An administrator must add a new SP key to the connection.",
            ) from None

    def _sealed(self, config: SamlConfig) -> SamlConfig:
        """``config`` with every SP private key sealed (those already sealed are kept as they are)."""
        if all(k.key.startswith(SecretBox.PREFIX) for k in config.sp_keys):
            return config
        if self.box is None:
            raise ValueError(
                "SAML SP private keys are stored encrypted: build Services with the gateway's secret key."
            )
        box = self.box
        return replace(
            config,
            sp_keys=tuple(
                k if k.key.startswith(SecretBox.PREFIX) else replace(k, key=box.seal(k.key))
                for k in config.sp_keys
            ),
        )

    # -- setup -------------------------------------------------------------------------------------------
    def create(
        self,
        org_id: str,
        name: str,
        idp: IdpDescriptor,
        actor: m.Actor,
        *,
        preset: str | None = None,
        slug: str | None = None,
        allow_idp_initiated: bool = False,
        encrypt_assertions: bool = False,
        admin_groups: tuple[str, ...] = (),
        domains: tuple[str, ...] = (),
        metadata_url: str | None = None,
    ) -> m.SsoConnection:
        """A new SAML connection for ``org_id`` (created suspended if the org is in invitation mode), and the
        ``domains`` that route people to it once verified (pending claims, unless the operator's CLI records
        them verified), all in one transaction. ``metadata_url`` (where the metadata came from) is kept so the
        metadata can be refreshed from it."""
        vendor = load_preset(preset)
        idp = validate_idp(idp)
        attributes = {k: str(vendor.saml.get(k, "")) for k in ("email", "first_name", "last_name", "groups")}
        # Every connection gets an SP key pair: it signs logout messages and decrypts encrypted assertions.
        sp_keys = (generate_sp_key(f"identity-gateway SAML {name}", self.now()),)
        config = SamlConfig(
            idp_entity_id=idp.entity_id, idp_sso_url=idp.sso_url, idp_certs=idp.certs,
            idp_sso_binding=idp.sso_binding, idp_slo_url=idp.slo_url, idp_slo_binding=idp.slo_binding, sp_keys=sp_keys,
            want_assertions_encrypted=encrypt_assertions, allow_idp_initiated=allow_idp_initiated,
            attributes=attributes, nameid_format=str(vendor.saml.get("nameid_format", NAMEID_EMAIL)),
            admin_groups=tuple(admin_groups),
        )  # fmt: skip
        config = self._sealed(config)
        if not (name or "").strip():
            raise InvalidInput("A connection needs a name.", field="name")
        claims = self.domains or DomainService(self.db, self.clock, self.tokens, self.listeners)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            claims.add_in(tx, org, domains, actor)
            connection = m.SsoConnection(
                id=new_id(), org_id=org.id, slug=slugify(slug or f"{org.slug}-{name}"),
                protocol=m.ConnectionProtocol.SAML, name=name.strip(), created_at=self.now(), preset=vendor.key,
                config={**config.to_dict(), **({"metadata_url": metadata_url} if metadata_url else {})},
                suspended=org.mode is m.MembershipMode.INVITATION,
            )  # fmt: skip
            tx.add(connection)
            tx.flush(f"A connection with the slug {connection.slug!r} already exists.")
            self.audit(
                tx, org.id, actor, "connection.created", connection, protocol="saml", slug=connection.slug,
                idp_entity_id=idp.entity_id, certificates=[cert_fingerprint(c) for c in idp.certs],
            )  # fmt: skip
            return connection

    def _update(
        self,
        org_id: str,
        connection_id: str,
        actor: m.Actor,
        action: str,
        change: Callable[[SamlConfig], SamlConfig],
        **details: Any,
    ) -> m.SsoConnection:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            connection = self.found(tx.get(m.SsoConnection, org_id, connection_id), "connection")
            if connection.protocol is not m.ConnectionProtocol.SAML:
                raise InvalidInput("This is not a SAML connection.", field="connection")
            updated = change(SamlConfig.from_dict(connection.config))
            # Keys that are not SAML settings (domains, the metadata URL, test results) are kept.
            connection.config = {**connection.config, **self._sealed(updated).to_dict()}
            self.audit(tx, org_id, actor, action, connection, slug=connection.slug, **details)
            return connection

    def update_idp(
        self, org_id: str, connection_id: str, idp: IdpDescriptor, actor: m.Actor
    ) -> m.SsoConnection:
        """Replace the IdP's entity ID, URLs and certificates (a metadata re-import)."""
        idp = validate_idp(idp)
        return self._update(
            org_id, connection_id, actor, "connection.saml.idp_updated",
            lambda c: replace(c, idp_entity_id=idp.entity_id, idp_sso_url=idp.sso_url, idp_certs=idp.certs,
                              idp_sso_binding=idp.sso_binding, idp_slo_url=idp.slo_url,
                              idp_slo_binding=idp.slo_binding),
            idp_entity_id=idp.entity_id, certificates=[cert_fingerprint(c) for c in idp.certs],
        )  # fmt: skip

    def add_idp_certificate(
        self, org_id: str, connection_id: str, cert: str, actor: m.Actor
    ) -> m.SsoConnection:
        """Trust one more IdP signing certificate (the new one during a rotation)."""
        value = normalize_cert(cert)

        def change(c: SamlConfig) -> SamlConfig:
            return c if value in c.idp_certs else replace(c, idp_certs=(*c.idp_certs, value))

        return self._update(
            org_id, connection_id, actor, "connection.saml.certificate_added", change,
            fingerprint=cert_fingerprint(value),
        )  # fmt: skip

    def remove_idp_certificate(
        self, org_id: str, connection_id: str, fingerprint: str, actor: m.Actor
    ) -> m.SsoConnection:
        """Stop trusting an IdP certificate (the old one, once the rotation is done); never the last one."""
        wanted = fingerprint.replace(":", "").strip().lower()

        def change(c: SamlConfig) -> SamlConfig:
            kept = tuple(cert for cert in c.idp_certs if cert_fingerprint(cert) != wanted)
            if len(kept) == len(c.idp_certs):
                raise NotFound("No IdP certificate with this SHA-256 fingerprint on the connection.")
            if not kept:
                raise InvalidInput(
                    "A connection must keep at least one IdP certificate.", field="certificate"
                )
            return replace(c, idp_certs=kept)

        return self._update(
            org_id, connection_id, actor, "connection.saml.certificate_removed", change, fingerprint=wanted
        )

    def rotate_sp_key(self, org_id: str, connection_id: str, actor: m.Actor) -> m.SsoConnection:
        """Add a new SP key pair in front (published first in the SP metadata); older ones still decrypt."""
        key = generate_sp_key("identity-gateway SAML", self.now())
        return self._update(
            org_id, connection_id, actor, "connection.saml.sp_key_added",
            lambda c: replace(c, sp_keys=(key, *c.sp_keys)), fingerprint=key.fingerprint,
        )  # fmt: skip

    def retire_sp_key(
        self, org_id: str, connection_id: str, fingerprint: str, actor: m.Actor
    ) -> m.SsoConnection:
        wanted = fingerprint.replace(":", "").strip().lower()

        def change(c: SamlConfig) -> SamlConfig:
            kept = tuple(k for k in c.sp_keys if k.fingerprint != wanted)
            if len(kept) == len(c.sp_keys):
                raise NotFound("No SP key with this SHA-256 fingerprint on the connection.")
            if c.want_assertions_encrypted and not kept:
                raise InvalidInput("Encrypted assertions need at least one SP key.", field="sp_key")
            return replace(c, sp_keys=kept)

        return self._update(
            org_id, connection_id, actor, "connection.saml.sp_key_removed", change, fingerprint=wanted
        )

    def set_allow_idp_initiated(
        self, org_id: str, connection_id: str, allowed: bool, actor: m.Actor
    ) -> m.SsoConnection:
        return self._update(
            org_id, connection_id, actor, "connection.saml.idp_initiated_changed",
            lambda c: replace(c, allow_idp_initiated=allowed), allowed=allowed,
        )  # fmt: skip

    def set_admin_groups(
        self, org_id: str, connection_id: str, groups: tuple[str, ...], actor: m.Actor
    ) -> m.SsoConnection:
        """IdP groups whose members get the Admin role when they are created just in time."""
        return self._update(
            org_id, connection_id, actor, "connection.saml.role_mapping_changed",
            lambda c: replace(c, admin_groups=tuple(groups)), admin_groups=list(groups),
        )  # fmt: skip

    # -- sign-in state -----------------------------------------------------------------------------------
    def by_slug(self, slug: str) -> m.SsoConnection | None:
        """The SAML connection with this slug, or ``None`` (also for an OIDC connection's slug)."""
        with self.db.transaction(write=False) as tx:
            connection = tx.connection_by_slug(slug)
            if connection is None or connection.protocol is not m.ConnectionProtocol.SAML:
                return None
            return connection

    def kept_by_slug(self, slug: str, *, fresh: bool = False) -> m.SsoConnection | None:
        """``by_slug``, from this process's kept copy when it has one (``gateway.services.kept_connections``):
        the caller must pass it to ``accept_assertion`` with ``kept_copy=True``, which checks it, and on a
        refusal before that ask ``is_current``. ``fresh``: read it, whatever is kept. A connection read here is
        kept for the next sign-in."""
        copy = None if fresh else self.kept.get(slug)
        if copy is not None:
            return copy
        connection = self.by_slug(slug)
        if connection is not None:
            self.kept.keep(connection)
        return connection

    def is_current(self, connection: m.SsoConnection) -> bool:
        """Whether ``connection`` is the stored one (its revision), as this transaction sees it; a copy that is
        not is forgotten."""
        with self.db.transaction(write=False) as tx:
            current = tx.connection_revision(connection.id) == connection.revision
        if not current:
            self.kept.forget(connection.slug)
        return current

    def remember_request(
        self,
        connection: m.SsoConnection,
        request_id: str,
        kind: str = "authn",
        *,
        browser_secret: str | None = None,
    ) -> None:
        """Keep the id of a request sent to the IdP so its answer's ``InResponseTo`` can be checked once;
        ``browser_secret`` (the binding cookie's value) ties an AuthnRequest to the browser that started it."""
        now = self.now()
        with self.db.transaction() as tx:
            store = SamlStore(tx)
            store.purge_expired(now)
            store.remember_request(
                SamlRequest(
                    id=request_id, org_id=connection.org_id, connection_id=connection.id, kind=kind,
                    created_at=now, expires_at=now + REQUEST_LIFETIME,
                    browser_hash=hash_token(browser_secret) if browser_secret else None,
                )
            )  # fmt: skip

    def new_browser_secret(self) -> str:
        """A fresh random value for the SAML binding cookie."""
        return self.tokens.issue("sb").token

    def accept_assertion(
        self,
        connection: m.SsoConnection,
        *,
        assertion_id: str,
        not_on_or_after: datetime | None,
        in_response_to: str | None,
        browser_secret: str | None = None,
        kind: str = "authn",
        signs_in: str | None = None,
        kept_copy: bool = False,
    ) -> None:
        """Consume the request the assertion answers and record its ID, atomically; ``SamlRefused`` when
        the request is unknown, used or expired, was started in another browser (its binding cookie is not
        ``browser_secret``), or the assertion was seen before (a replay). ``kind`` is the remembered request's
        kind (``test`` for a test sign-in, which a real sign-in cannot consume; it changes no session, so it
        is not bound to the browser). ``signs_in``: the email the caller signs in next in this transaction; on
        PostgreSQL the statement that records the assertion then also takes the locks that sign-in takes
        first (``SamlStore.record_assertion_locking_sign_in``), a round trip fewer. ``kept_copy``: the
        connection is a copy kept from an earlier request (``kept_by_slug``); ``ConnectionChanged`` when it is
        not the stored one, before any refusal (on PostgreSQL checked in that same statement), and whenever
        that statement finds the connection deleted."""
        now = self.now()
        expires = (not_on_or_after + CLOCK_SKEW) if not_on_or_after else now + REPLAY_FALLBACK_LIFETIME
        with self.db.transaction() as tx:
            store = SamlStore(tx)
            seen = SamlAssertionSeen(
                connection_id=connection.id, assertion_id=assertion_id, org_id=connection.org_id,
                seen_at=now, expires_at=max(expires, now + CLOCK_SKEW),
            )  # fmt: skip
            request = None if in_response_to is None else (in_response_to, kind, now)
            outcome = None
            email = _lockable(signs_in) if store.dialect == "postgresql" else None
            if email is not None:
                outcome = store.record_assertion_locking_sign_in(seen, email, request)
                self._check_copy(connection, outcome[2], kept_copy)
            elif kept_copy:
                self._check_copy(connection, tx.connection_revision(connection.id), kept_copy)
            if outcome is not None:
                recorded, taken, _ = outcome
            elif in_response_to is None:
                recorded, taken = store.record_assertion(seen), None
            else:
                # One round trip on PostgreSQL: the replay cache's INSERT consumes the request in a CTE.
                recorded, taken = store.record_assertion_taking_request(seen, in_response_to, kind, now)
            if not recorded:
                raise SamlRefused("saml_replay", "This sign-in assertion was already used.")
            if in_response_to is None:
                return
            if taken is None:
                raise SamlRefused(
                    "saml_unknown_request",
                    "This sign-in answers a request the gateway did not send, already used, or that expired. "
                    "Start the sign-in again.",
                )
            if kind == "authn" and not _same_browser(taken[0], browser_secret):
                raise SamlRefused(
                    "saml_other_browser",
                    "This sign-in was started in another browser. Start the sign-in again here.",
                )

    def _check_copy(self, connection: m.SsoConnection, stored: str | None, kept_copy: bool) -> None:
        """``ConnectionChanged`` when the connection is gone (no ``stored`` revision) or, for a kept copy, when
        ``stored`` is not the copy's revision; the copy is then forgotten."""
        if stored is None or (kept_copy and stored != connection.revision):
            self.kept.forget(connection.slug)
            raise ConnectionChanged(connection.slug)

    def request_pending(self, connection: m.SsoConnection, request_id: str | None, kind: str) -> bool:
        """Whether the gateway sent ``request_id`` (of ``kind``) through this connection and it is still live."""
        if not request_id:
            return False
        with self.db.transaction() as tx:
            return SamlStore(tx).request_live(connection.org_id, connection.id, request_id, kind, self.now())

    def consume_logout_request(self, connection: m.SsoConnection, request_id: str) -> bool:
        with self.db.transaction() as tx:
            return SamlStore(tx).consume_request(
                connection.org_id, connection.id, request_id, "logout", self.now()
            )

    def record_refusal(self, connection: m.SsoConnection, actor: m.Actor, code: str, detail: str) -> None:
        """Audit a SAML sign-in the gateway refused before it reached the organization core."""
        with self.db.transaction() as tx:
            self.audit(
                tx, connection.org_id, actor, "sign_in.refused", connection,
                slug=connection.slug, reason=code, detail=detail[:500],
            )  # fmt: skip

    def single_logout(
        self, connection: m.SsoConnection, name_id: str, session_index: str | None, actor: m.Actor
    ) -> int:
        """End the sessions this connection started for ``name_id`` (one IdP session, if an index is given)."""
        now = self.now()
        ended = 0
        with self.db.transaction() as tx:
            for session in SamlStore(tx).live_sessions(connection.org_id, now):
                saml = (session.data or {}).get("saml") or {}
                if saml.get("connection") != connection.id or saml.get("name_id") != name_id:
                    continue
                if session_index and saml.get("session_index") not in (None, session_index):
                    continue
                session.revoked_at = now
                ended += 1
            if ended:
                self.audit(
                    tx, connection.org_id, actor, "session.single_logout", connection,
                    slug=connection.slug, sessions=ended,
                )  # fmt: skip
        return ended


def _lockable(email: str | None) -> str | None:
    """The address a sign-in's join lock is taken on, or ``None`` when there is none (the sign-in that follows
    refuses an address that is not one, as it would anyway)."""
    if email is None:
        return None
    try:
        return normalize_email(email)
    except InvalidInput:
        return None


def _same_browser(browser_hash: str | None, browser_secret: str | None) -> bool:
    """Whether the browser that posts the answer holds the binding cookie of the one that sent the request.
    A request remembered without a binding (before the binding existed) is refused too: nothing proves it."""
    if not browser_hash or not browser_secret:
        return False
    return hmac.compare_digest(hash_token(browser_secret), browser_hash)
