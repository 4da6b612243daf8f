"""Spotting a groups claim Entra cut short, and where its full list may be fetched from (pure checks)."""

from __future__ import annotations

import pytest

from gateway.domain.model import Role
from gateway.domain.role_mapping import GroupsClaim, role_from_groups
from gateway.services.group_overage import (
    SAML_GROUPS_LINK,
    GraphCredentials,
    OverageUnresolved,
    fetch_member_groups,
    graph_endpoint,
    oidc_groups_claim,
    saml_groups_claim,
)
from gateway.services.outbound import OutboundPolicy


def test_a_distributed_groups_claim_is_incomplete_and_names_its_source() -> None:
    claims = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://x/y"}}}
    assert oidc_groups_claim(claims, "groups") == GroupsClaim((), complete=False, source="https://x/y")
    assert oidc_groups_claim({"hasgroups": True}, "groups").complete is False
    assert oidc_groups_claim({"groups": ["a"]}, "groups") == GroupsClaim(("a",))


def test_a_groups_link_attribute_is_incomplete() -> None:
    claim = saml_groups_claim(
        {SAML_GROUPS_LINK: ["https://graph.windows.net/t/users/u/getMemberObjects"]}, "g"
    )
    assert not claim.complete and claim.source


def test_a_partial_list_promotes_but_never_demotes() -> None:
    assert role_from_groups(GroupsClaim(("adm",), complete=False), ["adm"]).role is Role.ADMIN
    kept = role_from_groups(GroupsClaim((), complete=False), ["adm"])
    assert kept.role is None and kept.kept_because == "groups_overage"
    assert role_from_groups(GroupsClaim(()), ["adm"]).role is Role.MEMBER
    assert role_from_groups(GroupsClaim(()), []).role is None


def test_the_retired_azure_ad_graph_url_becomes_microsoft_graph() -> None:
    assert graph_endpoint("https://graph.windows.net/tid/users/oid/getMemberObjects") == (
        "https://graph.microsoft.com/v1.0/users/oid/getMemberObjects"
    )


def test_outside_development_only_microsoft_graph_gets_the_app_token() -> None:
    credentials = GraphCredentials("https://login.microsoftonline.com/t/oauth2/v2.0/token", "id", "secret")
    with pytest.raises(OverageUnresolved) as refused:
        fetch_member_groups("https://evil.example/steal", credentials, OutboundPolicy(allow_private=False))
    assert refused.value.code == "groups_source_untrusted"
