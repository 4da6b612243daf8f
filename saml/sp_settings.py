"""python3-saml settings for one connection, built per request from the stored connection and the configured
public URL. The request data handed to python3-saml is built from that URL too, never from ``Host`` or
``X-Forwarded-*``: python3-saml derives the URL it compares ``Destination`` and ``Recipient`` with from it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
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


@dataclass
class AcsSettings:
    """What the ACS of one connection builds from its stored configuration: the configuration with its SP keys
    opened, and python3-saml's settings for each SP key it decrypts with (built when first needed)."""

    config: SamlConfig
    _built: dict[str | None, OneLogin_Saml2_Settings] = field(default_factory=dict)

    def settings(
        self, settings: Settings, connection: m.SsoConnection, sp_key: SpKey | None
    ) -> OneLogin_Saml2_Settings:
        """python3-saml's settings with ``sp_key`` (by fingerprint; ``None``: the newest key)."""
        fingerprint = sp_key.fingerprint if sp_key is not None else None
        built = self._built.get(fingerprint)
        if built is None:
            built = build_settings(settings, connection, config=self.config, sp_key=sp_key)
            self._built[fingerprint] = built
        return built


class AcsSettingsCache:
    """The ``AcsSettings`` of the connections an app's ACS served lately, so a sign-in does not open the SP keys,
    re-format the certificates and re-validate python3-saml's settings on every request.

    An entry is keyed by the connection's id and slug, the public URL and the revision of the row it was read
    from, which the database draws anew on every write of the row (``m.SsoConnection.revision``), or, for a
    connection that was never stored, a digest of its configuration: any edit (an IdP certificate added or
    removed, a metadata re-import, an SP key rotated, the IdP-initiated flag) changes the key, so the request
    after it builds afresh from what it read and an old entry can never be used again. Whether the connection
    is usable is read from its row on every request, not from here. One cache per app, so apps with different secret keys (which open the
    SP keys) never share an entry."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, ...], AcsSettings] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(settings: Settings, connection: m.SsoConnection) -> tuple[str, ...]:
        if connection.revision:
            return (connection.id, connection.slug, settings.public_url, connection.revision)
        stored = json.dumps(connection.config, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(stored.encode()).hexdigest()
        return (connection.id, connection.slug, settings.public_url, digest)

    def get(self, settings: Settings, connection: m.SsoConnection) -> AcsSettings:
        """The entry for the connection as it is stored now; ``SamlRefused`` when its SP key cannot be opened
        (never cached, so the refusal repeats until the connection is fixed)."""
        key = self.key(settings, connection)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        entry = AcsSettings(saml_connections().config(connection))
        self.put(key, entry)
        return entry

    def put(self, key: tuple[str, ...], entry: AcsSettings) -> None:
        """Keep ``entry``, dropping the least recently used ones beyond ``size``."""
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def acs_settings(settings: Settings, connection: m.SsoConnection) -> AcsSettings:
    """The ACS settings of ``connection`` from the current app's cache (see ``AcsSettingsCache``)."""
    cache = current_app.extensions.get("saml.acs_settings")
    if cache is None:
        cache = current_app.extensions.setdefault("saml.acs_settings", AcsSettingsCache())
    return cache.get(settings, connection)


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
