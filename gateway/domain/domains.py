"""Email-domain ownership (rule 11) as plain values: what a domain name is, where its proof lives in DNS,
and what a TXT record must say to prove one claim."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from gateway.domain.errors import InvalidInput

CHALLENGE_LABEL = "_gateway-challenge"
"""The TXT record that proves a claim on ``example.com`` lives at ``_gateway-challenge.example.com``."""

CHALLENGE_PREFIX = "gateway-domain-verification="
"""A proving TXT record's text is this prefix followed by the claim's token."""

ADDRESS_DOMAIN_OWNED = (  # the same whether or not an account with the address exists anywhere
    "This email address is in a domain that another organization has verified as its own, so it can only "
    "belong to that organization. Use an address your organization may use, or move the account to this "
    "organization through an account migration."
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(value: str) -> str:
    """Lower-cased, trimmed, without a trailing dot; raises InvalidInput for anything that is not a DNS name
    of at least two labels (letters, digits and inner hyphens; IDNs in their ``xn--`` form)."""
    name = (value or "").strip().lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"{value!r} is not a domain name.", field="domain")
    if labels[-1].isdigit():
        raise InvalidInput(f"{value!r} is an address, not a domain name.", field="domain")
    return name


def parents(domain: str) -> list[str]:
    """``a.b.example.com`` -> ``[a.b.example.com, b.example.com, example.com]`` (never a bare TLD)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def challenge_value(token: str) -> str:
    return f"{CHALLENGE_PREFIX}{token}"


def proves(records: Iterable[str], token: str) -> bool:
    """Whether one of the TXT ``records`` found at the challenge name carries exactly this claim's token."""
    expected = challenge_value(token)
    return any(record.strip() == expected for record in records)


def resolver_address(value: str) -> tuple[str, int] | None:
    """``"127.0.0.1:5353"``, ``"[::1]:53"`` or ``"10.0.0.2"`` -> (address, port); empty -> the system's."""
    value = (value or "").strip()
    if not value:
        return None
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = int(rest.lstrip(":") or 53)
    elif value.count(":") == 1:
        host, _, raw = value.partition(":")
        port = int(raw)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port
