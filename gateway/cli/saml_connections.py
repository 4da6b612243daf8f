"""``gateway connection add-saml``: a SAML connection from IdP metadata (a file or an https URL) or typed in
by hand, with the vendor preset's attribute names and, optionally, the verified domains that route to it."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from gateway.cli.connections import connection
from gateway.cli.output import emit, handles_errors, json_option
from gateway.cli.presenters import connection_json
from gateway.domain import model as m
from gateway.domain.errors import InvalidInput, NotFound
from gateway.presets import load_preset, preset_names
from gateway.services.saml_connections import (
    BINDING_REDIRECT,
    IdpDescriptor,
    SamlConfig,
    SamlConnectionService,
    cert_fingerprint,
    parse_idp_metadata,
)
from gateway.wiring import services, settings

CLI_ACTOR = m.Actor.cli()


def _saml_service() -> SamlConnectionService:
    return services().saml_connections


def _read_cert(value: str) -> str:
    """A certificate given as a file path, or as PEM / base64 text on the command line."""
    path = Path(value)
    if len(value) < 4096 and path.is_file():
        return path.read_text()
    return value


def _descriptor(
    metadata: str | None, entity_id: str | None, sso_url: str | None, certs: tuple[str, ...]
) -> IdpDescriptor:
    if metadata:
        if sso_url or certs:
            raise InvalidInput(
                "Give either --metadata or --entity-id/--sso-url/--cert, not both.", field="metadata"
            )
        return parse_idp_metadata(_saml_service().load_metadata(metadata), entity_id=entity_id)
    if not (entity_id and sso_url and certs):
        raise InvalidInput(
            "Give --metadata FILE_OR_URL, or all of --entity-id, --sso-url and --cert.", field="metadata"
        )
    return IdpDescriptor(
        entity_id=entity_id,
        sso_url=sso_url,
        certs=tuple(_read_cert(c) for c in certs),
        sso_binding=BINDING_REDIRECT,
    )


@connection.command("add-saml")
@click.argument("org")
@click.option("--metadata", help="IdP metadata: a file path or an https URL.")
@click.option("--preset", type=click.Choice(preset_names()), default="generic", show_default=True)
@click.option(
    "--domain", "domains", multiple=True, help="A verified email domain that signs in here (repeatable)."
)
@click.option("--name", help="Connection name (default: the preset's key).")
@click.option(
    "--entity-id", help="IdP entity ID (manual entry, or to pick one entity from aggregate metadata)."
)
@click.option("--sso-url", help="IdP single sign-on URL (HTTP-Redirect binding), for manual entry.")
@click.option(
    "--cert", "certs", multiple=True, help="IdP signing certificate, PEM file or text (repeatable)."
)
@click.option(
    "--allow-idp-initiated", is_flag=True, help="Accept sign-ins started at the IdP (off by default)."
)
@click.option("--encrypt-assertions", is_flag=True, help="Require encrypted assertions.")
@click.option("--admin-group", "admin_groups", multiple=True, help="IdP group whose members become Admins.")
@json_option
@with_appcontext
@handles_errors
def add_saml(
    org: str,
    metadata: str | None,
    preset: str,
    domains: tuple[str, ...],
    name: str | None,
    entity_id: str | None,
    sso_url: str | None,
    certs: tuple[str, ...],
    allow_idp_initiated: bool,
    encrypt_assertions: bool,
    admin_groups: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a SAML 2.0 connection to ORG (slug or id)."""
    organization = services().orgs.resolve(org)
    idp = _descriptor(metadata, entity_id, sso_url, certs)
    created = _saml_service().create(
        organization.id, name or preset, idp, CLI_ACTOR, preset=preset, allow_idp_initiated=allow_idp_initiated,
        encrypt_assertions=encrypt_assertions, admin_groups=admin_groups, domains=domains,
    )  # fmt: skip
    config = SamlConfig.from_dict(created.config)
    base = f"/saml/{created.slug}"
    sp = {
        "entity_id": settings().url(f"{base}/metadata"),
        "metadata_url": settings().url(f"{base}/metadata"),
        "acs_url": settings().url(f"{base}/acs"),
        "slo_url": settings().url(f"{base}/slo"),
        "login_url": settings().url(f"{base}/login"),
    }
    result = {
        **connection_json(created),
        "idp": {
            "entity_id": config.idp_entity_id,
            "sso_url": config.idp_sso_url,
            "slo_url": config.idp_slo_url,
            "certificates": [cert_fingerprint(c) for c in config.idp_certs],
        },
        "sp": sp,
        "allow_idp_initiated": config.allow_idp_initiated,
        "want_assertions_encrypted": config.want_assertions_encrypted,
        "attributes": config.attributes,
        "domains": [d.strip().lower().rstrip(".") for d in domains],
        "setup_notes": load_preset(preset).notes,
    }
    human = (
        f"SAML connection {created.slug} created for {organization.slug}"
        + (" (suspended: the organization is in invitation mode)" if created.suspended else "")
        + f".\nGive your identity provider:\n  Entity ID / metadata: {sp['metadata_url']}\n  ACS URL: {sp['acs_url']}"
        + f"\n  Single logout URL: {sp['slo_url']}\nSign-in starts at {sp['login_url']}"
    )
    emit(as_json, result, human)


