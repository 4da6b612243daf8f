"""The outbound address policy (SSRF): which Admin-chosen URLs the gateway may call outside development."""

from __future__ import annotations

import pytest

from gateway.domain.errors import InvalidInput
from gateway.services.outbound import OutboundPolicy, check_outbound_url, is_public_address, resolve

DNS = {
    "hooks.example.com": ["93.184.216.34"],
    "localhost": ["127.0.0.1", "::1"],
    "internal.example.com": ["93.184.216.34", "10.1.2.3"],
    "private.example.com": ["10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
    "v6.example.com": ["::ffff:192.168.1.1"],
    "mapped-loopback.example.com": ["::ffff:127.0.0.1"],
    "ula.example.com": ["fd00::1"],
    "linklocal6.example.com": ["fe80::1%eth0"],
    "cgnat.example.com": ["100.64.0.1"],
    "multicast.example.com": ["224.0.0.1"],
    "unspecified.example.com": ["0.0.0.0"],
    "reserved.example.com": ["240.0.0.1"],
}


def fake_dns(host: str, port: int) -> list[str]:
    return DNS.get(host, [])


def check(url: str) -> str:
    return check_outbound_url(url, what="webhook URL", field="url", allow_private=False, resolver=fake_dns)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("https://localhost/x", "loopback, private or reserved"),
        ("https://127.0.0.1/x", "does not resolve"),
        ("https://internal.example.com/x", "loopback, private or reserved"),
        ("https://private.example.com/x", "(10.0.0.5)"),
        ("https://metadata.example.com/x", "(169.254.169.254)"),
        ("https://v6.example.com/x", "loopback, private or reserved"),
        ("https://mapped-loopback.example.com/x", r"\(::ffff:127.0.0.1\)"),
        ("https://ula.example.com/x", "loopback, private or reserved"),
        ("https://linklocal6.example.com/x", "loopback, private or reserved"),
        ("https://cgnat.example.com/x", "loopback, private or reserved"),
        ("https://multicast.example.com/x", "loopback, private or reserved"),
        ("https://unspecified.example.com/x", "loopback, private or reserved"),
        ("https://reserved.example.com/x", "loopback, private or reserved"),
        ("https://nowhere.example.com/x", "does not resolve"),
        ("https://user:pw@hooks.example.com/x", "must not contain credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("https:///x", "needs a host"),
        ("", "missing"),
        ("https://hooks.example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_urls_outside_development_must_be_public_https(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as error:
        check(url)
    assert error.value.details["field"] == "url" and "webhook URL" in error.value.message


def test_a_public_https_url_is_returned_stripped() -> None:
    assert check("  https://hooks.example.com/x?a=1  ") == "https://hooks.example.com/x?a=1"


def test_the_refusal_names_the_field_and_what_it_is() -> None:
    policy = OutboundPolicy(allow_private=False, resolver=fake_dns)
    with pytest.raises(InvalidInput) as error:
        policy.check("https://metadata.example.com/md", what="metadata URL", field="metadata_url")
    assert error.value.details["field"] == "metadata_url" and error.value.message.startswith(
        "The host of the metadata URL"
    )


def test_literal_ips_are_checked_like_names() -> None:
    def real(url: str) -> str:
        return check_outbound_url(url, what="URL", field="url", allow_private=False, resolver=resolve)

    for url in (
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/x",
        "https://[::ffff:10.0.0.5]/",
    ):
        with pytest.raises(InvalidInput, match="loopback, private or reserved"):
            real(url)
    assert real("https://93.184.216.34/x")


def test_development_allows_loopback_http_without_resolving() -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("development does not resolve")

    url = check_outbound_url(
        "http://127.0.0.1:9000/h", what="webhook URL", field="url", allow_private=True, resolver=no_dns
    )
    assert url == "http://127.0.0.1:9000/h"


def test_development_still_refuses_other_schemes_and_credentials() -> None:
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "http://u:p@127.0.0.1/"):
        with pytest.raises(InvalidInput):
            check_outbound_url(url, what="URL", field="url", allow_private=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [("93.184.216.34", True), ("2606:2800:220:1::1", True), ("10.0.0.5", False), ("::ffff:127.0.0.1", False),
     ("169.254.169.254", False), ("not-an-address", False)],
)  # fmt: skip
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public
