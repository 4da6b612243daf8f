"""``gateway domain ...``: the operator verifies a pending claim by hand (audited as the CLI), checks a claim's
TXT record through the configured resolver, lists and removes claims."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services
from gateway.services.domains import DnsTxtLookup
from tests.conftest import TxtRecords

_load_commands()
ADMIN = m.Actor(m.ActorType.ADMIN, id="admin-1", label="admin@acme.test")


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def run_json(app: Flask, *args: str) -> dict | list:
    result = run(app, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def acme(app_services: Services) -> m.Organization:
    return app_services.orgs.create("Acme", m.MembershipMode.SSO, m.Actor.cli(), slug="acme").org


def test_the_operator_verifies_a_pending_claim_by_hand(app: Flask, app_services: Services, acme) -> None:  # type: ignore[no-untyped-def]
    app_services.domains.claim(acme.id, "acme.com", ADMIN)
    assert run_json(app, "domain", "list", "acme")[0]["status"] == "pending"

    data = run_json(app, "domain", "verify", "acme", "acme.com")

    assert data["status"] == "verified" and data["verified_via"] == "operator"
    assert app_services.orgs.org_for_email_domain("acme.com").id == acme.id
    event = app_services.audit.list(acme.id, action="domain.verified")[0][0]
    assert event.actor_type is m.ActorType.CLI and event.details["operator"] is True


def test_verify_needs_an_existing_claim(app: Flask, acme) -> None:  # type: ignore[no-untyped-def]
    result = run(app, "domain", "verify", "acme", "nothing.test")
    assert result.exit_code == 1 and "claim it first" in result.output


def test_check_and_remove_through_the_cli(
    app: Flask,
    app_services: Services,
    acme,
    dns: TxtRecords,
    dns_address: str,  # type: ignore[no-untyped-def]
) -> None:
    app_services.domains.txt_lookup = DnsTxtLookup(dns_address, timeout=3)
    claim = run_json(app, "domain", "claim", "acme", "acme.org")
    failed = run(app, "domain", "check", "acme", "acme.org")
    assert failed.exit_code == 1 and "No TXT record" in failed.output
    dns.set(claim["dns"]["name"], claim["dns"]["value"])
    assert run_json(app, "domain", "check", "acme", "acme.org")["status"] == "verified"
    assert run_json(app, "domain", "remove", "acme", "acme.org") == {"domain": "acme.org", "removed": True}
    assert app_services.orgs.org_for_email_domain("acme.org") is None


def test_the_resolver_address_is_a_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway.app import create_app
    from gateway.settings import SettingsError, load_settings

    settings = load_settings(
        {
            "instance_path": str(tmp_path),
            "secret_key": "k",
            "dns_resolver": "127.0.0.1:5353",
            "domain_claim_days": 3,
        }
    )
    app = create_app(settings=settings)
    domains = app.extensions["gateway.services"].domains
    assert domains.txt_lookup.address == ("127.0.0.1", 5353)
    assert domains.claim_lifetime.days == 3
    app.extensions["gateway.services"].db.dispose()
    with pytest.raises(SettingsError, match="GATEWAY_DNS_RESOLVER"):
        load_settings({"instance_path": str(tmp_path), "secret_key": "k", "dns_resolver": "resolver.example"})
