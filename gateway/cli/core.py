"""Core commands: serve, db upgrade, org, mode, admin, api-key, scim-token, demo."""

from __future__ import annotations

import errno
import os
import socket
import sys

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.cli.presenters import member_json, org_json, plan_json
from gateway.domain import model as m
from gateway.domain.errors import ModeSwitchRefused
from gateway.domain.policy import mode_from_value
from gateway.metrics import MULTIPROC_ENV, prepare_multiproc_dir
from gateway.settings import load_settings
from gateway.storage.migrate import current_revision, head_revision, known_revisions, schema_state, upgrade
from gateway.wiring import services

CLI_ACTOR = m.Actor.cli()
MODES = click.Choice(["sso", "invitation"], case_sensitive=False)


@cli.command()
@click.option("--bind", help="Address to listen on (default: the 'bind' setting, 127.0.0.1:8000).")
@click.option("--workers", type=int, help="Number of gunicorn worker processes.")
def serve(bind: str | None, workers: int | None) -> None:
    """Serve the gateway with gunicorn (refuses a database that is not at the code's schema revision).

    Metrics are summed across the workers through PROMETHEUS_MULTIPROC_DIR (default: ``metrics/`` in the
    instance folder), emptied here before gunicorn starts in a fresh interpreter that sees it from the
    first import on."""
    settings = load_settings()
    address = bind or settings.bind
    problem = address_taken(address) or schema_problem(settings.database_url)
    if problem:
        click.echo(problem, err=True)
        sys.exit(2)
    metrics_dir = os.environ.get(MULTIPROC_ENV) or os.path.join(settings.instance_path, "metrics")
    prepare_multiproc_dir(metrics_dir)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:gateway.gunicorn_conf",
        "--bind",
        address,
        "--workers",
        str(workers or settings.worker_count),
        "--threads",
        str(settings.threads),
        "gateway.wsgi:app",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, {**os.environ, MULTIPROC_ENV: metrics_dir})


