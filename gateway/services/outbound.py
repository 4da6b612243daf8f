"""Which URLs the gateway may fetch or post to when an Admin chose them (webhooks, SAML IdP metadata, OpenID
Connect discovery, JWKS, token and userinfo endpoints).

Outside development such a URL must be ``https`` and its host must resolve only to public addresses: no
loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast or reserved
targets, so an Admin cannot aim the gateway at its own network (SSRF). An IPv6 address that carries an IPv4
one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``)
is judged as the IPv4 address it carries, since the network delivers it there. Callers check when the URL is
saved and again right before each request, since a name may resolve differently later.

The request itself goes through :func:`pinned_session`: its transport adapter resolves the host once, checks
every address, and connects to the checked address, keeping the URL's name in the ``Host`` header, in TLS SNI
and in certificate verification. So a name that answers a public address to the check and a private one to
the connection (DNS rebinding) never reaches the private one. In development (``allow_private``) plain http
and loopback are allowed, for local identity providers and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

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


NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form delivers to: mapped, IPv4-compatible, NAT64, 6to4."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """Whether ``address`` (IPv4 or IPv6, an IPv6 zone suffix ignored) is a public unicast address; an IPv6
    transition form is judged by the IPv4 address it carries."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        carried = embedded_ipv4(ip)
        if carried is not None:
            ip = carried
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


class OutboundRefused(requests.ConnectionError):
    """The connection was not made: the host did not resolve, or resolved to an address the policy refuses."""


def checked_address(host: str, port: int, *, allow_private: bool, resolver: Resolver = resolve) -> str:
    """The one address to connect to for ``host``: resolved now, every answer checked (outside development
    all must be public), the first one chosen. ``OutboundRefused`` otherwise."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [str(literal)]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise OutboundRefused(f"{host!r} does not resolve")
    if not allow_private:
        private = [a for a in addresses if not is_public_address(a)]
        if private:
            raise OutboundRefused(f"{host!r} resolves to a non-public address ({private[0]})")
    return addresses[0]


class PinnedAdapter(HTTPAdapter):
    """A transport adapter that connects to the address it checked, not to whatever the name resolves to
    when the socket opens: the pool is keyed by that address, while TLS SNI and certificate verification
    (``server_hostname``, ``assert_hostname``) and the ``Host`` header keep the URL's host name."""

    def __init__(self, *, allow_private: bool, resolver: Resolver = resolve) -> None:
        super().__init__(max_retries=0)
        self.allow_private = allow_private
        self.resolver = resolver

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = checked_address(host, port, allow_private=self.allow_private, resolver=self.resolver)
        request.headers["Host"] = parts.netloc.rpartition("@")[2]
        request.gateway_address = address  # type: ignore[attr-defined]
        return super().send(request, *args, **kwargs)

    def get_connection_with_tls_context(  # type: ignore[override]
        self, request: PreparedRequest, verify: bool | str | None, proxies: Any = None, cert: Any = None
    ) -> Any:
        address = getattr(request, "gateway_address", None)
        if address is None:
            raise OutboundRefused("no checked address for this request")
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
            pool_kwargs["assert_hostname"] = host_params["host"]
        host_params["host"] = address
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def pinned_session(*, allow_private: bool, resolver: Resolver = resolve) -> requests.Session:
    """A ``requests`` session whose every connection goes to a checked address (see ``PinnedAdapter``); it
    ignores proxy settings from the environment, which would connect elsewhere."""
    session = requests.Session()
    session.trust_env = False
    adapter = PinnedAdapter(allow_private=allow_private, resolver=resolver)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


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

    def session(self) -> requests.Session:
        """A session that connects only to addresses this policy checked at connect time."""
        return pinned_session(allow_private=self.allow_private, resolver=self.resolver)

    def pin(self, session: requests.Session) -> requests.Session:
        """Mount this policy's pinning adapter on a session made elsewhere (Authlib's OAuth client)."""
        session.trust_env = False
        adapter = PinnedAdapter(allow_private=self.allow_private, resolver=self.resolver)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session
