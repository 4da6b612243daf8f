"""A real gateway on a loopback port and Debian's Chromium driven by Playwright, for the console's flows.

Chromium comes from the Debian package ``chromium`` (never ``playwright install``). Set ``GATEWAY_SCREENSHOTS=1``
to also write screenshots of the main pages to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.app import create_app
from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import generate_sp_key
from gateway.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CLI = m.Actor.cli()
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveGateway:
    """The gateway serving on 127.0.0.1 from a thread, against a SQLite file of its own."""

    url: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def services(self) -> Services:
        return self.app.extensions["gateway.services"]

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.services.db.dispose()


def start_gateway(workdir: Path) -> LiveGateway:
    server = make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = load_settings(
        {
            "database_url": f"sqlite:///{workdir / 'gateway.db'}",
            "instance_path": str(workdir / "instance"),
            "secret_key": "browser-test-secret",
            "public_url": url,
        }
    )
    app = create_app(settings=settings)
    app.extensions["gateway.services"].db.create_all()
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    return LiveGateway(url, app, server, thread)


@dataclass
class Visit:
    """A browser context signed in as one member, collecting every JavaScript error its pages report."""

    gateway: LiveGateway
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> Page:
        response = self.page.goto(self.gateway.url + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return self.page

    def fits(self) -> bool:
        """The page does not scroll sideways (wide tables scroll inside their own box)."""
        return bool(self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))

    def screenshot(self, name: str) -> None:
        if os.environ.get("GATEWAY_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def visit(
    browser: Browser, gateway: LiveGateway, org_id: str, member_id: str, **options: object
) -> Iterator[Visit]:
    _, token = gateway.services.sessions.start(org_id, member_id, CLI)
    context = browser.new_context(viewport=DESKTOP, **options)  # type: ignore[arg-type]
    context.add_cookies([{"name": "gw_session", "value": token, "url": gateway.url}])
    page = context.new_page()
    current = Visit(gateway, context, page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and message.location.get("url") == page.url:
            return  # the page itself, answered 4xx on purpose (a refused form shown with its errors)
        current.errors.append(f"{page.url}: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: current.errors.append(f"{page.url}: {error}"))
    try:
        yield current
    finally:
        context.close()
    assert current.errors == [], current.errors


def idp_metadata_file(directory: Path) -> Path:
    cert = generate_sp_key("idp.example", datetime(2026, 1, 1, tzinfo=UTC), key_size=1024).cert
    path = directory / "idp-metadata.xml"
    path.write_text(f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exkBROWSER">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
      Location="https://acme.okta.example/app/sso/saml"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>""")
    return path
