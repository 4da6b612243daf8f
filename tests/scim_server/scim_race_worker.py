"""One process of the mode-flip race (``test_scim_mode_flip_race.py``): creates users over SCIM, one request each,
through its own gateway app on the shared database, and prints every outcome as a JSON line.

Run as ``python scim_race_worker.py DB_URL TOKEN PREFIX COUNT INSTANCE_DIR``."""

from __future__ import annotations

import json
import sys

from gateway.app import create_app
from gateway.settings import load_settings


def main(db_url: str, token: str, prefix: str, count: int, instance: str) -> None:
    settings = load_settings(
        {
            "database_url": db_url,
            "instance_path": instance,
            "secret_key": "race",
            "public_url": "http://gateway.test",
        }
    )
    client = create_app(settings=settings).test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    print(json.dumps({"ready": True}), flush=True)
    for i in range(count):
        user_name = f"{prefix}-{i:04d}@acme.test"
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "emails": [{"value": user_name, "type": "work", "primary": True}],
        }
        response = client.post("/scim/v2/Users", data=json.dumps(body), headers=headers)
        payload = response.get_json(silent=True) or {}
        print(
            json.dumps({"user": user_name, "status": response.status_code, "id": payload.get("id")}),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
