"""Which URLs the gateway may fetch or post to when an Admin chose them (webhooks, SAML IdP metadata, OpenID
Connect discovery, JWKS, token and userinfo endpoints).

Outside development such a URL must be ``https`` and its host must resolve only to public addresses: no
loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast or reserved
targets, IPv4-mapped IPv6 included, so an Admin cannot aim the gateway at its own network (SSRF). Callers check
when the URL is saved and again right before each request, since a name may resolve differently later. In
development (``allow_private``) plain http and loopback are allowed, for local identity providers and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.domain.errors import InvalidInput

Resolver = Callable[[str, int], list[str]]
MAX_URL_LENGTH = 2048


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def is_public_address(address: str) -> bool:
    """Whether ``address`` (IPv4 or IPv6, an IPv6 zone suffix ignored) is a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_outbound_url(
    url: str, *, what: str, field: str, allow_private: bool, resolver: Resolver = resolve
) -> str:
    """``url`` stripped, or ``InvalidInput`` on ``field`` saying what is wrong with the ``what`` (e.g. "webhook
    URL", "metadata URL", "jwks_uri")."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput(f"The {what} is missing; give a URL.", field=field)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"The {what} is longer than {MAX_URL_LENGTH} characters.", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput(f"The {what} is not a valid URL.", field=field) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput(f"The {what} must use https, got {url[:200]!r}.", field=field)
    if not parts.hostname:
        raise InvalidInput(f"The {what} needs a host name.", field=field)
    if parts.username or parts.password:
        raise InvalidInput(f"The {what} must not contain credentials.", field=field)
    if parts.fragment:
        raise InvalidInput(f"The {what} must not contain a fragment.", field=field)
    if allow_private:
        return url
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise InvalidInput(f"The host of the {what}, {parts.hostname!r}, does not resolve.", field=field)
    private = [a for a in addresses if not is_public_address(a)]
    if private:
        raise InvalidInput(
            f"The host of the {what}, {parts.hostname!r}, resolves to a loopback, private or reserved "
            f"address ({private[0]}); the gateway only connects to public addresses.",
            field=field,
        )
    return url


@dataclass
class OutboundPolicy:
    """The outbound address policy of one gateway, shared by the components that fetch a provider's URLs (so
    a test can relax it for all of them at once)."""

    allow_private: bool
    resolver: Resolver = resolve

    def check(self, url: str, *, what: str, field: str) -> str:
        return check_outbound_url(
            url, what=what, field=field, allow_private=self.allow_private, resolver=self.resolver
        )
