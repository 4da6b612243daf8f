"""Switching the membership mode (rule 2): a dry-run preview, then an applied and audited result."""

from __future__ import annotations

from gateway.domain import model as m
from gateway.domain.errors import ModeSwitchRefused
from gateway.domain.policy import ModeSwitchPlan, plan_mode_switch
from gateway.services.base import ServiceBase
from gateway.services.test_sign_in import has_passed_a_test
from gateway.storage.store import Store


class ModeService(ServiceBase):
    def _plan(self, tx: Store, org: m.Organization, target: m.MembershipMode) -> ModeSwitchPlan:
        plan = self._rules(tx, org, target)
        if plan.allowed and target is m.MembershipMode.SSO and org.mode is not target:
            enabled = [c for c in tx.connections(org.id) if c.enabled]
            if not any(has_passed_a_test(c) for c in enabled):
                plan.warnings.append(
                    "No enabled connection has had a successful test sign-in. Run a test sign-in first: "
                    "after the switch, people (Admins included) can sign in only through these connections."
                )
        return plan

    def _rules(self, tx: Store, org: m.Organization, target: m.MembershipMode) -> ModeSwitchPlan:
        return plan_mode_switch(
            org,
            target,
            connections=tx.connections(org.id),
            scim_tokens=tx.scim_tokens(org.id),
            pending_invitations=tx.pending_invitations(org.id),
            members_kept=tx.count_members(org.id),
        )

    def preview(self, org_id: str, target: m.MembershipMode) -> ModeSwitchPlan:
        """What ``apply`` would do, without changing anything (also when the switch would be refused)."""
        with self.db.transaction() as tx:
            org = self.found(tx.org(org_id), "organization")
            return self._plan(tx, org, target)

    def apply(self, org_id: str, target: m.MembershipMode, actor: m.Actor) -> ModeSwitchPlan:
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id, exclusive=True)
            plan = self._plan(tx, org, target)
            if not plan.allowed:
                raise ModeSwitchRefused(plan.refusal or "", from_mode=org.mode.value, to_mode=target.value)
            if org.mode is target:
                return plan
            now = self.now()
            revoke = set(plan.invitations_to_revoke)
            for invitation in tx.pending_invitations(org.id):
                if invitation.id in revoke:
                    invitation.status = m.InvitationStatus.REVOKED
                    invitation.revoked_at = now
            suspend_tokens, restore_tokens = (
                set(plan.scim_tokens_to_suspend),
                set(plan.scim_tokens_to_restore),
            )
            for token in tx.scim_tokens(org.id):
                if token.id in suspend_tokens:
                    token.suspended = True
                elif token.id in restore_tokens:
                    token.suspended = False
            suspend_conns, restore_conns = set(plan.connections_to_suspend), set(plan.connections_to_restore)
            for connection in tx.connections(org.id):
                if connection.id in suspend_conns:
                    connection.suspended = True
                elif connection.id in restore_conns:
                    connection.suspended = False
            org.mode = target
            org.updated_at = now
            self.audit(
                tx, org.id, actor, "mode.switched", org,
                **{"from": plan.from_mode.value, "to": target.value},
                invitations_revoked=plan.invitations_to_revoke,
                scim_tokens_suspended=plan.scim_tokens_to_suspend, scim_tokens_restored=plan.scim_tokens_to_restore,
                connections_suspended=plan.connections_to_suspend, connections_restored=plan.connections_to_restore,
                members_kept=plan.members_kept,
            )  # fmt: skip
            return plan
