"""The SAML endpoints' answer while the database is away: a page that says to try again (503,
``Retry-After``). Imported by ``init_saml`` before the blueprint is registered."""

from __future__ import annotations

from flask import Response

from gateway.domain.errors import Unavailable
from gateway.web.signin import unavailable_page
from saml.views import bp


@bp.errorhandler(Unavailable)
def _unavailable(error: Unavailable) -> Response:
    return unavailable_page(error)
