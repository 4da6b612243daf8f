"""OpenID Connect connections and sign-ins in flight.

``OidcConnectionService`` adds an organization's OIDC connection: the issuer's discovery document is fetched
and checked, the client secret is encrypted at rest, vendor rules (driven by the preset, supplied by the OIDC
adapter) shape the stored configuration. ``OidcLoginService`` keeps each authorization request's ``state``,
``nonce`` and PKCE verifier server-side, bound to the browser that started it, single use, with an expiry.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.domain import model as m
from gateway.domain.errors import DomainError, InvalidInput
from gateway.domain.policy import normalize_email, slugify
from gateway.presets import Preset, load_preset
from gateway.services.base import Clock, Listener, ServiceBase, TokenFactory, hash_token, new_id
from gateway.services.domains import DomainService
from gateway.services.outbound import OutboundPolicy, Resolver, check_outbound_url, resolve
from gateway.storage.db import Database
from gateway.storage.oidc_store import OidcStore
from gateway.storage.oidc_tables import OidcLoginState

LOGIN_STATE_LIFETIME = timedelta(minutes=10)
HTTP_TIMEOUT_SECONDS = 10
MAX_DOCUMENT_BYTES = 512 * 1024
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class OidcRefused(DomainError):
    """An OpenID Connect step failed; ``code`` says which (``state_invalid``, ``bad_issuer``, ...)."""

    code = "oidc_refused"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


# -- secrets at rest --------------------------------------------------------------------------------------
class SecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) of values stored in the database, with a
    key derived by HKDF from the gateway's secret key. A copied database alone does not reveal the secrets."""

    PREFIX = "fernet:v1:"

    def __init__(self, secret_key: str, purpose: str = "oidc client secret") -> None:
        if not secret_key:
            raise ValueError("SecretBox needs the gateway's secret key")
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"identity-gateway", info=purpose.encode()
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: str) -> str:
        return self.PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(self.PREFIX):
            raise OidcRefused("secret_unreadable", "A stored secret is not in the expected encrypted form.")
        try:
            return self._fernet.decrypt(sealed.removeprefix(self.PREFIX).encode()).decode()
        except InvalidToken:
            raise OidcRefused(
                "secret_unreadable",
                "A stored secret cannot be decrypted with this gateway's secret key (was GATEWAY_SECRET_KEY "
                "changed?). Enter the connection's client secret again.",
            ) from None


# -- fetching provider documents --------------------------------------------------------------------------
FetchJson = Callable[[str], dict[str, Any]]


def fetch_json(url: str, *, session: requests.Session | None = None) -> dict[str, Any]:
    """GET a JSON object from an identity provider, with a timeout and a size limit. Redirects are not
    followed (a redirect could lead past the outbound address policy); a 3xx answer is a provider error.
    ``session`` is the outbound policy's pinned session (see ``pinned_fetch``)."""
    try:
        response = (session or requests).get(
            url,
            timeout=HTTP_TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
            stream=True,
            allow_redirects=False,
        )
        body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise OidcRefused("provider_unreachable", f"Could not reach {url}: {type(exc).__name__}.") from None
    if response.status_code != 200:
        raise OidcRefused("provider_error", f"{url} answered HTTP {response.status_code}.")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise OidcRefused(
            "provider_error", f"{url} returned a document larger than {MAX_DOCUMENT_BYTES} bytes."
        )
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise OidcRefused("provider_error", f"{url} did not return JSON.") from None
    if not isinstance(data, dict):
        raise OidcRefused("provider_error", f"{url} did not return a JSON object.")
    return data


def pinned_fetch(outbound: OutboundPolicy) -> FetchJson:
    """``fetch_json`` whose connections go only to addresses ``outbound`` checked when they open."""

    def fetch(url: str) -> dict[str, Any]:
        with outbound.session() as session:
            return fetch_json(url, session=session)

    return fetch


