"""``gateway demo seed`` and ``gateway demo env``: the demo that ``make run`` serves, signing in through the
built-in demo identity provider (``/demo-idp``, on with ``GATEWAY_DEMO_IDP=1`` in development).

- "demo" (Demo Company, SSO mode, domain demo.example): its OIDC connection points at the demo IdP; Admin
  admin@demo.example and a few members provisioned as an IdP would.
- "invite-demo" (Invite Demo, invitation mode, domain invite.example): Admin admin@invite.example; people
  accept invitations by signing in with the platform login provider, which in the demo is the demo IdP too
  (``gateway demo env`` prints the ``GATEWAY_PLATFORM_*`` variables that say so).
- "saml-demo" (SAML Demo, SSO mode, domain saml.example): its SAML connection is made from the demo IdP's SAML
  metadata; Admin admin@saml.example and a member. One organization per protocol, so that the address typed
  at ``/login`` decides the protocol shown (a second connection on "demo" would add a choice page instead).

The seed runs while the server is not running, so the connections are stored with the demo IdP's endpoints as
the IdP itself publishes them (``gateway.services.demo_directory``; for SAML the metadata built by
``gateway.services.demo_saml`` with the signing certificate in the instance folder, which the demo IdP serves
at ``/demo-idp/saml/metadata``) instead of being fetched over HTTP.
Running the seed again changes nothing but issuing a fresh admin API key.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.presets import load_preset
from gateway.services import Services
from gateway.services import demo_directory as directory
from gateway.services.demo_saml import SamlSigningKey, idp_metadata
from gateway.services.members import Profile
from gateway.services.oidc_connections import ProviderMetadata, SecretBox
from gateway.services.saml_connections import parse_idp_metadata
from gateway.settings import Settings
from gateway.wiring import services, settings

DEMO_SLUG = "demo"
DEMO_DOMAIN = "demo.example"
DEMO_ADMIN = "admin@demo.example"
DEMO_MEMBERS = ("ada@demo.example", "grace@demo.example")
INVITE_SLUG = "invite-demo"
INVITE_DOMAIN = "invite.example"
INVITE_ADMIN = "admin@invite.example"
INVITE_SUGGESTED = "newhire@invite.example"
SAML_SLUG = "saml-demo"
SAML_DOMAIN = directory.SAML_DOMAIN
SAML_ADMIN = "admin@saml.example"
SAML_MEMBERS = ("alan@saml.example",)
CONNECTION_SLUG = "demo-idp"
SAML_CONNECTION_SLUG = "demo-idp-saml"
PLATFORM_NAME = "Demo IdP"
CLI_ACTOR = m.Actor.cli()


@cli.group()
def demo() -> None:
    """The demo organizations, signing in through the built-in demo identity provider."""


def platform_environment(cfg: Settings) -> dict[str, str]:
    """What the server needs in its environment for the demo: the demo IdP, and it as the platform provider."""
    return {
        "GATEWAY_DEMO_IDP": "1",
        "GATEWAY_PLATFORM_NAME": PLATFORM_NAME,
        "GATEWAY_PLATFORM_ISSUER": directory.issuer(cfg.public_url),
        "GATEWAY_PLATFORM_CLIENT_ID": directory.PLATFORM_CLIENT_ID,
        "GATEWAY_PLATFORM_CLIENT_SECRET": directory.client_secret(
            cfg.secret_key, directory.PLATFORM_CLIENT_ID
        ),
    }


def connection_config(cfg: Settings) -> dict[str, object]:
    """The demo organization's OIDC connection, in the shape the OIDC adapter reads (``client_settings``)."""
    preset = load_preset("generic")
    metadata = ProviderMetadata.from_dict(directory.discovery_document(cfg.public_url))
    secret = directory.client_secret(cfg.secret_key, directory.SSO_CLIENT_ID)
    return {
        "issuer": metadata.issuer,
        "client_id": directory.SSO_CLIENT_ID,
        "client_secret": SecretBox(cfg.secret_key).seal(secret),
        "metadata": metadata.as_dict(),
        "scopes": ["openid", "email", "profile"],
        "claims": {
            k: str(preset.oidc.get(k) or "") for k in ("email", "given_name", "family_name", "groups")
        },
        "vendor": {},
        "admin_groups": [],
    }


def _org(svc: Services, slug: str, name: str, mode: m.MembershipMode, domain: str) -> m.Organization:
    existing = {v.org.slug: v.org for v in svc.orgs.list()}
    return existing.get(slug) or svc.orgs.create(name, mode, CLI_ACTOR, slug=slug, domains=[domain]).org


