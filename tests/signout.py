"""Signing a test browser out the way a person does: open ``/logout``, then submit its confirmation form."""

from __future__ import annotations

import html
import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

_FORM = re.compile(
    r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="logout_token" value="([^"]*)">'
)


def sign_out(client: FlaskClient, next_url: str | None = None) -> TestResponse:
    page = client.get("/logout", query_string={"next": next_url} if next_url else {})
    found = _FORM.search(page.get_data(as_text=True))
    if found is None:  # not signed in: the GET already signed the browser out
        return page
    action, token = html.unescape(found.group(1)), found.group(2)
    return client.post(action, data={"logout_token": token})
