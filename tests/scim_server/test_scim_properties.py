"""Property test (hypothesis): generated SCIM bodies, shaped like Users and Groups or not, never get a 5xx.
Every answer is either a success or a SCIM Error in the protocol's own format."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scimkit import Scim, ScimOrg, new_user

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["ada@acme.test", "x@initech.test", "", "a" * 400, "\x00", "userName", "emails"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A body with the resource's own keys (each present or not, with any JSON value), or any JSON at all."""
    return (
        st.fixed_dictionaries({}, optional={k: st.one_of(v, json_values) for k, v in fields.items()})
        | json_values
    )


emails = st.lists(
    st.fixed_dictionaries({}, optional={"value": json_values, "primary": json_values, "type": json_values}),
    max_size=3,
)
user_bodies = shaped(
    {
        "schemas": st.just([USER_URN]),
        "userName": st.text(max_size=40),
        "emails": emails,
        "active": st.booleans(),
        "name": st.dictionaries(st.sampled_from(["givenName", "familyName", "formatted"]), json_values),
        "displayName": st.text(max_size=40),
        "externalId": st.text(max_size=40),
        "roles": st.lists(json_values, max_size=3),
        "phoneNumbers": st.lists(json_values, max_size=2),
    }
)
group_bodies = shaped(
    {
        "schemas": st.just([GROUP_URN]),
        "displayName": st.text(max_size=40),
        "members": st.lists(
            st.fixed_dictionaries({}, optional={"value": json_values, "display": json_values})
        ),
        "externalId": json_values,
    }
)
operations = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "op": st.sampled_from(["add", "replace", "remove", "Add", "bogus"]) | json_values,
            "path": st.sampled_from(
                [
                    "userName",
                    "emails",
                    "active",
                    "members",
                    'emails[type eq "work"].value',
                    "displayName",
                    "name.givenName",
                    'members[value eq "x"]',
                ]
            )
            | json_values,
            "value": json_values,
        },
    ),
    max_size=4,
)
patch_bodies = shaped({"schemas": st.just([PATCH_URN]), "Operations": operations})


def assert_no_server_error(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        body = response.get_json(force=True, silent=True)
        assert isinstance(body, dict) and body.get("status") == str(response.status_code), response.get_data(
            as_text=True
        )


@pytest.fixture
def user_id(scim: Scim) -> str:
    response = scim.post(
        "/Users", new_user("fuzz.target@acme.test", emails=[{"value": "fuzz.target@acme.test"}])
    )
    assert response.status_code == 201
    return response.get_json()["id"]


@pytest.fixture
def group_id(scim: Scim) -> str:
    response = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Fuzz target"})
    assert response.status_code == 201
    return response.get_json()["id"]


@EXAMPLES
@given(body=user_bodies)
def test_users_post_never_fails_with_a_server_error(scim: Scim, acme: ScimOrg, body: Any) -> None:
    assert_no_server_error(scim.post("/Users", body))


@EXAMPLES
@given(body=user_bodies)
def test_users_put_never_fails_with_a_server_error(scim: Scim, user_id: str, body: Any) -> None:
    assert_no_server_error(scim.put(f"/Users/{user_id}", body))


@EXAMPLES
@given(body=patch_bodies)
def test_users_patch_never_fails_with_a_server_error(scim: Scim, user_id: str, body: Any) -> None:
    assert_no_server_error(scim.request("PATCH", f"/Users/{user_id}", body))


@EXAMPLES
@given(body=group_bodies)
def test_groups_post_never_fails_with_a_server_error(scim: Scim, acme: ScimOrg, body: Any) -> None:
    assert_no_server_error(scim.post("/Groups", body))


@EXAMPLES
@given(body=patch_bodies)
def test_groups_patch_never_fails_with_a_server_error(scim: Scim, group_id: str, body: Any) -> None:
    assert_no_server_error(scim.request("PATCH", f"/Groups/{group_id}", body))
