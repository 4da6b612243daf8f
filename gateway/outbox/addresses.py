"""Which webhook URLs the gateway may call. Outside development a webhook must be an ``https`` URL whose host
resolves only to public addresses: no loopback, private, link-local (cloud metadata), multicast or reserved
targets, so an Admin cannot aim the gateway at its own network. The check runs when the endpoint is saved and
again before every delivery (the name may resolve differently later)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
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


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> str:
    """``url`` stripped, or ``InvalidInput`` saying what is wrong with it."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("A webhook needs a URL.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput("The webhook URL is not a valid URL.", field="url") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput("The webhook URL must use https.", field="url")
    if not parts.hostname:
        raise InvalidInput("The webhook URL needs a host name.", field="url")
    if parts.username or parts.password:
        raise InvalidInput("The webhook URL must not contain credentials; sign with the secret.", field="url")
    if parts.fragment:
        raise InvalidInput("The webhook URL must not contain a fragment.", field="url")
    if allow_private:
        return url
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise InvalidInput(f"The webhook host {parts.hostname!r} does not resolve.", field="url")
    private = [a for a in addresses if not _is_public(a)]
    if private:
        raise InvalidInput(
            f"The webhook host {parts.hostname!r} resolves to a loopback, private or reserved address "
            f"({private[0]}); webhooks must target a public address.",
            field="url",
        )
    return url
