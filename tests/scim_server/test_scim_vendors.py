"""Replays of the request sequences Okta, Microsoft Entra ID, Google Workspace and JumpCloud send, each step
answered the way that vendor expects (fixtures in ``fixtures/<vendor>/``), plus what they did to the product."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from scimkit import SCIM_JSON, ScimOrg

from gateway.domain import model as m
from gateway.services import Services

FIXTURES = Path(__file__).parent / "fixtures"
SEQUENCES = sorted(FIXTURES.glob("*/*.json"))


def _fill(value: Any, saved: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}", lambda match: saved[match.group(1)], value)
    if isinstance(value, list):
        return [_fill(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, saved) for key, item in value.items()}
    return value


def _dig(body: Any, dotted: str) -> Any:
    """``"emails.0.value"``; a key containing dots (a schema URN) is matched before splitting further."""
    current = body
    rest = dotted
    while rest:
        if isinstance(current, dict):
            key = next(
                (k for k in sorted(current, key=len, reverse=True) if rest == k or rest.startswith(k + ".")),
                None,
            )
            if key is None:
                raise KeyError(dotted)
            current, rest = current[key], rest[len(key) + 1 :]
        else:
            head, _, rest = rest.partition(".")
            current = current[int(head)]
    return current


def replay(
    scim_org: ScimOrg, sequence: dict[str, Any], saved: dict[str, str] | None = None
) -> dict[str, str]:
    saved = dict(saved or {})
    for step in sequence["steps"]:
        label = f"{sequence['vendor']}: {step['name']}"
        response = scim_org.scim.request(
            step["method"], _fill(step["path"], saved), _fill(step.get("body"), saved)
        )
        assert response.status_code == step["status"], f"{label}: {response.get_data(as_text=True)}"
        if response.status_code == 204:
            assert response.get_data() == b"", label
            continue
        assert response.mimetype == SCIM_JSON, label
        body = response.get_json(force=True)
        for path, expected in _fill(step.get("expect", {}), saved).items():
            assert _dig(body, path) == expected, (
                f"{label}: {path} is {_dig(body, path)!r}, expected {expected!r}"
            )
        for path in step.get("absent", []):
            with pytest.raises(KeyError):
                _dig(body, path)
        for path, ids in _fill(step.get("values", {}), saved).items():
            assert sorted(item["value"] for item in _dig(body, path)) == sorted(ids), label
        for path, size in step.get("count", {}).items():
            assert len(_dig(body, path)) == size, label
        for name, path in step.get("save", {}).items():
            saved[name] = _dig(body, path)
    return saved


@pytest.mark.parametrize("fixture", SEQUENCES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_vendor_sequence_is_answered_as_the_vendor_expects(
    fixture: Path, acme: ScimOrg, app_services: Services
) -> None:
    saved = replay(acme, json.loads(fixture.read_text()))
    user = app_services.members.get(acme.org.id, saved["user_id"]).member
    # Every sequence ends with the IdP deleting its user: access revoked, the member kept as removed.
    assert user.status is m.MemberStatus.REMOVED
    assert user.removed_by is m.RemovalSource.SCIM
    events, _ = app_services.audit.list(acme.org.id, actor_type=m.ActorType.SCIM_TOKEN, limit=500)
    actions = {e.action for e in events}
    assert {"member.joined", "member.removed"} <= actions
    assert all(e.actor_type is m.ActorType.SCIM_TOKEN for e in events)


def test_entra_disable_suspends_and_enable_restores(acme: ScimOrg, app_services: Services) -> None:
    sequence = json.loads((FIXTURES / "entra" / "provisioning.json").read_text())
    steps = {step["name"]: step for step in sequence["steps"]}
    first = [s for s in sequence["steps"] if s["name"] != "enable user again"]
    saved = replay(
        acme,
        {**sequence, "steps": first[: first.index(steps["disable user (boolean sent as a string)"]) + 1]},
    )
    member = app_services.members.get(acme.org.id, saved["user_id"]).member
    assert member.status is m.MemberStatus.SUSPENDED
    assert member.email == "updatedemail@microsoft.com"
    replay(acme, {**sequence, "steps": [steps["enable user again"]]}, saved)
    assert app_services.members.get(acme.org.id, saved["user_id"]).member.status is m.MemberStatus.ACTIVE
