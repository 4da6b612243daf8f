"""SSO connections: the list, enable/disable, guided setup per vendor, certificates, and recent sign-ins.

SAML setup goes through ``SamlConnectionService`` (metadata upload, URL, or typed-in fields); OIDC setup goes
through the OIDC connection service that the OIDC adapter puts on ``services()`` (it brings the vendor rules).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography import x509
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import checked, field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.domain import model as m
from gateway.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from gateway.domain.policy import slugify
from gateway.presets import Preset, load_preset
from gateway.services.oidc_connections import OidcConnectionService
from gateway.services.saml_connections import (
    METADATA_MAX_BYTES,
    IdpDescriptor,
    SamlConfig,
    SamlConnectionService,
    cert_fingerprint,
    parse_idp_metadata,
)
from gateway.wiring import services, settings

VENDORS = [
    ("okta", "Okta"),
    ("google", "Google Workspace"),
    ("entra", "Microsoft Entra ID"),
    ("jumpcloud", "JumpCloud"),
]
SIGN_INS_SHOWN = 20


def saml_connections() -> SamlConnectionService:
    return services().saml_connections


def oidc_connections() -> OidcConnectionService | None:
    """The OIDC connection service, when the OIDC adapter is installed in this app."""
    found = getattr(services(), "oidc_connections", None)
    return found if isinstance(found, OidcConnectionService) else None


@dataclass(frozen=True)
class SpValues:
    """What the admin pastes into the identity provider for a connection with this slug."""

    slug: str
    base: str
    acs_url: str
    entity_id: str
    metadata_url: str
    slo_url: str
    login_url: str
    redirect_uri: str

    @classmethod
    def for_slug(cls, slug: str) -> SpValues:
        def url(path: str) -> str:
            return settings().url(path)

        return cls(
            slug=slug,
            base=settings().public_url.rstrip("/"),
            acs_url=url(f"/saml/{slug}/acs"),
            entity_id=url(f"/saml/{slug}/metadata"),
            metadata_url=url(f"/saml/{slug}/metadata"),
            slo_url=url(f"/saml/{slug}/slo"),
            login_url=url(f"/saml/{slug}/login"),
            redirect_uri=url(f"/oidc/{slug}/callback"),
        )


@dataclass(frozen=True)
class CertInfo:
    fingerprint: str
    subject: str
    expires: str


def cert_info(cert_b64: str) -> CertInfo:
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
        subject, expires = cert.subject.rfc4514_string() or "(no subject)", cert.not_valid_after_utc
        expires_text = expires.strftime("%Y-%m-%d")
    except ValueError:
        subject, expires_text = "(unreadable)", "?"
    return CertInfo(cert_fingerprint(cert_b64), subject, expires_text)


def _state(connection: m.SsoConnection) -> str:
    if connection.suspended:
        return "suspended (invitation mode)"
    return "enabled" if connection.enabled else "disabled"


@bp.get("/connections")
def connections() -> ResponseReturnValue:
    items = services().connections.list(viewer().org.id)
    return render_template(
        "console/connections.html",
        title="SSO connections",
        section="console.connections",
        connections=items,
        state=_state,
        vendors=VENDORS,
    )


@bp.post("/connections/<connection_id>/enabled")
def set_connection_enabled(connection_id: str) -> ResponseReturnValue:
    enabled = text("enabled") == "1"
    connection = services().connections.set_enabled(viewer().org.id, connection_id, enabled, viewer().actor())
    flash(f"{connection.name} is {'enabled' if enabled else 'disabled'}.", "ok")
    if request.form.get("back") == "detail":
        return redirect(url_for("console.connection", connection_id=connection.id), code=303)
    return redirect(url_for("console.connections"), code=303)


# -- SAML setup ------------------------------------------------------------------------------------------
def _preset(key: str | None) -> Preset:
    try:
        return load_preset(key)
    except InvalidInput:
        return load_preset(None)


def _suggested_slug(preset: Preset, protocol: str) -> str:
    suffix = "" if protocol == "saml" else "-oidc"
    return slugify(f"{viewer().org.slug}-{preset.key}{suffix}")


def _shown_slug(preset: Preset, protocol: str, form: dict[str, str]) -> str:
    """The slug the setup page's URLs show: the one typed if it makes a valid slug, else the suggested one."""
    try:
        return slugify(form.get("slug") or _suggested_slug(preset, protocol))
    except InvalidInput:
        return _suggested_slug(preset, protocol)


