"""JSON shapes of the CLI's results."""

from __future__ import annotations

from typing import Any

from gateway.domain import model as m
from gateway.domain.policy import ModeSwitchPlan
from gateway.services.orgs import OrgView


def org_json(view: OrgView) -> dict[str, Any]:
    org = view.org
    return {
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "mode": org.mode.value,
        "multi_project": org.multi_project,
        "created_at": org.created_at.isoformat(),
        "default_project": {"id": view.default_project.id, "name": view.default_project.name},
        "domains": [{"domain": d.domain, "verified": d.verified} for d in view.domains],
        "member_count": view.member_count,
    }


def member_json(member: m.Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "org_id": member.org_id,
        "email": member.email,
        "role": member.role.value,
        "status": member.status.value,
        "joined_via": member.joined_via.value,
    }


def plan_json(plan: ModeSwitchPlan, *, applied: bool, dry_run: bool) -> dict[str, Any]:
    return {
        "org_id": plan.org_id,
        "from": plan.from_mode.value,
        "to": plan.to_mode.value,
        "allowed": plan.allowed,
        "refusal": plan.refusal,
        "dry_run": dry_run,
        "applied": applied,
        "effects": plan.effects,
        "invitations_to_revoke": plan.invitations_to_revoke,
        "scim_tokens_to_suspend": plan.scim_tokens_to_suspend,
        "scim_tokens_to_restore": plan.scim_tokens_to_restore,
        "connections_to_suspend": plan.connections_to_suspend,
        "connections_to_restore": plan.connections_to_restore,
        "members_kept": plan.members_kept,
        "warnings": plan.warnings,
    }


def connection_json(c: m.SsoConnection) -> dict[str, Any]:
    return {
        "id": c.id,
        "org_id": c.org_id,
        "slug": c.slug,
        "protocol": c.protocol.value,
        "name": c.name,
        "preset": c.preset,
        "enabled": c.enabled,
        "suspended": c.suspended,
        "created_at": c.created_at.isoformat(),
    }
