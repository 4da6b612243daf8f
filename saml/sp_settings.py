"""python3-saml settings for one connection, built per request from the stored connection and the configured
public URL. The request data handed to python3-saml is built from that URL too, never from ``Host`` or
``X-Forwarded-*``: python3-saml derives the URL it compares ``Destination`` and ``Recipient`` with from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from onelogin.saml2.settings import OneLogin_Saml2_Settings

from gateway.domain import model as m
from gateway.services.saml_connections import BINDING_POST, BINDING_REDIRECT, SamlConfig, SpKey
from gateway.settings import Settings
from saml.context import saml_connections

SIGNATURE_ALGORITHM = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST_ALGORITHM = "http://www.w3.org/2001/04/xmlenc#sha256"


@dataclass(frozen=True)
class SpUrls:
    entity_id: str
    metadata: str
    login: str
    acs: str
    slo: str


def sp_urls(settings: Settings, connection: m.SsoConnection) -> SpUrls:
    base = f"/saml/{connection.slug}"
    return SpUrls(
        entity_id=settings.url(f"{base}/metadata"),
        metadata=settings.url(f"{base}/metadata"),
        login=settings.url(f"{base}/login"),
        acs=settings.url(f"{base}/acs"),
        slo=settings.url(f"{base}/slo"),
    )


def security_settings(config: SamlConfig, *, for_logout: bool = False) -> dict[str, Any]:
    """The security switches; python3-saml leaves several of the important ones off by default."""
    signs = bool(config.sp_keys)
    return {
        "wantAssertionsSigned": True,
        "rejectDeprecatedAlgorithm": True,
        # Responses need not be signed as a whole (Okta and Entra sign the assertion only); logout messages
        # carry no assertion, so they must be signed themselves.
        "wantMessagesSigned": for_logout,
        "wantAssertionsEncrypted": config.want_assertions_encrypted,
        "wantNameId": True,
        "wantAttributeStatement": False,
        "allowRepeatAttributeName": True,
        "authnRequestsSigned": False,
        "logoutRequestSigned": signs,
        "logoutResponseSigned": signs,
        "signMetadata": False,
        "signatureAlgorithm": SIGNATURE_ALGORITHM,
        "digestAlgorithm": DIGEST_ALGORITHM,
        "rejectUnsolicitedResponsesWithInResponseTo": False,
        "requestedAuthnContext": False,
    }


def _pick_key(config: SamlConfig, wanted: SpKey | None) -> SpKey | None:
    """The opened key pair with ``wanted``'s fingerprint (the newest when none is wanted)."""
    if wanted is None:
        return config.sp_keys[0] if config.sp_keys else None
    return next((k for k in config.sp_keys if k.fingerprint == wanted.fingerprint), None)


def build_settings(
    settings: Settings,
    connection: m.SsoConnection,
    *,
    config: SamlConfig | None = None,
    sp_key: SpKey | None = None,
    for_logout: bool = False,
) -> OneLogin_Saml2_Settings:
    """Settings of the connection's SP; ``sp_key`` picks the key pair by fingerprint (decryption tries each one
    in turn). ``config`` is the connection's configuration with its private keys opened by the service (read
    here when not given); ``SamlRefused`` when a private key cannot be opened."""
    config = config or saml_connections().config(connection)
    urls = sp_urls(settings, connection)
    key = _pick_key(config, sp_key)
    sp: dict[str, Any] = {
        "entityId": urls.entity_id,
        "assertionConsumerService": {"url": urls.acs, "binding": BINDING_POST},
        "singleLogoutService": {"url": urls.slo, "binding": BINDING_REDIRECT},
        "NameIDFormat": config.nameid_format,
        "x509cert": key.cert if key else "",
        "privateKey": key.key if key else "",
    }
    if len(config.sp_keys) > 1:
        # python3-saml publishes one extra certificate; the newest key is first, the one it replaces second.
        sp["x509certNew"] = config.sp_keys[1].cert if key == config.sp_keys[0] else config.sp_keys[0].cert
    idp: dict[str, Any] = {
        "entityId": config.idp_entity_id,
        "singleSignOnService": {"url": config.idp_sso_url, "binding": config.idp_sso_binding},
        "x509certMulti": {"signing": list(config.idp_certs), "encryption": []},
    }
    if config.idp_slo_url:
        idp["singleLogoutService"] = {"url": config.idp_slo_url, "binding": config.idp_slo_binding}
    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": sp,
            "idp": idp,
            "security": security_settings(config, for_logout=for_logout),
        },
        sp_validation_only=False,
    )


def request_data(
    settings: Settings, path: str, *, get: dict[str, str] | None = None, post: dict[str, str] | None = None
) -> dict[str, Any]:
    """The request as python3-saml sees it: scheme, host and path from the public URL, not from headers."""
    public = urlsplit(settings.public_url)
    return {
        "https": "on" if public.scheme == "https" else "off",
        "http_host": public.netloc,
        "script_name": public.path.rstrip("/") + path,
        "get_data": dict(get or {}),
        "post_data": dict(post or {}),
    }
