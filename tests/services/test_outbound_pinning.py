"""Outbound requests connect to the address that was checked: a name that resolves to a public address for the
check and to a private one for the connection (DNS rebinding) never reaches the private one, and IPv6
transition forms are judged by the IPv4 address they carry. DNS is faked by replacing ``socket.getaddrinfo``,
which both the policy's resolver and urllib3's connections use; the servers run on loopback."""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.domain.errors import InvalidInput
from gateway.outbox.webhook_sender import WebhookSender
from gateway.services.outbound import check_outbound_url, is_public_address, pinned_session

PUBLIC = "93.184.216.34"
REAL_GETADDRINFO = socket.getaddrinfo


class FakeDns:
    """Answers from a table; a name with several answers gives them one per lookup (the last one after)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
        if host not in self.table:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        self.lookups.append(host)
        answers = self.table[host]
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if kind == socket.AF_INET6 else (address, port)
        return [(kind, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


class Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def _answer(self) -> None:
        Recorder.hits.append(self.headers.get("Host", ""))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    Recorder.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    thread.join(timeout=5)


def _cert(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str | None]]]:
    """An HTTPS server on loopback with a certificate for ``idp.example``; records the SNI it was sent."""
    cert, key = _cert(tmp_path, "idp.example")
    sni: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment]
    Recorder.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert, sni
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A bare TCP listener on loopback that counts the connections it accepts (whatever they send)."""
    accepted: list[object] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=5)
    sock.close()


def test_a_name_rebound_to_loopback_after_the_check_is_never_connected(
    listener: tuple[int, list[object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, accepted = listener
    dns = FakeDns({"hooks.rebind.example": [PUBLIC, "127.0.0.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    sender = WebhookSender(allow_private=False, timeout=5)
    result = sender.send(f"https://hooks.rebind.example:{port}/hook", "whsec_" + "a" * 32, "msg_1", 1, "{}")
    assert not result.ok
    assert "cannot reach hooks.rebind.example" in (result.error or "")
    assert accepted == []


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    server: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.server_address[1]
    # The name resolves once, to loopback (development allows it); a later lookup would say elsewhere.
    dns = FakeDns({"idp.dev.example": ["127.0.0.1", "192.0.2.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with pinned_session(allow_private=True) as session:
        answer = session.get(f"http://idp.dev.example:{port}/doc", timeout=5)
    assert answer.json() == {"ok": True}
    assert Recorder.hits == [f"idp.dev.example:{port}"]
    assert dns.lookups == ["idp.dev.example"]


def test_tls_sni_and_certificate_checks_use_the_name_not_the_address(
    tls_server: tuple[int, Path, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert, sni = tls_server
    monkeypatch.setattr(
        socket, "getaddrinfo", FakeDns({"idp.example": ["127.0.0.1"], "impostor.example": ["127.0.0.1"]})
    )
    with pinned_session(allow_private=True) as session:
        assert session.get(f"https://idp.example:{port}/", verify=str(cert), timeout=5).status_code == 200
        assert sni == ["idp.example"]
        # The same address under a name the certificate does not cover is refused.
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://impostor.example:{port}/", verify=str(cert), timeout=5)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::ffff:10.0.0.1",  # IPv4-mapped
    ],
)
def test_ipv6_transition_forms_are_judged_by_the_ipv4_they_carry(address: str) -> None:
    assert not is_public_address(address)
    with pytest.raises(InvalidInput, match="loopback, private or reserved"):
        check_outbound_url(
            "https://idp.example/x", what="metadata URL", field="url", allow_private=False,
            resolver=lambda host, port: [address],
        )  # fmt: skip


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111"])
def test_transition_forms_of_public_addresses_stay_allowed(address: str) -> None:
    assert is_public_address(address)


def test_a_pinned_connection_refuses_a_transition_form_of_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"nat64.example": ["64:ff9b::7f00:1"]}))
    with pinned_session(allow_private=False) as session, pytest.raises(requests.ConnectionError):
        session.get("https://nat64.example/", timeout=5)
