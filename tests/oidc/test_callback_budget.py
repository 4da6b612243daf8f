"""The work of an OIDC callback, pinned as a budget: the single-use state is taken, the connection read, the code
exchanged with the provider outside any transaction, then one transaction holds the sign-in (or just-in-time
creation), the session and their audit rows."""

from __future__ import annotations

from statement_counter import count_statements

from .conftest import Tenant
from .peer import Browser

JIT_CALLBACK = ({"sqlite": 12, "postgresql": 8}, 3)
RETURNING_CALLBACK = ({"sqlite": 8, "postgresql": 6}, 3)


def _callback(browser: Browser, tenant: Tenant, login: str, app_services):  # type: ignore[no-untyped-def]
    browser.start(tenant.login_path)
    callback_url = browser.authenticate(login)
    with count_statements(app_services.db.engine) as counted:
        response = browser.finish(callback_url)
    assert response.status_code == 303, response.get_data(as_text=True)
    return counted


def test_callback_budgets(tenant: Tenant, client, app_services) -> None:  # type: ignore[no-untyped-def]
    _callback(Browser(client), tenant, "warm@acme.test", app_services)
    _callback(Browser(client), tenant, "alice@acme.test", app_services).within(*JIT_CALLBACK)
    _callback(Browser(client), tenant, "alice@acme.test", app_services).within(*RETURNING_CALLBACK)
