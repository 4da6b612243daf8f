"""The abuse limit of the ACS: posts per client address, checked before any XML is parsed or any signature
verified, answered with the SAML adapter's HTML page (429, ``Retry-After``)."""

from __future__ import annotations

from flask import Flask, Response, request

from gateway.domain.errors import RateLimited
from gateway.web import abuse


def limit_acs(app: Flask) -> None:
    @app.before_request
    def _acs_limit() -> Response | None:
        if request.endpoint != "saml.acs":
            return None
        try:
            abuse.take("acs")
        except RateLimited as error:
            return abuse.limited_page(error)
        return None
