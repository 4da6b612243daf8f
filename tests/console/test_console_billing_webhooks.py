"""The console's Billing and Webhooks pages: balance and monthly bill, buying within the policy, the policy
form, statement exports; webhook endpoints with the secret shown once, delivery log, dead-letter retry."""

from __future__ import annotations

import csv
import io
import json
import re

from console_helpers import CLI, Org, field_error, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import DeliveryAttempt, MessageStatus


def member(services: Services, org: Org, email: str) -> m.Member:
    added = services.members.add_admin(org.id, email, CLI)
    return services.members.change_role(org.id, added.id, m.Role.MEMBER, CLI, override=True)


# -- billing ---------------------------------------------------------------------------------------------------
def test_the_billing_page_shows_the_month_by_project_and_member(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    ada = member(app_services, acme, "ada@acme.test")
    app_services.billing.purchase(acme.id, ada.id, 500, CLI)
    app_services.billing.spend(acme.id, acme.project.id, ada.id, 120, CLI, "fine-tune")
    page = text_of(admin_client.get("/admin/billing"))
    assert "Balance 380 credits" in page
    assert "Bill for 2026-11" in page
    assert "Opening balance 0 Purchased 500 Used 120 Closing balance 380" in page
    assert "Default Project 120" in page
    assert "ada@acme.test 500 120" in page
    assert "Any member, no monthly limit" in page


def test_a_member_buys_within_the_limit_and_is_told_why_when_over(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.billing.set_purchase_policy(
        acme.id, CLI, members_may_purchase=True, monthly_limit_per_member=100
    )
    ada = member(app_services, acme, "ada@acme.test")
    sign_in(client, app_services, acme.id, ada.id)
    bought = post(client, "/admin/billing/purchases", {"credits": "80"}, token_from="/admin/billing")
    assert bought.status_code == 303
    assert "You may buy 20 more this month" in text_of(client.get("/admin/billing"))
    over = post(client, "/admin/billing/purchases", {"credits": "30"}, token_from="/admin/billing")
    assert over.status_code == 400
    assert "at most 20 more" in (field_error(over, "credits") or "")
    assert "Purchase policy" not in text_of(client.get("/admin/billing"))  # Members do not set it
    refused = post(
        client, "/admin/billing/policy", {"monthly_limit_per_member": ""}, token_from="/admin/billing"
    )
    assert refused.status_code == 403


def test_admins_set_the_policy_from_the_page(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bad = post(
        admin_client,
        "/admin/billing/policy",
        {"monthly_limit_per_member": "lots"},
        token_from="/admin/billing",
    )
    assert bad.status_code == 400 and field_error(bad, "monthly_limit_per_member")
    saved = post(
        admin_client,
        "/admin/billing/policy",
        {"monthly_limit_per_member": "1,000"},
        token_from="/admin/billing",
    )
    assert saved.status_code == 303
    policy = app_services.billing.purchase_policy(acme.id)
    assert (policy.members_may_purchase, policy.monthly_limit_per_member) == (False, 1000)
    assert "Only Admins, at most 1,000 credits per member per month" in text_of(
        admin_client.get("/admin/billing")
    )


def test_statements_export_as_csv_and_json(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.billing.purchase(acme.id, acme.admin.id, 42, CLI)
    as_csv = admin_client.get("/admin/billing/statements/2026-11.csv")
    assert as_csv.mimetype == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert {r[1]: r[2] for r in rows if r and r[0] == "total"}["closing_balance"] == "42"
    as_json = json.loads(admin_client.get("/admin/billing/statements/2026-11.json").get_data(as_text=True))
    assert as_json["purchased"] == 42 and as_json["lines"][0]["member_email"] == acme.admin.email
    assert admin_client.get("/admin/billing/statements/2026-11.xlsx").status_code == 400
    assert admin_client.get("/admin/billing/statements/2026-13.csv").status_code == 400
    assert "A month is YYYY-MM" in text_of(admin_client.get("/admin/billing?month=soon"))


# -- webhooks --------------------------------------------------------------------------------------------------
def _secret(body: str) -> str | None:
    found = re.search(r'id="secret-value" class="mono" type="text" readonly value="([^"]+)"', body)
    return found.group(1) if found else None


def test_an_endpoint_is_added_with_its_secret_shown_once(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    created = post(
        admin_client, "/admin/webhooks",
        {"url": "http://127.0.0.1:9/hook", "event_types": ["member.created", "member.removed"]},
        token_from="/admin/webhooks",
    )  # fmt: skip
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    secret = _secret(created.get_data(as_text=True))
    assert secret and secret.startswith("whsec_")
    listing = admin_client.get("/admin/webhooks").get_data(as_text=True)
    assert secret not in listing
    assert "member.created, member.removed" in text_of(admin_client.get("/admin/webhooks"))
    endpoint = app_services.webhooks.list(acme.id)[0]
    rotated = post(admin_client, f"/admin/webhooks/{endpoint.id}/rotate-secret", token_from="/admin/webhooks")
    assert (_secret(rotated.get_data(as_text=True)) or secret) != secret

    post(
        admin_client, f"/admin/webhooks/{endpoint.id}/enabled", {"enabled": "0"}, token_from="/admin/webhooks"
    )
    assert app_services.webhooks.get(acme.id, endpoint.id).enabled is False
    post(
        admin_client,
        f"/admin/webhooks/{endpoint.id}/event-types",
        {"event_types": []},
        token_from="/admin/webhooks",
    )
    assert app_services.webhooks.get(acme.id, endpoint.id).event_types == []
    post(admin_client, f"/admin/webhooks/{endpoint.id}/remove", token_from="/admin/webhooks")
    assert app_services.webhooks.list(acme.id) == []


def test_a_bad_endpoint_is_shown_next_to_its_field(admin_client: FlaskClient, acme: Org) -> None:
    refused = post(admin_client, "/admin/webhooks", {"url": "ftp://x"}, token_from="/admin/webhooks")
    assert refused.status_code == 400 and field_error(refused, "url")
    unknown = post(
        admin_client, "/admin/webhooks", {"url": "http://127.0.0.1:9/h", "event_types": ["member.exploded"]},
        token_from="/admin/webhooks",
    )  # fmt: skip
    assert unknown.status_code == 400 and "member.exploded" in (field_error(unknown, "event_types") or "")


def kill_deliveries(services: Services, org_id: str) -> list[str]:
    """Park every pending webhook delivery as dead after one failed attempt (as the worker would)."""
    ids = []
    with services.db.transaction() as tx:
        store = OutboxStore(tx)
        messages, _ = store.messages(org_id, status=MessageStatus.PENDING, limit=100)
        for message in messages:
            message.status, message.attempts, message.last_error = MessageStatus.DEAD, 1, "HTTP 500"
            message.last_status_code = 500
            store.add(
                DeliveryAttempt(org_id, message.id, 1, message.created_at, False, 12, "w1", 500, "HTTP 500")
            )
            ids.append(message.id)
    return ids


def test_dead_letters_are_listed_with_their_log_and_retried(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.webhooks.create(acme.id, "http://127.0.0.1:9/hook", CLI, event_types=["member.created"])
    member(app_services, acme, "ada@acme.test")
    dead = kill_deliveries(app_services, acme.id)
    assert len(dead) == 1
    assert "1 dead letter(s)" in text_of(admin_client.get("/admin/webhooks"))
    log = text_of(admin_client.get("/admin/webhooks/deliveries?status=dead"))
    assert "member.created" in log and "HTTP 500" in log and "Retry all dead letters" in log
    detail = text_of(admin_client.get(f"/admin/webhooks/deliveries/{dead[0]}"))
    assert "1 " in detail and "failed 500 HTTP 500 12 ms" in detail

    retried = post(
        admin_client, f"/admin/webhooks/deliveries/{dead[0]}/replay", {"back": "/admin/webhooks/deliveries"},
        token_from="/admin/webhooks/deliveries",
    )  # fmt: skip
    assert retried.status_code == 303 and retried.headers["Location"].endswith("/admin/webhooks/deliveries")
    assert app_services.webhooks.delivery(acme.id, dead[0])[0].status is MessageStatus.PENDING
    kill_deliveries(app_services, acme.id)
    everything = post(
        admin_client, "/admin/webhooks/deliveries/retry-dead", token_from="/admin/webhooks/deliveries"
    )
    assert everything.status_code == 303
    assert app_services.webhooks.stats(acme.id).get("dead", 0) == 0


def test_members_cannot_open_the_webhooks_pages(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    ada = member(app_services, acme, "ada@acme.test")
    sign_in(client, app_services, acme.id, ada.id)
    assert client.get("/admin/webhooks").status_code == 403
    assert client.get("/admin/webhooks/deliveries").status_code == 403
