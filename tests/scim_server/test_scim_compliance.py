"""The scim2-tester compliance suite (what ``scim2 test`` runs), in-process against the Flask app."""

from __future__ import annotations

from flask import Flask
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server
from scimkit import ScimOrg


def test_scim2_tester_reports_only_successes(app: Flask, acme: ScimOrg) -> None:
    client = WSGISCIMClient(
        app, base_url="http://gateway.test/scim/v2", headers={"Authorization": f"Bearer {acme.token}"}
    )
    client.discover()
    results = check_server(client)
    failures = [
        f"{r.title} [{r.resource_type}]: {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)
    ]
    skipped = [f"{r.title}: {r.reason}" for r in results if r.status is Status.SKIPPED]
    assert not failures, "\n".join(failures)
    assert not skipped, "\n".join(skipped)
    assert len(results) > 50