def address_taken(bind: str) -> str | None:
    """Why ``bind`` (``host:port``) cannot be served, or None. Each worker opens its own socket with
    ``SO_REUSEPORT`` (``gateway.gunicorn_conf``), which would also share a port with another server of the same
    user that is still running: a second ``gateway serve`` on a taken address is refused here instead."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or int(port) == 0 or host.startswith("unix"):
        return None
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{bind} is already in use (is another gateway serve running?)."
    return None


def schema_problem(database_url: str) -> str | None:
    """Why the database cannot be served (unreachable, or not at the head revision), or None."""
    try:
        current = current_revision(database_url)
    except Exception as exc:
        return f"Cannot reach the database ({type(exc).__name__}); check GATEWAY_DATABASE_URL."
    head = head_revision()
    if schema_state(current, head, known_revisions()) != "behind":
        return None
    return (
        f"The database schema is at {current or 'no revision (never migrated)'}; this gateway needs {head}.\n"
        "Run: gateway db upgrade"
    )


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@json_option
def db_upgrade(as_json: bool) -> None:
    """Apply every pending migration to GATEWAY_DATABASE_URL."""
    url = load_settings().database_url
    upgrade(url)
    revision = current_revision(url)
    emit(as_json, {"revision": revision}, f"Database at revision {revision}.")


@cli.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.option("--name", required=True, help="Display name; the slug is derived from it.")
@click.option("--mode", type=MODES, default="invitation", show_default=True, help="Membership mode.")
@click.option("--domain", "domains", multiple=True, help="A verified email domain (repeatable).")
@click.option("--slug", help="Explicit slug instead of one derived from the name.")
@json_option
@with_appcontext
@handles_errors
def org_create(name: str, mode: str, domains: tuple[str, ...], slug: str | None, as_json: bool) -> None:
    """Create an organization with its Default Project."""
    view = services().orgs.create(name, mode_from_value(mode), CLI_ACTOR, slug=slug, domains=domains)
    emit(
        as_json,
        org_json(view),
        f"Created organization {view.org.slug} ({view.org.mode.value} mode), id {view.org.id}.",
    )


@org.command("list")
@json_option
@with_appcontext
@handles_errors
def org_list(as_json: bool) -> None:
    """List organizations."""
    views = services().orgs.list()
    lines = [f"{v.org.slug}\t{v.org.mode.value}\t{v.member_count} members\t{v.org.name}" for v in views]
    emit(as_json, [org_json(v) for v in views], "\n".join(lines) or "No organizations.")


@cli.group()
def mode() -> None:
    """Membership mode (sso or invitation)."""


@mode.command("set")
@click.argument("org")
@click.argument("target", type=MODES)
@click.option("--dry-run", is_flag=True, help="Only report what would change.")
@json_option
@with_appcontext
@handles_errors
def mode_set(org: str, target: str, dry_run: bool, as_json: bool) -> None:
    """Switch ORG (slug or id) to TARGET mode, or preview it with --dry-run."""
    svc = services()
    organization = svc.orgs.resolve(org)
    wanted = mode_from_value(target)
    if dry_run:
        plan = svc.mode.preview(organization.id, wanted)
        human = (
            "\n".join([*plan.effects, *(f"Warning: {w}" for w in plan.warnings)])
            if plan.allowed
            else f"Refused: {plan.refusal}"
        )
        emit(
            as_json,
            plan_json(plan, applied=False, dry_run=True),
            f"Dry run for {organization.slug}:\n{human}",
        )
        return
    try:
        plan = svc.mode.apply(organization.id, wanted, CLI_ACTOR)
    except ModeSwitchRefused:
        plan = svc.mode.preview(organization.id, wanted)
        emit(as_json, plan_json(plan, applied=False, dry_run=False), f"Refused: {plan.refusal}")
        sys.exit(1)
    emit(as_json, plan_json(plan, applied=True, dry_run=False), "\n".join(plan.effects))


@cli.group()
def admin() -> None:
    """Organization Admins."""


@admin.command("add")
@click.argument("org")
@click.argument("email")
@json_option
@with_appcontext
@handles_errors
def admin_add(org: str, email: str, as_json: bool) -> None:
    """Make EMAIL an Admin of ORG (adds the member, or promotes an existing one)."""
    svc = services()
    member = svc.members.add_admin(svc.orgs.resolve(org).id, email, CLI_ACTOR)
    emit(as_json, member_json(member), f"{member.email} is an Admin of {org}.")


@cli.group("api-key")
def api_key() -> None:
    """Admin API keys."""


@api_key.command("create")
@click.argument("org")
@click.option("--name", default="admin key", show_default=True)
@json_option
@with_appcontext
@handles_errors
def api_key_create(org: str, name: str, as_json: bool) -> None:
    """Create an admin API key for ORG. The key is shown once."""
    svc = services()
    issued = svc.credentials.create_admin_key(svc.orgs.resolve(org).id, CLI_ACTOR, name)
    data = {
        "id": issued.key.id,
        "org_id": issued.key.org_id,
        "name": issued.key.name,
        "prefix": issued.key.prefix,
        "token": issued.token,
    }
    emit(as_json, data, f"Admin API key (shown once, store it now):\n{issued.token}")


@cli.group("scim-token")
def scim_token() -> None:
    """SCIM bearer tokens for an organization's identity provider."""


@scim_token.command("create")
@click.argument("org")
@click.option("--name", default="SCIM token", show_default=True)
@json_option
@with_appcontext
@handles_errors
def scim_token_create(org: str, name: str, as_json: bool) -> None:
    """Create a SCIM token for ORG. The token is shown once."""
    svc = services()
    organization = svc.orgs.resolve(org)
    issued = svc.credentials.create_scim_token(organization.id, CLI_ACTOR, name)
    from gateway.wiring import settings

    base = settings().url("/scim/v2")
    data = {
        "id": issued.scim_token.id,
        "org_id": organization.id,
        "prefix": issued.scim_token.prefix,
        "token": issued.token,
        "base_url": base,
    }
    emit(as_json, data, f"SCIM base URL: {base}\nSCIM token (shown once, store it now):\n{issued.token}")
