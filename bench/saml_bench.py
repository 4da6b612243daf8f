"""SAML benchmark: the gateway's ACS (every check, replay cache, JIT/sign-in, session, audit) against
python3-saml's bare ``Response.is_valid`` on the same signed responses. Run by hand; results go to
docs/benchmarks.md.

    .venv/bin/python bench/saml_bench.py [--responses 300] [--backends sqlite,postgresql]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The responses are signed beforehand by the independent test IdP (pysaml2 + xmlsec1, a test dependency), one
per iteration with its own assertion ID, because the replay cache refuses a second use. They are posted to the
ACS in-process through Flask's test client (no HTTP server), so the ratio is the gateway's own cost over
python3-saml's validation alone. ``bench/run.py --only acs`` runs the same and writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "saml"))
sys.path.insert(0, str(ROOT / "bench"))

from common import DEFAULT_POSTGRES_URL, temp_database  # noqa: E402
from onelogin.saml2.response import OneLogin_Saml2_Response  # noqa: E402
from saml_idp import TestIdP, idp_metadata  # noqa: E402

import gateway.storage.saml_tables  # noqa: E402,F401  (registers the SAML tables)
from gateway.app import create_app  # noqa: E402
from gateway.domain import model as m  # noqa: E402
from gateway.services.saml_connections import parse_idp_metadata  # noqa: E402
from gateway.settings import Settings, load_settings  # noqa: E402
from gateway.storage.tables import metadata  # noqa: E402
from saml.sp_settings import build_settings, request_data  # noqa: E402

ENTITY_ID = "https://idp.bench.test/saml"
CLI = m.Actor.cli()


@dataclass
class SamlRig:
    """One SAML connection of an organization and the test IdP that signs responses for it."""

    client: FlaskClient
    connection: Any
    slug: str
    idp: TestIdP
    acs: str
    audience: str
    settings: Settings

    def responses(self, count: int, email: str = "ada@bench.test") -> list[str]:
        """``count`` distinct signed responses (each its own assertion ID), base64-encoded for the POST."""
        return [
            base64.b64encode(
                self.idp.response(
                    acs=self.acs, audience=self.audience, name_id=email, attributes={"email": [email]}
                )
            ).decode()
            for _ in range(count)
        ]


def saml_setup(app: Flask, settings: Settings, org_id: str) -> SamlRig:
    """An IdP-initiated SAML connection (Okta preset) for ``org_id``, with the pysaml2 test IdP."""
    saml = app.extensions["gateway.saml_connections"]
    idp_desc = parse_idp_metadata(idp_metadata(ENTITY_ID))
    connection = saml.create(org_id, "okta", idp_desc, CLI, preset="okta", allow_idp_initiated=True)
    client = app.test_client()
    slug = connection.slug
    idp = TestIdP(ENTITY_ID, client.get(f"/saml/{slug}/metadata").get_data(as_text=True))
    return SamlRig(
        client,
        connection,
        slug,
        idp,
        settings.url(f"/saml/{slug}/acs"),
        settings.url(f"/saml/{slug}/metadata"),
        settings,
    )


@contextmanager
def acs_rig(backend: str, postgres_url: str = DEFAULT_POSTGRES_URL) -> Iterator[SamlRig]:
    """A throw-away database with an SSO organization and its IdP-initiated SAML connection, the app serving
    it (the per-address ACS limit off: every response comes from one client address)."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with temp_database(backend, tmp, postgres_url) as url:
            settings = load_settings(
                {
                    "database_url": url,
                    "instance_path": str(tmp),
                    "secret_key": "bench",
                    "public_url": "http://gw.bench",
                    "log_level": "WARNING",
                    "rate_limit_acs": "",
                }
            )
            app = create_app(settings=settings)
            engine = sa.create_engine(url)
            metadata.create_all(engine)
            engine.dispose()
            svc = app.extensions["gateway.services"]
            org = svc.orgs.create("Bench", m.MembershipMode.SSO, CLI, domains=["bench.test"]).org
            try:
                yield saml_setup(app, settings, org.id)
            finally:
                svc.db.dispose()


def run(backend: str, count: int, postgres_url: str = DEFAULT_POSTGRES_URL) -> dict[str, float]:
    with acs_rig(backend, postgres_url) as rig:
        print(f"[{backend}] signing {count} responses with pysaml2/xmlsec1 ...", file=sys.stderr)
        responses = rig.responses(count)
        with rig.client.application.app_context():
            sp_settings = build_settings(rig.settings, rig.connection)
            data = request_data(rig.settings, f"/saml/{rig.slug}/acs")
        bare: list[float] = []
        gateway: list[float] = []
        # The form is encoded before the clock starts: an IdP's browser does that work, not the gateway.
        forms = [urlencode({"SAMLResponse": encoded}) for encoded in responses]
        # Interleaved, one response at a time: bare validation, then the gateway's ACS on the same response,
        # so a host whose speed changes during the run slows both sides alike.
        for encoded, form in zip(responses, forms, strict=True):
            start = time.perf_counter()
            ok = OneLogin_Saml2_Response(sp_settings, encoded).is_valid(
                dict(data, post_data={"SAMLResponse": encoded})
            )
            bare.append(time.perf_counter() - start)
            assert ok
            start = time.perf_counter()
            answer = rig.client.post(
                f"/saml/{rig.slug}/acs", data=form, content_type="application/x-www-form-urlencoded"
            )
            gateway.append(time.perf_counter() - start)
            assert answer.status_code == 303, answer.get_data(as_text=True)
    return {
        "bare_ms": statistics.median(bare) * 1000,
        "gateway_ms": statistics.median(gateway) * 1000,
        "bare_per_s": len(bare) / sum(bare),
        "gateway_per_s": len(gateway) / sum(gateway),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"responses per run: {args.responses} (each a distinct signed assertion, IdP-initiated, JIT member reused)"
    )
    print(
        "| backend | python3-saml is_valid (median ms) | gateway ACS (median ms) | python3-saml /s | gateway /s | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        r = run(backend, args.responses, args.postgres_url)
        print(
            f"| {backend} | {r['bare_ms']:.2f} | {r['gateway_ms']:.2f} | {r['bare_per_s']:.0f} | "
            f"{r['gateway_per_s']:.0f} | {r['gateway_ms'] / r['bare_ms']:.2f}x |"
        )


if __name__ == "__main__":
    main()