def _saml_setup(
    preset: Preset, form: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    shown_slug = _shown_slug(preset, "saml", form)
    return render_template(
        "console/connection_saml_setup.html",
        title=f"Set up SAML single sign-on: {preset.name}",
        section="console.connections",
        preset=preset,
        sp=SpValues.for_slug(shown_slug),
        form=form,
        errors=errors,
    ), status


@bp.get("/connections/new/saml")
@admin_page
def new_saml_connection() -> ResponseReturnValue:
    preset = _preset(request.args.get("preset"))
    form = {"name": request.args.get("name") or preset.name, "slug": request.args.get("slug") or ""}
    return _saml_setup(preset, form)


def _idp_from_form() -> IdpDescriptor:
    """The IdP from whichever source the admin filled in: an uploaded file, a URL, pasted XML, or fields."""
    upload = request.files.get("metadata_file")
    if upload is not None and upload.filename:
        data = upload.read(METADATA_MAX_BYTES + 1)
        return _parsed(data, "metadata_file")
    url = text("metadata_url")
    if url:
        return _parsed(saml_connections().fetch_metadata(url, field="metadata_url"), "metadata_url")
    xml = (request.form.get("metadata_xml") or "").strip()
    if xml:
        return _parsed(xml.encode(), "metadata_xml")
    entity_id, sso_url, cert = text("entity_id", 1024), text("sso_url"), text("certificate", 20000)
    if not (entity_id or sso_url or cert):
        raise InvalidInput(
            "Give the identity provider's metadata (a file, a URL or the XML), or fill in its entity ID, "
            "sign-in URL and certificate.",
            field="metadata_file",
        )
    return IdpDescriptor(entity_id=entity_id, sso_url=sso_url, certs=(cert,) if cert else ())


def _parsed(data: bytes, field: str) -> IdpDescriptor:
    if len(data) > METADATA_MAX_BYTES:
        raise InvalidInput("The IdP metadata is larger than 512 KiB.", field=field)
    try:
        return parse_idp_metadata(data)
    except InvalidInput as error:
        raise InvalidInput(error.message, field=field) from None


def _slug_field(value: str) -> str:
    try:
        return slugify(value)
    except InvalidInput as error:
        raise InvalidInput("A connection ID needs at least one letter or digit.", field="slug") from error


def _saml_error_field(error: DomainError, form: dict[str, str]) -> str:
    """The form field an error from the SAML setup is about (a taken slug is a conflict on the slug)."""
    field = str(error.details.get("field") or "")
    if isinstance(error, Conflict) and not field:
        return "slug"
    if field == "sso_url" and not form["sso_url"]:
        return "metadata_file"  # the URL came from metadata, not from the typed field
    return field or "metadata_file"


@bp.post("/connections/new/saml")
def create_saml_connection() -> ResponseReturnValue:
    preset = _preset(text("preset"))
    form = {
        k: text(k, 20000) for k in ("name", "slug", "metadata_url", "entity_id", "sso_url", "certificate")
    }
    form["metadata_xml"] = (request.form.get("metadata_xml") or "")[:METADATA_MAX_BYTES]
    form["allow_idp_initiated"] = "on" if checked("allow_idp_initiated") else ""
    try:
        slug = _slug_field(form["slug"] or _suggested_slug(preset, "saml"))
        idp = _idp_from_form()
        connection = saml_connections().create(
            viewer().org.id,
            form["name"],
            idp,
            viewer().actor(),
            preset=preset.key,
            slug=slug,
            allow_idp_initiated=checked("allow_idp_initiated"),
        )
    except DomainError as error:
        field = _saml_error_field(error, form)
        return _saml_setup(preset, form, {field: error.message}, 400)
    flash(
        f"The SAML connection {connection.name} is set up. Test a sign-in before switching to SSO mode.", "ok"
    )
    return redirect(url_for("console.connection", connection_id=connection.id), code=303)


# -- OIDC setup ------------------------------------------------------------------------------------------
def _oidc_setup(
    preset: Preset, form: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    shown = _shown_slug(preset, "oidc", form)
    return render_template(
        "console/connection_oidc_setup.html",
        title=f"Set up OpenID Connect sign-in: {preset.name}",
        section="console.connections",
        preset=preset,
        sp=SpValues.for_slug(shown),
        form=form,
        errors=errors,
        available=oidc_connections() is not None,
    ), status


@bp.get("/connections/new/oidc")
@admin_page
def new_oidc_connection() -> ResponseReturnValue:
    preset = _preset(request.args.get("preset"))
    form = {"name": f"{preset.name} (OIDC)", "slug": request.args.get("slug") or "",
            "issuer": str(preset.oidc.get("issuer") or "")}  # fmt: skip
    return _oidc_setup(preset, form)


@bp.post("/connections/new/oidc")
def create_oidc_connection() -> ResponseReturnValue:
    preset = _preset(text("preset"))
    form = {k: text(k) for k in ("name", "slug", "issuer", "client_id", "domains")}
    service = oidc_connections()
    if service is None:
        return _oidc_setup(preset, form, {"issuer": "OpenID Connect is not installed in this gateway."}, 400)
    try:
        created = service.add(
            viewer().org.id,
            viewer().actor(),
            issuer=form["issuer"],
            client_id=form["client_id"],
            client_secret=request.form.get("client_secret") or "",
            preset=preset.key,
            name=form["name"] or None,
            slug=_slug_field(form["slug"] or _suggested_slug(preset, "oidc")),
            domains=[d for d in form["domains"].replace(",", " ").split() if d],
        )
    except DomainError as error:
        field = "slug" if isinstance(error, Conflict) and not error.details.get("field") else "issuer"
        return _oidc_setup(preset, form, field_errors(error, field), 400)
    flash(f"The OIDC connection {created.connection.name} is set up. " + " ".join(created.notes), "ok")
    return redirect(url_for("console.connection", connection_id=created.connection.id), code=303)


# -- one connection --------------------------------------------------------------------------------------
def _sign_ins(connection: m.SsoConnection) -> list[m.AuditEvent]:
    """Recent sign-ins through the connection, accepted or refused, with the reason the gateway recorded."""
    org_id = viewer().org.id
    by_actor = services().audit.list(org_id, actor_id=connection.id, limit=SIGN_INS_SHOWN)[0]
    refused = services().audit.list(org_id, action="sign_in.refused", target_id=connection.id,
                                     limit=SIGN_INS_SHOWN)[0]  # fmt: skip
    events = {e.id: e for e in [*by_actor, *refused] if e.action.startswith("sign_in.")}
    return sorted(events.values(), key=lambda e: (e.at, e.id or 0), reverse=True)[:SIGN_INS_SHOWN]


def _this_session_from(connection: m.SsoConnection) -> dict[str, str] | None:
    """What the identity provider asserted for the viewer's own session, when it came through ``connection``
    (the end of a test sign-in): the email it vouched for and the protocol identifiers it sent."""
    data = viewer().signed_in.session.data or {}
    saml, oidc = data.get("saml") or {}, data.get("oidc") or {}
    if connection.protocol is m.ConnectionProtocol.SAML and saml.get("connection") == connection.id:
        facts = {"NameID": saml.get("name_id"), "NameID format": saml.get("name_id_format"),
                 "Session index": saml.get("session_index")}  # fmt: skip
    elif (
        connection.protocol is m.ConnectionProtocol.OIDC
        and oidc
        and oidc.get("iss") == connection.config.get("issuer")
    ):
        facts = {"Issuer": oidc.get("iss"), "Subject": oidc.get("sub")}
    else:
        return None
    return {"Signed in as": viewer().member.email, **{k: str(v) for k, v in facts.items() if v}}


def _connection_page(
    connection_id: str, errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    connection = _connection(connection_id)
    saml = None
    certs: list[CertInfo] = []
    if connection.protocol is m.ConnectionProtocol.SAML and connection.config.get("idp_entity_id"):
        saml = SamlConfig.from_dict(connection.config)
        certs = [cert_info(c) for c in saml.idp_certs]
    return render_template(
        "console/connection.html",
        title=connection.name,
        section="console.connections",
        connection=connection,
        state=_state(connection),
        preset=_preset(connection.preset),
        sp=SpValues.for_slug(connection.slug),
        saml=saml,
        certs=certs,
        oidc=connection.config if connection.protocol is m.ConnectionProtocol.OIDC else None,
        sign_ins=_sign_ins(connection),
        this_session=_this_session_from(connection),
        errors=errors,
    ), status


def _connection(connection_id: str) -> m.SsoConnection:
    for connection in services().connections.list(viewer().org.id):
        if connection.id == connection_id:
            return connection
    raise NotFound("No such connection in this organization.")


@bp.get("/connections/<connection_id>")
def connection(connection_id: str) -> ResponseReturnValue:
    return _connection_page(connection_id)


@bp.post("/connections/<connection_id>/certificates")
def add_certificate(connection_id: str) -> ResponseReturnValue:
    """Rotation, step one: trust the new certificate next to the old one."""
    try:
        saml_connections().add_idp_certificate(
            viewer().org.id, connection_id, text("certificate", 20000), viewer().actor()
        )
    except DomainError as error:
        return _connection_page(connection_id, field_errors(error, "certificate"), 400)
    flash(
        "The certificate is trusted. Remove the old one once the identity provider signs with the new one.",
        "ok",
    )
    return redirect(url_for("console.connection", connection_id=connection_id), code=303)


@bp.post("/connections/<connection_id>/certificates/remove")
def remove_certificate(connection_id: str) -> ResponseReturnValue:
    try:
        saml_connections().remove_idp_certificate(
            viewer().org.id, connection_id, text("fingerprint", 200), viewer().actor()
        )
    except DomainError as error:
        return _connection_page(connection_id, {"certificates": error.message}, 409)
    flash("The certificate is no longer trusted.", "ok")
    return redirect(url_for("console.connection", connection_id=connection_id), code=303)


@bp.post("/connections/<connection_id>/metadata")
def update_metadata(connection_id: str) -> ResponseReturnValue:
    """Re-import the IdP's metadata (new URLs or certificates) into an existing connection."""
    try:
        idp = _idp_from_form()
        saml_connections().update_idp(viewer().org.id, connection_id, idp, viewer().actor())
    except DomainError as error:
        return _connection_page(connection_id, field_errors(error, "metadata_file"), 400)
    flash("The identity provider's settings are updated.", "ok")
    return redirect(url_for("console.connection", connection_id=connection_id), code=303)


@bp.post("/connections/<connection_id>/idp-initiated")
def set_idp_initiated(connection_id: str) -> ResponseReturnValue:
    allowed = checked("allow_idp_initiated")
    saml_connections().set_allow_idp_initiated(viewer().org.id, connection_id, allowed, viewer().actor())
    flash(f"IdP-initiated sign-in is {'allowed' if allowed else 'refused'}.", "ok")
    return redirect(url_for("console.connection", connection_id=connection_id), code=303)