def checked_fetch(fetch: FetchJson, outbound: OutboundPolicy) -> FetchJson:
    """``fetch`` behind the outbound address policy: every URL is checked right before it is fetched (a stored
    URL's host may resolve to a private address later), and refused with ``InvalidInput`` on ``url``."""

    def checked(url: str) -> dict[str, Any]:
        return fetch(outbound.check(url, what="identity provider URL", field="url"))

    return checked


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of an OpenID Provider's discovery document the gateway relies on."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_signing_alg_values_supported: tuple[str, ...] = ("RS256",)
    scopes_supported: tuple[str, ...] = ()
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "id_token_signing_alg_values_supported": list(self.id_token_signing_alg_values_supported),
            "scopes_supported": list(self.scopes_supported),
            "userinfo_endpoint": self.userinfo_endpoint,
            "end_session_endpoint": self.end_session_endpoint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderMetadata:
        return cls(
            issuer=data["issuer"],
            authorization_endpoint=data["authorization_endpoint"],
            token_endpoint=data["token_endpoint"],
            jwks_uri=data["jwks_uri"],
            id_token_signing_alg_values_supported=tuple(
                data.get("id_token_signing_alg_values_supported") or ()
            ),
            scopes_supported=tuple(data.get("scopes_supported") or ()),
            userinfo_endpoint=data.get("userinfo_endpoint"),
            end_session_endpoint=data.get("end_session_endpoint"),
        )


def check_url(url: str, what: str, *, allow_http: bool) -> str:
    parts = urlsplit((url or "").strip())
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc or parts.query or parts.fragment:
        need = "an http(s)" if allow_http else "an https"
        raise InvalidInput(
            f"The {what} must be {need} URL without query or fragment, got {url!r}.", field=what
        )
    return url.strip()


# The provider's URLs the gateway itself calls (the authorization and end-session endpoints are only where
# browsers are sent).
FETCHED_ENDPOINTS = ("token_endpoint", "jwks_uri", "userinfo_endpoint")


def discover(
    issuer: str, fetch: FetchJson, *, allow_private: bool, resolver: Resolver = resolve
) -> ProviderMetadata:
    """Fetch ``<issuer>/.well-known/openid-configuration`` and check it (OpenID Connect Discovery 1.0 §4.3:
    the document's ``issuer`` must be the issuer asked for; only a trailing slash may differ, and the
    document's own value is what ID tokens are compared with, exactly).

    Outside development (``allow_private`` false) the issuer and every endpoint the gateway calls must be
    https on public addresses (``gateway.services.outbound``); the issuer is checked before anything is
    fetched."""
    issuer = check_url(issuer, "issuer", allow_http=allow_private)
    check_outbound_url(issuer, what="issuer", field="issuer", allow_private=allow_private, resolver=resolver)
    doc = fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
    found = doc.get("issuer")
    if not isinstance(found, str) or found.rstrip("/") != issuer.rstrip("/"):
        raise OidcRefused(
            "bad_issuer",
            f"The discovery document of {issuer} names the issuer {found!r}; they must be the same.",
        )
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
    if missing:
        raise OidcRefused("provider_error", f"The discovery document lacks {', '.join(missing)}.")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        check_url(doc[key], key, allow_http=allow_private)
    for key in FETCHED_ENDPOINTS:
        if doc.get(key):
            check_outbound_url(
                str(doc[key]),
                what=f"provider's {key}",
                field=key,
                allow_private=allow_private,
                resolver=resolver,
            )
    types = doc.get("response_types_supported") or ["code"]
    if "code" not in types:
        raise OidcRefused("provider_error", "The provider does not support the authorization code flow.")
    methods = doc.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise OidcRefused("provider_error", "The provider does not support PKCE with S256.")
    algs = tuple(doc.get("id_token_signing_alg_values_supported") or ("RS256",))
    if not any(a in ASYMMETRIC_ALGS for a in algs):
        raise OidcRefused(
            "provider_error",
            f"The provider signs ID tokens only with {', '.join(algs)}; an RS/PS/ES algorithm is required.",
        )
    return ProviderMetadata.from_dict({**doc, "id_token_signing_alg_values_supported": algs})


# -- vendor rules (supplied by the OIDC adapter) ----------------------------------------------------------
class VendorRules(Protocol):
    def issuer_for(self, preset: Preset, issuer: str) -> str:
        """The issuer to discover for this preset, or ``InvalidInput`` (e.g. Entra's multi-tenant issuers)."""

    def connection_extras(
        self, preset: Preset, metadata: ProviderMetadata, domains: list[str]
    ) -> dict[str, Any]:
        """Vendor-specific configuration stored with the connection (expected issuer, hosted domains, ...)."""


