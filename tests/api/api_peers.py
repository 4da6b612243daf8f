"""What the admin API talks to in the connection and webhook tests, on loopback: an HTTP server that serves SAML
IdP metadata, an OpenID Provider's discovery document and JWKS, and a webhook receiver whose status code the
test sets. Also self-signed IdP certificates (made once: RSA key generation is slow)."""

from __future__ import annotations

import base64
import functools
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class Cert:
    pem: str
    b64: str
    fingerprint: str
    not_after: datetime


@functools.cache
def idp_cert(name: str, days: int = 365) -> Cert:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return Cert(
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        b64=base64.b64encode(der).decode(),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        not_after=start + timedelta(days=days),
    )


def idp_metadata(entity_id: str, sso_url: str, *certs: Cert) -> str:
    keys = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{c.b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{sso_url}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Peer:
    """One loopback HTTP server. ``documents`` maps a path to (status, content type, body); ``hook_status``
    is what ``/hook`` answers; ``hooks`` records the bodies it received."""

    server: BaseWSGIServer
    documents: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    hook_status: int = 200
    hooks: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def serve(
        self, path: str, body: str, *, status: int = 200, content_type: str = "application/json"
    ) -> str:
        self.documents[path] = (status, content_type, body)
        return self.url + path

    def openid_provider(self, name: str, *, claimed_issuer: str | None = None) -> str:
        """Publish a discovery document and a JWKS under ``/<name>``; returns the issuer URL. With
        ``claimed_issuer`` the document names another issuer (a provider the gateway must refuse)."""
        issuer = f"{self.url}/{name}"
        document = {
            "issuer": claimed_issuer or issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
        }
        self.serve(f"/{name}/.well-known/openid-configuration", json.dumps(document))
        jwks = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": "0vx7", "e": "AQAB"}]}
        self.serve(f"/{name}/jwks", json.dumps(jwks))
        return issuer

    def __call__(self, environ: dict, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        if request.path == "/hook":
            self.hooks.append(request.get_data())
            response = Response("", status=self.hook_status)
        elif request.path in self.documents:
            status, content_type, body = self.documents[request.path]
            response = Response(body, status=status, content_type=content_type)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)


def start_peer() -> tuple[Peer, threading.Thread]:
    peer = Peer(server=None)  # type: ignore[arg-type]
    peer.server = make_server("127.0.0.1", 0, peer, threaded=True)
    thread = threading.Thread(target=peer.server.serve_forever, daemon=True)
    thread.start()
    return peer, thread
