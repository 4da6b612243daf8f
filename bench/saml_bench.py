"""SAML benchmark: the gateway's ACS (every check, replay cache, JIT/sign-in, session, audit) against
python3-saml's bare ``Response.is_valid`` on the same signed responses. Run by hand; results go to
docs/benchmarks.md.

    .venv/bin/python bench/saml_bench.py [--responses 300] [--backends sqlite,postgresql]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The responses are signed beforehand by the independent test IdP (pysaml2 + xmlsec1, a test dependency), one
per iteration with its own assertion ID, because the replay cache refuses a second use. They are posted to the
ACS in-process through Flask's test client (no HTTP server), so the ratio is the gateway's own cost over
python3-saml's validation alone.
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
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "saml"))

from onelogin.saml2.response import OneLogin_Saml2_Response  # noqa: E402
from saml_idp import TestIdP, idp_metadata  # noqa: E402

import gateway.storage.saml_tables  # noqa: E402,F401  (registers the SAML tables)
from gateway.app import create_app  # noqa: E402
from gateway.domain import model as m  # noqa: E402
from gateway.services.saml_connections import parse_idp_metadata  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.storage.tables import metadata  # noqa: E402
from saml.sp_settings import build_settings, request_data  # noqa: E402

ENTITY_ID = "https://idp.bench.test/saml"
CLI = m.Actor.cli()


def _database(backend: str, postgres_url: str, tmp: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def run(backend: str, count: int, postgres_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url, drop = _database(backend, postgres_url, tmp)
        try:
            settings = load_settings(
                {
                    "database_url": url,
                    "instance_path": str(tmp),
                    "secret_key": "bench",
                    "public_url": "http://gw.bench",
                    # Every response comes from one client address: the per-address ACS limit is off here.
                    "rate_limit_acs": "",
                }
            )
            app = create_app(settings=settings)
            engine = sa.create_engine(url)
            metadata.create_all(engine)
            engine.dispose()
            svc = app.extensions["gateway.services"]
            saml = app.extensions["gateway.saml_connections"]
            org = svc.orgs.create("Bench", m.MembershipMode.SSO, CLI, domains=["bench.test"]).org
            idp_desc = parse_idp_metadata(idp_metadata(ENTITY_ID))
            connection = saml.create(org.id, "okta", idp_desc, CLI, preset="okta", allow_idp_initiated=True)
            client = app.test_client()
            slug = connection.slug
            idp = TestIdP(ENTITY_ID, client.get(f"/saml/{slug}/metadata").get_data(as_text=True))
            acs, audience = settings.url(f"/saml/{slug}/acs"), settings.url(f"/saml/{slug}/metadata")
            print(f"[{backend}] signing {count} responses with pysaml2/xmlsec1 ...", file=sys.stderr)
            responses = [
                base64.b64encode(
                    idp.response(
                        acs=acs,
                        audience=audience,
                        name_id="ada@bench.test",
                        attributes={"email": ["ada@bench.test"]},
                    )
                ).decode()
                for _ in range(count)
            ]

            with app.app_context():
                sp_settings = build_settings(settings, connection)
                data = request_data(settings, f"/saml/{slug}/acs")
            bare: list[float] = []
            for encoded in responses:
                start = time.perf_counter()
                ok = OneLogin_Saml2_Response(sp_settings, encoded).is_valid(
                    dict(data, post_data={"SAMLResponse": encoded})
                )
                bare.append(time.perf_counter() - start)
                assert ok

            gateway: list[float] = []
            for encoded in responses:
                start = time.perf_counter()
                answer = client.post(f"/saml/{slug}/acs", data={"SAMLResponse": encoded})
                gateway.append(time.perf_counter() - start)
                assert answer.status_code == 303, answer.get_data(as_text=True)
            app.extensions["gateway.services"].db.dispose()
        finally:
            drop()
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
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "GATEWAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
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
