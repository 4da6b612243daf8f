"""SSO connections: list, enable, disable, read one in detail, and add SAML and OIDC connections.

SAML connections are set up from IdP metadata (XML or a URL) or typed in by hand, and their IdP certificates
are rotated one at a time (never the last one). OIDC connections are added from the issuer's discovery
document. Secrets (SP private keys, OIDC client secrets) are never returned; certificates appear by fingerprint.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body, load_document_or_body, load_query
from gateway.api.paging import PageQuery, Paging
from gateway.api.schemas import (
    CertificateBody,
    ConnectionOverrideQuery,
    OidcConnectionBody,
    SamlConnectionBody,
    SamlIdpBody,
)
from gateway.domain import model as m
from gateway.domain.errors import NotFound
from gateway.presets import load_preset
from gateway.services.saml_connections import (
    BINDING_POST,
    BINDING_REDIRECT,
    IdpDescriptor,
    SamlConnectionService,
    parse_idp_metadata,
)
from gateway.wiring import services, settings


def _saml() -> SamlConnectionService:
    return services().saml_connections


def _detail(connection: m.SsoConnection) -> dict[str, Any]:
    return out.connection_detail(connection, settings().url, services().clock())


def _idp(body: dict[str, Any]) -> IdpDescriptor:
    """The IdP from the one source the body gives (the schema checked there is exactly one)."""
    if "metadata_xml" in body:
        return parse_idp_metadata(body["metadata_xml"].encode(), entity_id=body.get("entity_id"))
    if "metadata_url" in body:
        return parse_idp_metadata(
            _saml().fetch_metadata(body["metadata_url"], field="metadata_url"),
            entity_id=body.get("entity_id"),
        )
    return IdpDescriptor(
        entity_id=body["entity_id"],
        sso_url=body["sso_url"],
        certs=tuple(body["certificates"]),
        sso_binding=BINDING_POST if body["sso_binding"] == "post" else BINDING_REDIRECT,
        slo_url=body.get("slo_url"),
    )


@bp.get("/connections")
@access(Access.ADMIN)
def list_connections() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = paging.window(services().connections.list(principal().org.id))
    return jsonify(paging.body(items, total, out.connection))


@bp.get("/connections/<connection_id>")
@access(Access.ADMIN)
def get_connection(connection_id: str) -> ResponseReturnValue:
    """SAML: the SP URLs to give the IdP, the IdP's settings and certificates (fingerprint, expiry). OIDC:
    issuer, client ID, redirect URI and scopes."""
    for connection in services().connections.list(principal().org.id):
        if connection.id == connection_id:
            return jsonify(_detail(connection))
    raise NotFound("No such connection in this organization.")


@bp.post("/connections/<connection_id>/enable")
@access(Access.ADMIN)
def enable_connection(connection_id: str) -> ResponseReturnValue:
    caller = principal()
    connection = services().connections.set_enabled(caller.org.id, connection_id, True, caller.actor())
    return jsonify(out.connection(connection))


@bp.post("/connections/<connection_id>/disable")
@access(Access.ADMIN)
def disable_connection(connection_id: str) -> ResponseReturnValue:
    """Refused (409 ``last-connection``) for the last enabled connection of an organization in SSO mode,
    unless ``?override=true``."""
    override = load_query(ConnectionOverrideQuery())["override"]
    caller = principal()
    connection = services().connections.set_enabled(
        caller.org.id, connection_id, False, caller.actor(), override=override
    )
    return jsonify(out.connection(connection))


# -- SAML ------------------------------------------------------------------------------------------------------
@bp.post("/connections/saml")
@access(Access.ADMIN)
def create_saml_connection() -> ResponseReturnValue:
    """A JSON body, or the metadata itself as an XML body with the other fields in the query string. Metadata
    is parsed (and a metadata URL fetched) before anything is written; the connection and its verified domains
    are then stored in one transaction."""
    body = load_document_or_body(SamlConnectionBody(), "metadata_xml", lists=("domains", "admin_groups"))
    preset = load_preset(body.get("preset"))
    idp = _idp(body)
    caller = principal()
    created = _saml().create(
        caller.org.id,
        body.get("name") or f"{preset.name} (SAML)",
        idp,
        caller.actor(),
        preset=preset.key,
        slug=body.get("slug"),
        allow_idp_initiated=body["allow_idp_initiated"],
        encrypt_assertions=body["encrypt_assertions"],
        admin_groups=tuple(body["admin_groups"]),
        domains=tuple(body["domains"]),
        metadata_url=body.get("metadata_url"),
    )
    return jsonify({**_detail(created), "setup_notes": preset.notes}), 201


@bp.put("/connections/<connection_id>/idp")
@access(Access.ADMIN)
def replace_saml_idp(connection_id: str) -> ResponseReturnValue:
    """Re-import the IdP's metadata (JSON, or the XML itself as the body), or type its settings again: entity
    ID, URLs and certificates are replaced together."""
    body = load_document_or_body(SamlIdpBody(), "metadata_xml")
    idp = _idp(body)
    caller = principal()
    return jsonify(_detail(_saml().update_idp(caller.org.id, connection_id, idp, caller.actor())))


@bp.post("/connections/<connection_id>/idp-certificates")
@access(Access.ADMIN)
def add_idp_certificate(connection_id: str) -> ResponseReturnValue:
    """Trust one more IdP signing certificate (PEM or base64 DER), e.g. the new one of a rotation."""
    body = load_body(CertificateBody())
    caller = principal()
    connection = _saml().add_idp_certificate(
        caller.org.id, connection_id, body["certificate"], caller.actor()
    )
    return jsonify(_detail(connection))


@bp.delete("/connections/<connection_id>/idp-certificates/<fingerprint>")
@access(Access.ADMIN)
def remove_idp_certificate(connection_id: str, fingerprint: str) -> ResponseReturnValue:
    """Stop trusting the certificate with this SHA-256 fingerprint (hex, colons allowed); never the last one."""
    caller = principal()
    connection = _saml().remove_idp_certificate(caller.org.id, connection_id, fingerprint, caller.actor())
    return jsonify(_detail(connection))


@bp.post("/connections/<connection_id>/sp-keys")
@access(Access.ADMIN)
def rotate_sp_key(connection_id: str) -> ResponseReturnValue:
    """A new SP key pair, published first in the SP metadata; the older ones keep decrypting until retired."""
    caller = principal()
    return jsonify(_detail(_saml().rotate_sp_key(caller.org.id, connection_id, caller.actor())))


@bp.delete("/connections/<connection_id>/sp-keys/<fingerprint>")
@access(Access.ADMIN)
def retire_sp_key(connection_id: str, fingerprint: str) -> ResponseReturnValue:
    caller = principal()
    return jsonify(_detail(_saml().retire_sp_key(caller.org.id, connection_id, fingerprint, caller.actor())))


# -- OIDC ------------------------------------------------------------------------------------------------------
@bp.post("/connections/oidc")
@access(Access.ADMIN)
def create_oidc_connection() -> ResponseReturnValue:
    """The issuer's discovery document and JWKS are fetched and checked before anything is written; the
    client secret is stored encrypted and never returned."""
    body = load_body(OidcConnectionBody())
    caller = principal()
    created = services().oidc_connections.add(  # type: ignore[attr-defined]
        caller.org.id,
        caller.actor(),
        issuer=body["issuer"],
        client_id=body["client_id"],
        client_secret=body["client_secret"],
        preset=body.get("preset"),
        name=body.get("name"),
        slug=body.get("slug"),
        domains=body["domains"],
        admin_groups=body["admin_groups"],
    )
    notes = load_preset(created.connection.preset).notes
    return jsonify({**_detail(created.connection), "notes": created.notes, "setup_notes": notes}), 201