def _members(svc: Services, org_id: str) -> dict[str, m.Member]:
    found: dict[str, m.Member] = {}
    offset = 0
    while True:
        page, total = svc.members.list(org_id, offset=offset, limit=200)
        found.update({member.email: member for member in page})
        offset += len(page)
        if not page or offset >= total:
            return found


def _seed_sso_org(svc: Services, cfg: Settings) -> tuple[m.Organization, m.SsoConnection, list[str]]:
    org = _org(svc, DEMO_SLUG, "Demo Company", m.MembershipMode.SSO, DEMO_DOMAIN)
    notes: list[str] = []
    connection = next((c for c in svc.connections.list(org.id) if c.slug == CONNECTION_SLUG), None)
    if connection is None:
        connection = svc.connections.add(
            org.id, m.ConnectionProtocol.OIDC, "Demo identity provider (OIDC)", CLI_ACTOR,
            preset="generic", config=connection_config(cfg), slug=CONNECTION_SLUG,
        )  # fmt: skip
    elif (connection.config or {}).get("issuer") != directory.issuer(cfg.public_url):
        notes.append(
            f"The connection {CONNECTION_SLUG!r} points at {connection.config.get('issuer')}, not at "
            f"{directory.issuer(cfg.public_url)}: GATEWAY_PUBLIC_URL changed since the first seed. "
            "Start from a fresh instance folder (make clean) to re-create the demo."
        )
    if svc.orgs.get(org.id).org.mode is m.MembershipMode.INVITATION:  # seeded by an older version
        svc.mode.apply(org.id, m.MembershipMode.SSO, CLI_ACTOR)
    _seed_people(svc, org.id, DEMO_ADMIN, DEMO_MEMBERS)
    return org, connection, notes


def _seed_people(svc: Services, org_id: str, admin: str, members: tuple[str, ...]) -> None:
    if svc.members.list(org_id, role=m.Role.ADMIN)[1] == 0:
        svc.members.add_admin(org_id, admin, CLI_ACTOR)
    present = _members(svc, org_id)
    for email in members:
        if email not in present:
            person = directory.person_for(email)
            profile = Profile(
                display_name=person.name, given_name=person.given_name, family_name=person.family_name
            )
            svc.members.provision(org_id, email, m.Role.MEMBER, CLI_ACTOR, profile)


def _seed_saml_org(svc: Services, cfg: Settings) -> tuple[m.Organization, m.SsoConnection, list[str]]:
    """The SAML demo: a connection made from the demo IdP's SAML metadata, as an Admin would add one."""
    org = _org(svc, SAML_SLUG, "SAML Demo", m.MembershipMode.SSO, SAML_DOMAIN)
    notes: list[str] = []
    key = SamlSigningKey.load_or_create(cfg.instance_path, svc.clock())
    connection = next((c for c in svc.connections.list(org.id) if c.slug == SAML_CONNECTION_SLUG), None)
    if connection is None:
        idp = parse_idp_metadata(idp_metadata(cfg.public_url, key.cert))
        connection = svc.saml_connections.create(
            org.id,
            "Demo identity provider (SAML)",
            idp,
            CLI_ACTOR,
            preset="generic",
            slug=SAML_CONNECTION_SLUG,
        )
    elif (connection.config or {}).get("idp_entity_id") != directory.saml_entity_id(cfg.public_url):
        notes.append(
            f"The connection {SAML_CONNECTION_SLUG!r} trusts the IdP {connection.config.get('idp_entity_id')}, "
            f"not {directory.saml_entity_id(cfg.public_url)}: GATEWAY_PUBLIC_URL changed since the first seed. "
            "Start from a fresh instance folder (make clean) to re-create the demo."
        )
    elif key.cert not in (connection.config or {}).get("idp_certs", []):
        notes.append(
            f"The connection {SAML_CONNECTION_SLUG!r} does not trust the demo IdP's current SAML signing "
            "certificate (was the instance folder's demo-idp-saml-signing.pem replaced?). Start from a fresh "
            "instance folder (make clean) to re-create the demo."
        )
    _seed_people(svc, org.id, SAML_ADMIN, SAML_MEMBERS)
    return org, connection, notes