@dataclass(frozen=True)
class NewOidcConnection:
    connection: m.SsoConnection
    redirect_uri: str
    scopes: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OidcClientSettings:
    """Everything the adapter needs to run a connection's authorization code flow (secret decrypted)."""

    connection: m.SsoConnection
    metadata: ProviderMetadata
    client_id: str
    client_secret: str
    scopes: list[str]
    claims: dict[str, str]
    vendor: dict[str, Any]
    admin_groups: list[str]
    previous_client_secret: str | None = None
    """The secret before the last rotation, kept until the new one works or the Admin drops it."""


def _scopes(preset: Preset, metadata: ProviderMetadata) -> tuple[list[str], list[str]]:
    """The preset's scopes the provider actually offers (``openid`` always), and notes about dropped ones."""
    wanted = [str(s) for s in preset.oidc.get("scopes") or ["openid", "email", "profile"]]
    offered = set(metadata.scopes_supported)
    scopes, notes = ["openid"], []
    for scope in wanted:
        if scope == "openid" or scope in scopes:
            continue
        if offered and scope not in offered:
            notes.append(f"The provider does not offer the {scope!r} scope; it is not requested.")
            continue
        scopes.append(scope)
    return scopes, notes


class OidcConnectionService(ServiceBase):
    domains: DomainService | None = None

    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: TokenFactory,
        listeners: list[Listener] | None = None,
        *,
        box: SecretBox,
        vendors: VendorRules,
        redirect_uri: Callable[[str], str],
        fetch: FetchJson = fetch_json,
        outbound: OutboundPolicy,
    ) -> None:
        """``outbound.allow_private`` (development only) allows http and loopback or private providers."""
        super().__init__(db, clock, tokens, listeners)
        self.box = box
        self.vendors = vendors
        self.redirect_uri = redirect_uri
        self.fetch = fetch
        self.outbound = outbound

    def add(
        self,
        org_id: str,
        actor: m.Actor,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        preset: str | None = None,
        name: str | None = None,
        slug: str | None = None,
        domains: list[str] | None = None,
        admin_groups: list[str] | None = None,
    ) -> NewOidcConnection:
        """Discover the issuer, then store the connection (and any new verified domain) in one transaction."""
        chosen = load_preset(preset)
        if not (client_id or "").strip():
            raise InvalidInput(
                "An OIDC connection needs the client ID registered at the provider.", field="client_id"
            )
        if not client_secret:
            raise InvalidInput("An OIDC connection needs the client secret.", field="client_secret")
        wanted = [d.strip().lower().rstrip(".") for d in domains or [] if d.strip()]
        metadata = discover(
            self.vendors.issuer_for(chosen, issuer),
            self.fetch,
            allow_private=self.outbound.allow_private,
            resolver=self.outbound.resolver,
        )
        jwks = self.fetch(metadata.jwks_uri)  # checked by ``discover``
        if not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
            raise OidcRefused("provider_error", "The provider's JWKS has no keys.")
        scopes, notes = _scopes(chosen, metadata)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            (self.domains or DomainService(self.db, self.clock, self.tokens, self.listeners)).add_in(
                tx, org, wanted, actor
            )
            all_domains = [d.domain for d in tx.domains(org.id) if d.verified]
            connection = m.SsoConnection(
                id=new_id(), org_id=org.id, slug=slugify(slug or f"{org.slug}-{chosen.key}-oidc"),
                protocol=m.ConnectionProtocol.OIDC, name=(name or f"{chosen.name} (OIDC)").strip()[:200],
                created_at=self.now(), preset=chosen.key, suspended=org.mode is m.MembershipMode.INVITATION,
                config={
                    "issuer": metadata.issuer,
                    "client_id": client_id.strip(),
                    "client_secret": self.box.seal(client_secret),
                    "metadata": metadata.as_dict(),
                    "scopes": scopes,
                    "claims": {k: str(chosen.oidc.get(k) or "") for k in ("email", "given_name", "family_name", "groups")},
                    "vendor": self.vendors.connection_extras(chosen, metadata, all_domains),
                    "admin_groups": sorted({g.strip() for g in admin_groups or [] if g.strip()}),
                },
            )  # fmt: skip
            tx.add(connection)
            tx.flush(f"A connection with the slug {connection.slug!r} already exists.")
            self.audit(
                tx, org.id, actor, "connection.created", connection,
                protocol="oidc", slug=connection.slug, issuer=metadata.issuer, preset=chosen.key,
            )  # fmt: skip
            return NewOidcConnection(connection, self.redirect_uri(connection.slug), scopes, notes)

    def client_settings(self, connection: m.SsoConnection) -> OidcClientSettings:
        config = connection.config or {}
        try:
            metadata = ProviderMetadata.from_dict(config["metadata"])
            client_id, sealed = config["client_id"], config["client_secret"]
        except (KeyError, TypeError):
            raise OidcRefused(
                "connection_misconfigured", "This OIDC connection's configuration is incomplete."
            ) from None
        return OidcClientSettings(
            connection=connection,
            metadata=metadata,
            client_id=client_id,
            client_secret=self.box.open(sealed),
            scopes=list(config.get("scopes") or ["openid", "email", "profile"]),
            claims=dict(config.get("claims") or {}),
            vendor=dict(config.get("vendor") or {}),
            admin_groups=list(config.get("admin_groups") or []),
            previous_client_secret=self._previous_secret(config),
        )

    def _previous_secret(self, config: Mapping[str, Any]) -> str | None:
        sealed = config.get("previous_client_secret")
        if not sealed:
            return None
        try:
            return self.box.open(sealed)
        except OidcRefused:
            return None  # an unreadable old secret is simply not tried

    # -- client secret rotation ------------------------------------------------------------------------------
    def _change_secret(
        self, org_id: str, connection_id: str, actor: m.Actor, action: str, change: Callable[[dict], bool]
    ) -> m.SsoConnection:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            connection: m.SsoConnection = self.found(
                tx.get(m.SsoConnection, org_id, connection_id), "connection"
            )
            if connection.protocol is not m.ConnectionProtocol.OIDC:
                raise InvalidInput("This is not an OIDC connection.", field="connection")
            config = dict(connection.config or {})
            if change(config):
                connection.config = config
                self.audit(tx, org_id, actor, action, connection, slug=connection.slug)
            return connection

    def rotate_client_secret(
        self, org_id: str, connection_id: str, client_secret: str, actor: m.Actor
    ) -> m.SsoConnection:
        """Use ``client_secret`` from now on; the current one is kept as the previous secret, tried when the
        provider refuses the new one (``invalid_client``), until a sign-in works with the new one or the Admin
        drops it. A second rotation before that replaces the new secret and keeps the previous one."""
        if not client_secret or len(client_secret) > 2000:
            raise InvalidInput("Give the new client secret (up to 2000 characters).", field="client_secret")
        now = self.now().isoformat()

        def change(config: dict) -> bool:
            if not config.get("previous_client_secret"):
                config["previous_client_secret"] = config.get("client_secret")
            config["client_secret"] = self.box.seal(client_secret)
            config["client_secret_rotated_at"] = now
            return True

        return self._change_secret(org_id, connection_id, actor, "connection.oidc.secret_rotated", change)

    def drop_previous_client_secret(self, org_id: str, connection_id: str, actor: m.Actor) -> m.SsoConnection:
        """Stop trying the secret from before the last rotation (no previous secret: nothing to do)."""

        def change(config: dict) -> bool:
            return config.pop("previous_client_secret", None) is not None

        return self._change_secret(
            org_id, connection_id, actor, "connection.oidc.previous_secret_dropped", change
        )

    def new_secret_worked(self, connection: m.SsoConnection) -> None:
        """A sign-in succeeded with the current secret: the previous one is no longer needed."""
        if not (connection.config or {}).get("previous_client_secret"):
            return
        actor = m.Actor(type=m.ActorType.SYSTEM, label="oidc sign-in with the new client secret")
        self.drop_previous_client_secret(connection.org_id, connection.id, actor)


