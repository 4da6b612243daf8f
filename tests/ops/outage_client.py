"""The SCIM load of the outage test, one process per client: create users one after the other, retrying each
on 503 or a connection error as an identity provider does, until told to stop."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


def run_client(base: str, token: str, prefix: str, out: str, stop: Any, ok: Any, unavailable: Any) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    results: list[dict[str, Any]] = []
    i = 0
    while not stop.is_set():
        user_name = f"{prefix}-{i}@acme.com"
        statuses: list[int] = []
        while True:
            try:
                response = session.post(
                    base + "/scim/v2/Users",
                    json={"schemas": [USER_URN], "userName": user_name, "externalId": f"{prefix}-{i}"},
                    timeout=30,
                )
            except requests.RequestException:
                statuses.append(0)
                time.sleep(0.05)
                continue
            statuses.append(response.status_code)
            if response.status_code == 503:
                assert response.headers.get("Retry-After"), "503 without Retry-After"
                assert response.json()["status"] == "503"
                with unavailable.get_lock():
                    unavailable.value += 1
                time.sleep(0.05)  # an IdP would wait Retry-After seconds; the test keeps it short
                continue
            break
        final = statuses[-1]
        body = response.json() if response.content else {}
        results.append({"userName": user_name, "statuses": statuses, "id": body.get("id")})
        if final == 201:
            with ok.get_lock():
                ok.value += 1
        i += 1
    Path(out).write_text(json.dumps(results))
