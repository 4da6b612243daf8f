"""Entra ID group overage: spotting a groups claim that was cut short, and fetching the full list from the
endpoint the claim names (a Microsoft Graph ``getMemberObjects`` call) with the connection's credentials.

Every URL goes through the outbound address policy, and the connections go to the address it checked.
Outside development the endpoint must be on a Microsoft Graph host: the app token obtained with the
connection's credentials is never sent anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from gateway.domain.model import Role
from gateway.domain.role_mapping import GroupsClaim, role_from_groups
from gateway.services.outbound import OutboundPolicy

log = logging.getLogger(__name__)

SAML_GROUPS_LINK = "http://schemas.microsoft.com/claims/groups.link"
GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.windows.net",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)
TIMEOUT_SECONDS = 10
MAX_GROUPS = 20_000


class OverageUnresolved(Exception):
    """The full group list could not be fetched; ``code`` says why (kept in the audit trail)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def oidc_groups_claim(claims: Mapping[str, Any], name: str | None) -> GroupsClaim:
    """The groups claim of an ID token (or UserInfo); incomplete when ``_claim_names`` points it elsewhere
    (distributed claims, OpenID Connect Core section 5.6.2) or Entra's ``hasgroups`` is set."""
    name = name or "groups"
    groups = _strings(claims.get(name))
    names = claims.get("_claim_names")
    sources = claims.get("_claim_sources")
    if isinstance(names, dict) and name in names:
        source = sources.get(names[name]) if isinstance(sources, dict) else None
        endpoint = source.get("endpoint") if isinstance(source, dict) else None
        return GroupsClaim(groups, complete=False, source=endpoint if isinstance(endpoint, str) else None)
    if claims.get("hasgroups") in (True, "true"):
        return GroupsClaim(groups, complete=False)
    return GroupsClaim(groups)


def saml_groups_claim(attributes: Mapping[str, Any], name: str | None) -> GroupsClaim:
    """The groups attribute of an assertion; incomplete when Entra sent ``groups.link`` instead."""
    groups = tuple(g for g in _strings(list(attributes.get(name or "", ()))) if g.strip())
    link = list(attributes.get(SAML_GROUPS_LINK, ()))
    if link:
        return GroupsClaim(groups, complete=False, source=str(link[0]))
    return GroupsClaim(groups)


@dataclass(frozen=True)
class GraphCredentials:
    token_endpoint: str
    client_id: str
    client_secret: str


def graph_endpoint(source: str) -> str:
    """The call to make for a named source. The retired Azure AD Graph URL Entra still puts in tokens
    (``https://graph.windows.net/<tenant>/users/<id>/getMemberObjects``) becomes Microsoft Graph's."""
    parts = urlsplit(source)
    segments = [s for s in parts.path.split("/") if s]
    if parts.hostname == "graph.windows.net" and len(segments) >= 4 and segments[1] == "users":
        return f"https://graph.microsoft.com/v1.0/users/{segments[2]}/getMemberObjects"
    return source


def fetch_member_groups(
    source: str, credentials: GraphCredentials, outbound: OutboundPolicy
) -> tuple[str, ...]:
    """Every group id the person belongs to, from ``source`` (``OverageUnresolved`` when that fails)."""
    endpoint = graph_endpoint(source)
    host = (urlsplit(endpoint).hostname or "").lower()
    if not outbound.allow_private and host not in GRAPH_HOSTS:
        raise OverageUnresolved(
            "groups_source_untrusted", f"The groups source {host!r} is not Microsoft Graph."
        )
    try:
        token_url = outbound.check(credentials.token_endpoint, what="token endpoint", field="token_endpoint")
        endpoint = outbound.check(endpoint, what="groups endpoint", field="groups")
    except Exception as error:
        raise OverageUnresolved("groups_source_refused", str(error)) from None
    scope = f"https://{host}/.default" if host in GRAPH_HOSTS else None
    form = {"grant_type": "client_credentials", "client_id": credentials.client_id,
            "client_secret": credentials.client_secret, **({"scope": scope} if scope else {})}  # fmt: skip
    with outbound.session() as session:
        try:
            token_answer = session.post(token_url, data=form, timeout=TIMEOUT_SECONDS, allow_redirects=False)
            token = token_answer.json().get("access_token") if token_answer.status_code == 200 else None
            if not isinstance(token, str) or not token:
                raise OverageUnresolved(
                    "groups_token_refused", f"The token endpoint answered HTTP {token_answer.status_code}."
                )
            answer = session.post(
                endpoint,
                json={"securityEnabledOnly": False},
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
            body = answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError) as error:
            raise OverageUnresolved("groups_unreachable", f"{type(error).__name__}") from None
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise OverageUnresolved(
            "groups_answer_invalid", f"The groups endpoint answered HTTP {answer.status_code}."
        )
    return tuple(str(v) for v in values[:MAX_GROUPS] if isinstance(v, str))


@dataclass(frozen=True)
class SignInRole:
    """The role a sign-in gives, and what the audit event should say about it."""

    role: Role | None
    audit: dict[str, Any]


def sign_in_role(
    claim: GroupsClaim,
    admin_groups: Sequence[str],
    *,
    credentials: GraphCredentials | None,
    outbound: OutboundPolicy,
) -> SignInRole:
    """The role from the groups, fetching the full list when the claim was cut short and the connection has
    credentials; otherwise the member keeps their role (never demoted on a partial list) and the audit says why."""
    decision = role_from_groups(claim, admin_groups)
    if decision.kept_because is None:
        return SignInRole(decision.role, {})
    if claim.source is None:
        return SignInRole(None, {"role_kept": "groups_overage", "role_kept_detail": "no groups source named"})
    if credentials is None:
        return SignInRole(
            None, {"role_kept": "groups_overage", "role_kept_detail": "the connection has no credentials"}
        )
    try:
        groups = fetch_member_groups(claim.source, credentials, outbound)
    except OverageUnresolved as error:
        log.warning("group overage not resolved: %s", error.code)
        return SignInRole(None, {"role_kept": "groups_overage", "role_kept_detail": error.code})
    full = role_from_groups(GroupsClaim(claim.groups + groups), admin_groups)
    return SignInRole(full.role, {"groups_resolved": "overage", "groups_count": len(groups)})
