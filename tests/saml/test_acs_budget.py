"""The work of a sign-in at the ACS, pinned as a budget: the signature and assertion checks touch no table, then
one transaction holds the replay cache, the request id, the sign-in (or just-in-time creation), the session and
their audit rows. The connection is the process's kept copy (read by an earlier sign-in), checked against the
stored revision: on SQLite by a statement of its own, on PostgreSQL in the replay cache's statement, so a sign-in
there sends no statement for it. A returning member's sign-in
writes nothing a refusal would have to undo, so it opens no savepoint (two round trips on PostgreSQL); a
just-in-time creation keeps one around its writes. On PostgreSQL the replay cache's INSERT consumes the
remembered request and takes the sign-in's locks (the organization's shared lock, the email's join lock) in
the same statement (data-modifying CTEs of the organization's locking read), and the new session's row goes in
one statement with the audit rows at commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask.testing import FlaskClient
from saml_helpers import SamlSetup
from saml_idp import post_acs, start_login
from sqlalchemy import event
from statement_counter import count_statements

from gateway.services import Services

JIT_SIGN_IN = ({"sqlite": 12, "postgresql": 4}, 1)
RETURNING_SIGN_IN = ({"sqlite": 8, "postgresql": 3}, 1)


def test_a_just_in_time_sign_in_costs_one_transaction(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    okta.sign_in(client, "warm@acme.test")  # the organization's Default Project is known from here on
    request_id, relay = start_login(client, okta.slug, None)
    xml = okta.response("ada@acme.test", in_response_to=request_id)
    with count_statements(app_services.db.engine) as counted:
        answer = post_acs(client, okta.slug, xml, relay)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    counted.within(*JIT_SIGN_IN)


def test_a_returning_member_signs_in_within_budget(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    # A sign-in in a browser that has a session ends it: once so before, so its statements are compiled.
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    request_id, relay = start_login(client, okta.slug, None)
    xml = okta.response("ada@acme.test", in_response_to=request_id)
    with count_statements(app_services.db.engine) as counted, savepoints(app_services.db.engine) as taken:
        answer = post_acs(client, okta.slug, xml, relay)
    assert answer.status_code == 303
    counted.within(*RETURNING_SIGN_IN)
    counted.all_cached()
    assert taken == [], "a returning member's sign-in needs no savepoint"


def test_a_just_in_time_creation_keeps_its_savepoint(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    okta.sign_in(client, "warm@acme.test")
    request_id, relay = start_login(client, okta.slug, None)
    xml = okta.response("new@acme.test", in_response_to=request_id)
    with savepoints(app_services.db.engine) as taken:
        answer = post_acs(client, okta.slug, xml, relay)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert len(taken) == 1, taken


@contextmanager
def savepoints(engine: sa.Engine) -> Iterator[list[str]]:
    """The ``SAVEPOINT`` statements sent inside the block (the statement counter leaves them out)."""
    taken: list[str] = []

    def on_execute(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            taken.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield taken
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