def _saml_connection(slug: str) -> m.SsoConnection:
    found = _saml_service().by_slug(slug)
    if found is None:
        raise NotFound(f"No SAML connection with slug {slug!r}.")
    return found


def _rotation_json(updated: m.SsoConnection) -> dict:
    config = SamlConfig.from_dict(updated.config)
    return {
        **connection_json(updated),
        "idp_certificates": [cert_fingerprint(c) for c in config.idp_certs],
        "sp_keys": [{"fingerprint": k.fingerprint, "created_at": k.created_at} for k in config.sp_keys],
        "allow_idp_initiated": config.allow_idp_initiated,
    }


def _rotation_human(updated: m.SsoConnection) -> str:
    data = _rotation_json(updated)
    lines = [f"{updated.slug}: IdP certificates (SHA-256):", *(f"  {f}" for f in data["idp_certificates"])]
    lines += ["SP keys (SHA-256, newest first):", *(f"  {k['fingerprint']}" for k in data["sp_keys"])]
    return "\n".join(lines)


@connection.command("saml-cert-add")
@click.argument("slug")
@click.argument("certificate")
@json_option
@with_appcontext
@handles_errors
def saml_cert_add(slug: str, certificate: str, as_json: bool) -> None:
    """Trust one more IdP signing CERTIFICATE (PEM file or text) on connection SLUG, e.g. during a rotation."""
    found = _saml_connection(slug)
    updated = _saml_service().add_idp_certificate(found.org_id, found.id, _read_cert(certificate), CLI_ACTOR)
    emit(as_json, _rotation_json(updated), _rotation_human(updated))


@connection.command("saml-cert-remove")
@click.argument("slug")
@click.argument("fingerprint")
@json_option
@with_appcontext
@handles_errors
def saml_cert_remove(slug: str, fingerprint: str, as_json: bool) -> None:
    """Stop trusting the IdP certificate with this SHA-256 FINGERPRINT (never the last one)."""
    found = _saml_connection(slug)
    updated = _saml_service().remove_idp_certificate(found.org_id, found.id, fingerprint, CLI_ACTOR)
    emit(as_json, _rotation_json(updated), _rotation_human(updated))


@connection.command("saml-key-rotate")
@click.argument("slug")
@json_option
@with_appcontext
@handles_errors
def saml_key_rotate(slug: str, as_json: bool) -> None:
    """Add a new SP key pair in front; the older ones keep decrypting until retired."""
    found = _saml_connection(slug)
    updated = _saml_service().rotate_sp_key(found.org_id, found.id, CLI_ACTOR)
    emit(as_json, _rotation_json(updated), _rotation_human(updated))


@connection.command("saml-key-retire")
@click.argument("slug")
@click.argument("fingerprint")
@json_option
@with_appcontext
@handles_errors
def saml_key_retire(slug: str, fingerprint: str, as_json: bool) -> None:
    """Remove the SP key pair whose certificate has this SHA-256 FINGERPRINT."""
    found = _saml_connection(slug)
    updated = _saml_service().retire_sp_key(found.org_id, found.id, fingerprint, CLI_ACTOR)
    emit(as_json, _rotation_json(updated), _rotation_human(updated))
