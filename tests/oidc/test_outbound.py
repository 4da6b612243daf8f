"""The outbound address policy on every URL the OIDC adapter calls at sign-in (token, userinfo, JWKS, the
platform provider's discovery), with production-like name resolution, and redirects never followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.domain.errors import InvalidInput
from gateway.oidc import flow
from gateway.oidc.jwks import JwksCache
from gateway.oidc.platform import PlatformDirectory, PlatformLogin
from gateway.services.oidc_connections import OidcRefused, checked_fetch, fetch_json
from gateway.services.outbound import OutboundPolicy

DNS = {
    "internal.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:127.0.0.1"],
}
PRODUCTION = OutboundPolicy(allow_private=False, resolver=lambda host, port: DNS.get(host, ["93.184.216.34"]))
PRIVATE_URLS = [f"https://{host}/endpoint" for host in sorted(DNS)]


class Never:
    """A request function that must not be called."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(url)
        raise AssertionError(f"requested {url}")


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_userinfo_on_a_private_address_is_never_requested(url: str) -> None:
    get = Never()
    with pytest.raises(InvalidInput) as error:
        flow.fetch_userinfo(url, "access-token", outbound=PRODUCTION, get=get)
    assert error.value.details["field"] == "userinfo_endpoint" and get.calls == []


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_token_endpoint_on_a_private_address_is_never_called(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: list[object] = []
    monkeypatch.setattr(flow, "OAuth2Session", lambda *a, **k: sessions.append(k))
    with pytest.raises(InvalidInput) as error:
        flow.exchange_code(
            url, client_id="c", client_secret="s", redirect_uri="https://gw.test/cb", code="abc",
            code_verifier="v", outbound=PRODUCTION,
        )  # fmt: skip
    assert error.value.details["field"] == "token_endpoint" and sessions == []


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_jwks_of_a_private_address_is_never_fetched(url: str) -> None:
    fetch = Never()
    cache = JwksCache(checked_fetch(fetch, PRODUCTION), lambda: datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="private or reserved"):
        cache.key_for(url, "k1", "RS256")
    assert fetch.calls == []


def test_the_platform_provider_on_a_private_address_is_never_discovered() -> None:
    fetch = Never()
    login = PlatformLogin("P", "https://metadata.test", "client", "secret", ("openid",))
    directory = PlatformDirectory(login, fetch, lambda: datetime(2026, 1, 1, tzinfo=UTC), outbound=PRODUCTION)
    with pytest.raises(InvalidInput) as error:
        directory.metadata()
    assert error.value.details["field"] == "issuer" and fetch.calls == []


def test_development_still_reaches_loopback() -> None:
    fetch = Never()
    development = OutboundPolicy(allow_private=True, resolver=PRODUCTION.resolver)
    with pytest.raises(AssertionError):
        checked_fetch(fetch, development)("http://127.0.0.1:9/keys")
    assert fetch.calls == ["http://127.0.0.1:9/keys"]


@pytest.fixture(scope="module")
def redirector() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that answers every path but ``/target`` with a redirect to ``/target``."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            hits.append(self.path)
            if self.path == "/target":
                body = b'{"sub": "someone"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(302)
            self.send_header("Location", "/target")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_provider_documents_do_not_follow_redirects(redirector: tuple[str, list[str]]) -> None:
    base, hits = redirector
    hits.clear()
    with pytest.raises(OidcRefused, match="HTTP 302"):
        fetch_json(f"{base}/.well-known/openid-configuration")
    with pytest.raises(OidcRefused, match="HTTP 302"):
        flow.fetch_userinfo(f"{base}/userinfo", "t", outbound=OutboundPolicy(allow_private=True))
    with pytest.raises(OidcRefused):
        flow.exchange_code(
            f"{base}/token", client_id="c", client_secret="s", redirect_uri="https://gw.test/cb", code="abc",
            code_verifier="v", outbound=OutboundPolicy(allow_private=True),
        )  # fmt: skip
    assert "/target" not in hits and len(hits) == 3