def _seed_invitation_org(svc: Services) -> m.Organization:
    org = _org(svc, INVITE_SLUG, "Invite Demo", m.MembershipMode.INVITATION, INVITE_DOMAIN)
    if svc.members.list(org.id, role=m.Role.ADMIN)[1] == 0:
        svc.members.add_admin(org.id, INVITE_ADMIN, CLI_ACTOR)
    return org


@demo.command("seed")
@json_option
@with_appcontext
@handles_errors
def seed(as_json: bool) -> None:
    """Create the demo organizations (once) and issue a fresh admin API key for the SSO one."""
    svc, cfg = services(), settings()
    if cfg.is_production:
        raise click.ClickException("The demo signs people in without passwords; it is for development only.")
    org, connection, notes = _seed_sso_org(svc, cfg)
    invite_org = _seed_invitation_org(svc)
    saml_org, saml_connection, saml_notes = _seed_saml_org(svc, cfg)
    issued = svc.credentials.create_admin_key(org.id, CLI_ACTOR, "demo admin key")
    login_url = cfg.url("/login")
    data = {
        "org": {"id": org.id, "slug": org.slug, "mode": m.MembershipMode.SSO.value},
        "admin_email": DEMO_ADMIN,
        "admin_api_key": issued.token,
        "base_url": cfg.public_url,
        "login_url": login_url,
        "connection": {"slug": connection.slug, "issuer": (connection.config or {}).get("issuer")},
        "sso_emails": [DEMO_ADMIN, *DEMO_MEMBERS],
        "invitation_org": {"id": invite_org.id, "slug": invite_org.slug, "mode": invite_org.mode.value},
        "invitation_admin_email": INVITE_ADMIN,
        "invitation_suggested_email": INVITE_SUGGESTED,
        "saml_org": {"id": saml_org.id, "slug": saml_org.slug, "mode": m.MembershipMode.SSO.value},
        "saml_connection": {
            "slug": saml_connection.slug,
            "idp_entity_id": (saml_connection.config or {}).get("idp_entity_id"),
            "idp_metadata_url": directory.saml_entity_id(cfg.public_url),
            "sp_metadata_url": cfg.url(f"/saml/{saml_connection.slug}/metadata"),
        },
        "saml_emails": [SAML_ADMIN, *SAML_MEMBERS],
        "demo_idp_enabled": bool(cfg.demo_idp),
        "notes": [*notes, *saml_notes],
    }
    path = Path(cfg.instance_path) / "demo-credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    emit(as_json, data, _instructions(data, cfg, path))


def _instructions(data: dict, cfg: Settings, path: Path) -> str:
    lines = [
        f"Demo ready. Open {data['login_url']} and sign in through the demo identity provider:",
        f"  - SSO mode (Demo Company, {DEMO_DOMAIN}): type {DEMO_ADMIN} (Admin, then open {cfg.url('/admin')})",
        f"    or {' / '.join(DEMO_MEMBERS)} (Members).",
        f"  - Invitation mode (Invite Demo, {INVITE_DOMAIN}): type {INVITE_ADMIN} (Admin), open "
        f"{cfg.url('/admin/invitations')}, invite {INVITE_SUGGESTED},",
        "    then open the accept link in a private window and sign in as the invited address. The link is",
        "    shown once on that page, and emailed to the development mailbox: `gateway worker --once`, then",
        "    `gateway mailbox`.",
        f"  - SAML (SAML Demo, {SAML_DOMAIN}): type {SAML_ADMIN} (Admin) or {' / '.join(SAML_MEMBERS)} (Member);",
        "    the gateway sends a SAML AuthnRequest to the demo IdP, which posts back a signed assertion.",
        f"Admin API key of Demo Company (also in {path}):",
        f"  {data['admin_api_key']}",
        f"Try: curl -H 'Authorization: Bearer {data['admin_api_key']}' {cfg.public_url}/api/v1/org",
    ]
    if not cfg.demo_idp:
        lines.append(
            'Note: the server must run with the demo IdP on: eval "$(gateway demo env)" before `gateway serve`.'
        )
    return "\n".join([*lines, *(f"Note: {note}" for note in data["notes"])])


@demo.command("env")
@with_appcontext
def env() -> None:
    """Print shell exports that turn on the demo IdP and make it the platform login provider:
    eval "$(gateway demo env)" before `gateway serve`."""
    cfg = settings()
    if cfg.is_production:
        raise click.ClickException("The demo identity provider is for development only.")
    for name, value in platform_environment(cfg).items():
        click.echo(f"export {name}={shlex.quote(value)}")
