"""Cutover safety: an organization in ``sso`` mode signs in only through its enabled connections, so taking
the last one away (disabling or deleting it) locks everyone out. The rule refuses that unless the Admin
overrides it explicitly; break-glass sign-in links are the way back in afterwards."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.domain import model as m
from gateway.domain.errors import Conflict


class LastConnection(Conflict):
    """The change would leave an ``sso``-mode organization without any usable connection."""

    code = "last_connection"


def leaves_no_connection(
    org: m.Organization, connections: Iterable[m.SsoConnection], connection_id: str
) -> bool:
    """Whether taking ``connection_id`` out of service leaves an ``sso``-mode org with no usable connection."""
    if org.mode is not m.MembershipMode.SSO:
        return False
    usable = [c for c in connections if c.is_usable]
    return bool(usable) and all(c.id == connection_id for c in usable)


def check_connection_removal(
    org: m.Organization,
    connections: Iterable[m.SsoConnection],
    connection_id: str,
    *,
    override: bool,
    doing: str,
) -> None:
    """Refuse with ``LastConnection`` when ``doing`` ("disable", "delete") the connection would lock the
    organization out, unless ``override`` is given."""
    if override or not leaves_no_connection(org, connections, connection_id):
        return
    raise LastConnection(
        f"This is the last enabled connection of an organization in SSO mode: if you {doing} it, nobody can "
        "sign in (Admins included) until another connection works or the mode is switched to invitation. "
        "Confirm with an explicit override if that is what you want.",
        field="override",
    )
