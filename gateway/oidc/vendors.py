"""What each identity-provider vendor needs beyond the standard, driven by the connection's preset.

- Entra ID: only a tenant-specific issuer (``/common``, ``/organizations`` and ``/consumers`` would let any
  directory sign in); the ``tid`` claim must be the tenant; the ``email`` claim is not verified by Entra, so
  it is accepted only for the organization's verified domains.
- Google: the ``hd`` (hosted domain) claim must be one of the organization's verified domains, since any
  Google account can sign in to an OAuth client; ``email_verified`` must be true.
- Okta: the org authorization server (issuer without a path) and custom ones (``/oauth2/<id>``) differ in
  the scopes they offer (``groups``); the kind is recorded and only offered scopes are requested.
- JumpCloud: the issuer ends with a slash and is shared by every JumpCloud organization; it is compared
  exactly, and the client ID is what binds the connection to one JumpCloud organization.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.domain.errors import InvalidInput
from gateway.presets import Preset
from gateway.services.oidc_connections import OidcClientSettings, OidcRefused, ProviderMetadata

ENTRA_MULTI_TENANT = {"common", "organizations", "consumers"}
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
GOOGLE_ISSUER = "https://accounts.google.com"


@dataclass(frozen=True)
class Identity:
    """Who the ID token says signed in, in the gateway's terms."""

    email: str
    email_verified: bool | None
    subject: str
    given_name: str | None = None
    family_name: str | None = None
    name: str | None = None
    groups: list[str] = field(default_factory=list)


def _entra_tenant(issuer: str) -> str:
    segments = [s for s in urlsplit(issuer).path.split("/") if s]
    return segments[0] if segments else ""


class PresetVendorRules:
    """The :class:`gateway.services.oidc_connections.VendorRules` the OIDC adapter plugs into the service."""

    def issuer_for(self, preset: Preset, issuer: str) -> str:
        issuer = (issuer or "").strip()
        if preset.key == "entra":
            tenant = _entra_tenant(issuer).lower()
            if not tenant or tenant in ENTRA_MULTI_TENANT or "{" in tenant:
                raise InvalidInput(
                    "Entra ID connections need the tenant-specific issuer "
                    "https://login.microsoftonline.com/<tenant ID>/v2.0; the multi-tenant /common, "
                    "/organizations and /consumers issuers would let any directory sign in.",
                    field="issuer",
                )
        if preset.key == "google" and issuer.rstrip("/") != GOOGLE_ISSUER:
            raise InvalidInput(f"Google's issuer is {GOOGLE_ISSUER}.", field="issuer")
        return issuer

    def connection_extras(
        self, preset: Preset, metadata: ProviderMetadata, domains: list[str]
    ) -> dict[str, Any]:
        if preset.key == "entra":
            return {"tenant_id": _entra_tenant(metadata.issuer)}
        if preset.key == "google":
            return {"hosted_domain_hint": domains[0] if len(domains) == 1 else None}
        if preset.key == "okta":
            custom = urlsplit(metadata.issuer).path.strip("/").startswith("oauth2/")
            return {"authorization_server": "custom" if custom else "org"}
        return {}


def authorization_params(settings: OidcClientSettings, login_hint: str | None) -> dict[str, str]:
    """Extra authorization request parameters: the login hint, and Google's ``hd`` account-chooser hint."""
    params: dict[str, str] = {}
    if login_hint:
        params["login_hint"] = login_hint
    hint = settings.vendor.get("hosted_domain_hint")
    if settings.connection.preset == "google" and hint:
        params["hd"] = hint
    return params


def _claim(claims: dict[str, Any], name: str | None) -> Any:
    return claims.get(name) if name else None


def _groups(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def identity_from_claims(
    settings: OidcClientSettings, claims: dict[str, Any], domain_is_verified: Callable[[str], bool]
) -> Identity:
    """Apply the preset's claim names and the vendor checks; ``OidcRefused`` when the token cannot vouch
    for the person. ``domain_is_verified(domain)`` tells whether the connection's organization verified it."""
    names = settings.claims
    preset = settings.connection.preset
    email = _claim(claims, names.get("email") or "email")
    if not email and preset == "entra":
        email = claims.get("preferred_username")
    if not isinstance(email, str) or "@" not in email:
        raise OidcRefused("email_missing", "The identity provider did not send an email address for you.")
    verified = claims.get("email_verified")
    if isinstance(verified, str):
        verified = verified.lower() == "true"
    if verified is False:
        raise OidcRefused(
            "email_unverified", "The identity provider says your email address is not verified."
        )
    domain = email.rsplit("@", 1)[1].lower()
    if preset == "entra":
        tenant = settings.vendor.get("tenant_id")
        if tenant and _GUID.match(tenant) and claims.get("tid") != tenant:
            raise OidcRefused("wrong_tenant", "The ID token comes from another Entra ID tenant.")
    if preset == "google":
        hd = claims.get("hd")
        if verified is not True:
            raise OidcRefused(
                "email_unverified", "Google did not confirm that your email address is verified."
            )
        if not isinstance(hd, str) or not domain_is_verified(hd.lower()):
            raise OidcRefused(
                "hosted_domain",
                "Sign in with your organization's Google Workspace account; personal Google accounts and "
                "other Workspace domains cannot use this connection.",
            )
    if verified is None and not domain_is_verified(domain):
        raise OidcRefused(
            "email_unverified",
            "The identity provider did not mark your email as verified and its domain is not verified for "
            "this organization.",
        )
    subject = claims.get("sub")
    return Identity(
        email=email,
        email_verified=verified,
        subject=str(subject),
        given_name=_text(_claim(claims, names.get("given_name") or "given_name")),
        family_name=_text(_claim(claims, names.get("family_name") or "family_name")),
        name=_text(claims.get("name")),
        groups=_groups(_claim(claims, names.get("groups"))),
    )


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