# -- sign-ins in flight -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartedLogin:
    """The values an authorization request carries; ``browser_secret`` goes into the binding cookie."""

    state: str
    nonce: str
    code_verifier: str
    browser_secret: str


class OidcLoginService(ServiceBase):
    lifetime = LOGIN_STATE_LIFETIME

    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: TokenFactory,
        listeners: list[Listener] | None = None,
        *,
        box: SecretBox,
    ) -> None:
        super().__init__(db, clock, tokens, listeners)
        self.box = box

    def begin(
        self,
        purpose: str,
        *,
        connection: m.SsoConnection | None = None,
        next_url: str | None = None,
        invitation_token: str | None = None,
        browser_secret: str | None = None,
    ) -> StartedLogin:
        """A new pending sign-in. ``browser_secret`` is the binding cookie's value when the browser already has
        one (so sign-ins started in two tabs both finish); otherwise a new one is made."""
        started = StartedLogin(
            state=self.tokens.issue("st").token,
            nonce=self.tokens.issue("nonce").token,
            code_verifier=self.tokens.issue("pkce").token,
            browser_secret=browser_secret or self.tokens.issue("br").token,
        )
        data = {"invitation": self.box.seal(invitation_token)} if invitation_token else {}
        now = self.now()
        with self.db.transaction() as tx:
            store = OidcStore(tx)
            store.purge_login_states(now)
            store.add_login_state(
                OidcLoginState(
                    id=new_id(), state_hash=hash_token(started.state), browser_hash=hash_token(started.browser_secret),
                    purpose=purpose, nonce=started.nonce, code_verifier=started.code_verifier, created_at=now,
                    expires_at=now + self.lifetime, connection_id=connection.id if connection else None,
                    org_id=connection.org_id if connection else None, next_url=(next_url or None) and next_url[:2048],
                    data=data,
                )
            )  # fmt: skip
        return started

    def take(
        self, state: str | None, browser_secret: str | None, purpose: str | tuple[str, ...]
    ) -> OidcLoginState:
        """The pending sign-in for ``state``, consumed whatever the outcome (a replay finds nothing).

        Refused when the state is missing or unknown (already used, never issued), was started by another
        browser (login CSRF), belongs to another flow, or has expired."""
        if not state:
            raise OidcRefused("state_missing", "The sign-in response carries no state parameter.")
        with self.db.transaction() as tx:
            record = OidcStore(tx).take_login_state(hash_token(state))
        if record is None:
            raise OidcRefused(
                "state_invalid",
                "This sign-in response is unknown or was already used. Start the sign-in again.",
            )
        if not browser_secret or not hmac.compare_digest(hash_token(browser_secret), record.browser_hash):
            raise OidcRefused(
                "state_mismatch", "This sign-in was started in another browser. Start the sign-in again here."
            )
        if record.purpose not in ((purpose,) if isinstance(purpose, str) else purpose):
            raise OidcRefused("state_invalid", "This sign-in response belongs to another sign-in flow.")
        if self.now() >= record.expires_at:
            raise OidcRefused("state_expired", "This sign-in took too long and expired. Start it again.")
        return record

    def invitation_token(self, record: OidcLoginState) -> str | None:
        sealed = (record.data or {}).get("invitation")
        return self.box.open(sealed) if sealed else None


# -- the platform login provider's members ----------------------------------------------------------------
class PlatformSignInService(ServiceBase):
    """Members of invitation-mode organizations sign in with the platform login provider's verified email."""

    def sign_in(self, verified_email: str, actor: m.Actor) -> m.Member:
        email = normalize_email(verified_email)
        with self.db.transaction() as tx:
            member = OidcStore(tx).live_member_by_email(email)
            if member is None:
                raise OidcRefused(
                    "not_a_member",
                    "No organization has a member with this email address. If you were invited, open the "
                    "link in your invitation email.",
                )
            org = self.locked_org(tx, member.org_id)
            if org.mode is m.MembershipMode.SSO:
                raise OidcRefused(
                    "use_sso",
                    "Your organization signs people in through its identity provider. Enter your work email "
                    "on the sign-in page to be sent there.",
                )
            if member.status is not m.MemberStatus.ACTIVE:
                raise OidcRefused("member_inactive", "Your access to this organization is suspended.")
            self.audit(tx, org.id, actor, "sign_in.succeeded", member, email=email, via="platform")
            return member
