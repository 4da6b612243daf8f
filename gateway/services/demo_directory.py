"""Who the demo identity provider knows and how its clients authenticate. Plain Python (no Flask), so the
``gateway demo`` commands can configure the gateway's side of the demo with the same values.

Clients are not registered anywhere: a client's secret is derived from the gateway's secret key and the
client ID (HMAC-SHA256), so the IdP can check it in any process without shared state, and nothing secret is
hard-coded. Redirect URIs are limited to the gateway's own OIDC callbacks (see ``routes.redirect_allowed``).
The SAML side (``SAML_PATH``) answers only the gateway's own SAML connections; its signing certificate and
metadata are in ``gateway.services.demo_saml``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

PATH = "/demo-idp"
SAML_PATH = f"{PATH}/saml"
SAML_DOMAIN = "saml.example"
DOMAINS = ("demo.example", "invite.example", SAML_DOMAIN)
SSO_CLIENT_ID = "demo-company-sso"
PLATFORM_CLIENT_ID = "demo-platform-login"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    given_name: str
    family_name: str
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


PEOPLE = (
    DemoPerson("admin@demo.example", "Dana", "Admin", "Admin of Demo Company (SSO mode)"),
    DemoPerson("ada@demo.example", "Ada", "Lovelace", "Member of Demo Company (SSO mode)"),
    DemoPerson("grace@demo.example", "Grace", "Hopper", "Member of Demo Company (SSO mode)"),
    DemoPerson("admin@invite.example", "Ines", "Admin", "Admin of Invite Demo (invitation mode)"),
    DemoPerson("newhire@invite.example", "Noor", "Newhire", "Not a member yet: invite them from the console"),
)
# Offered on the SAML sign-in page: the people of the organization whose connection speaks SAML.
SAML_PEOPLE = (
    DemoPerson("admin@saml.example", "Sam", "Admin", "Admin of SAML Demo (SSO mode, SAML)"),
    DemoPerson("alan@saml.example", "Alan", "Turing", "Member of SAML Demo (SSO mode, SAML)"),
    DemoPerson(
        "new.joiner@saml.example", "New", "Joiner", "Not a member yet: created at first sign-in (JIT)"
    ),
)


def is_demo_email(email: str) -> bool:
    local, at, domain = email.strip().lower().rpartition("@")
    return bool(at and local and domain in DOMAINS and " " not in email.strip())


def person_for(email: str) -> DemoPerson:
    """The listed person with this email, or one made up from the address (``jo.doe@`` -> Jo Doe)."""
    email = email.strip().lower()
    for person in (*PEOPLE, *SAML_PEOPLE):
        if person.email == email:
            return person
    words = [
        w.capitalize() for w in email.split("@", 1)[0].replace("_", ".").replace("-", ".").split(".") if w
    ]
    return DemoPerson(email, words[0] if words else email, " ".join(words[1:]))


def choose(email: str) -> DemoPerson:
    """The person picked or typed on a sign-in page; ``ValueError`` (with what to do) for any other address."""
    if not is_demo_email(email):
        raise ValueError(
            f"Choose one of the people listed, or type an email address at {' or '.join(DOMAINS)}."
        )
    return person_for(email)


def subject_for(email: str) -> str:
    """A stable, opaque ``sub`` per email, as a real IdP would give (never the email itself)."""
    return "demo|" + hashlib.sha256(b"demo-idp subject:" + email.strip().lower().encode()).hexdigest()[:24]


def client_secret(secret_key: str, client_id: str) -> str:
    digest = hmac.new(secret_key.encode(), b"demo-idp client secret:" + client_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def issuer(public_url: str) -> str:
    return public_url.rstrip("/") + PATH


def saml_entity_id(public_url: str) -> str:
    """The demo IdP's SAML entity ID: its metadata URL, as most IdPs do."""
    return f"{public_url.rstrip('/')}{SAML_PATH}/metadata"


def saml_sso_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}{SAML_PATH}/sso"


def discovery_document(public_url: str) -> dict[str, object]:
    """The OpenID Provider metadata (OpenID Connect Discovery 1.0 §3) for a gateway at ``public_url``."""
    base = issuer(public_url)
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "userinfo_endpoint": f"{base}/userinfo",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
            "email", "email_verified", "name", "given_name", "family_name",
        ],
    }  # fmt: skip
