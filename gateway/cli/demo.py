"""``gateway demo seed`` and ``gateway demo env``: the demo that ``make run`` serves, signing in through the
built-in demo identity provider (``/demo-idp``, on with ``GATEWAY_DEMO_IDP=1`` in development).

- "demo" (Demo Company, SSO mode, domain demo.example): its OIDC connection points at the demo IdP; Admin
  admin@demo.example and a few members provisioned as an IdP would.
- "invite-demo" (Invite Demo, invitation mode, domain invite.example): Admin admin@invite.example; people
  accept invitations by signing in with the platform login provider, which in the demo is the demo IdP too
  (``gateway demo env`` prints the ``GATEWAY_PLATFORM_*`` variables that say so).

The seed runs while the server is not running, so the connection is stored with the demo IdP's endpoints as
the IdP itself publishes them (``gateway.demo_idp.directory``) instead of being discovered over HTTP.
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
from gateway.services.members import Profile
from gateway.services.oidc_connections import ProviderMetadata, SecretBox
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
CONNECTION_SLUG = "demo-idp"
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
    if svc.members.list(org.id, role=m.Role.ADMIN)[1] == 0:
        svc.members.add_admin(org.id, DEMO_ADMIN, CLI_ACTOR)
    present = _members(svc, org.id)
    for email in DEMO_MEMBERS:
        if email not in present:
            person = directory.person_for(email)
            profile = Profile(
                display_name=person.name, given_name=person.given_name, family_name=person.family_name
            )
            svc.members.provision(org.id, email, m.Role.MEMBER, CLI_ACTOR, profile)
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
        "demo_idp_enabled": bool(cfg.demo_idp),
        "notes": notes,
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
