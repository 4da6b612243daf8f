"""Filtering and sorting SCIM users on the enterprise extension, ``title`` and ``phoneNumbers`` (issue 13),
as Okta and Entra ID send them (the extension's attributes URN-qualified)."""

from __future__ import annotations

from urllib.parse import quote

from scimkit import Scim, assert_scim_error, new_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _user(scim: Scim, name: str, **enterprise: object) -> str:
    phones = [
        {"value": f"+1 555 01{len(name):02d}", "type": "work"},
        {"value": f"+1 555 9{name[:2]}", "type": "mobile"},
    ]
    body = new_user(name, title=f"{name.split('@')[0]} title", phoneNumbers=phones)
    body["schemas"] = [*body["schemas"], ENTERPRISE]
    body[ENTERPRISE] = enterprise
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def _names(scim: Scim, query: str) -> list[str]:
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["userName"] for r in response.get_json()["Resources"]]


def _filter(scim: Scim, expression: str) -> list[str]:
    return sorted(_names(scim, "filter=" + quote(expression)))


def test_enterprise_attributes_title_and_phone_numbers_filter(scim: Scim) -> None:
    boss = _user(scim, "boss@acme.test", department="Sales", employeeNumber="E-001", costCenter="CC1",
                 organization="Acme", division="EMEA")  # fmt: skip
    _user(scim, "ada@acme.test", department="Engineering", employeeNumber="E-002", manager={"value": boss},
          costCenter="CC2", organization="Acme", division="AMER")  # fmt: skip
    _user(scim, "bob@acme.test", department="engineering", employeeNumber="E-003", manager={"value": boss})

    assert _filter(scim, f'{ENTERPRISE}:department eq "Engineering"') == ["ada@acme.test", "bob@acme.test"]
    assert _filter(scim, f'{ENTERPRISE}:employeeNumber eq "E-001"') == ["boss@acme.test"]
    assert _filter(scim, f'{ENTERPRISE}:manager.value eq "{boss}"') == ["ada@acme.test", "bob@acme.test"]
    assert _filter(scim, f'{ENTERPRISE}:costCenter sw "CC"') == ["ada@acme.test", "boss@acme.test"]
    assert _filter(scim, f"{ENTERPRISE}:division pr") == ["ada@acme.test", "boss@acme.test"]
    assert _filter(scim, f'{ENTERPRISE}:organization eq "Acme" and {ENTERPRISE}:division eq "AMER"') == [
        "ada@acme.test"
    ]
    assert _filter(scim, 'title eq "ada title"') == ["ada@acme.test"]
    assert _filter(scim, 'phoneNumbers[type eq "mobile"].value eq "+1 555 9bo"') == [
        "bob@acme.test",
        "boss@acme.test",
    ]
    assert _filter(scim, 'phoneNumbers[type eq "work" and value eq "+1 555 0113"].value pr') == [
        "ada@acme.test",
        "bob@acme.test",
    ]
    assert _filter(scim, 'phoneNumbers.value eq "+1 555 9ad"') == ["ada@acme.test"]
    assert _filter(scim, 'phoneNumbers[type eq "fax"]') == []


def test_sorting_by_an_enterprise_attribute(scim: Scim) -> None:
    _user(scim, "c@acme.test", employeeNumber="300")
    _user(scim, "a@acme.test", employeeNumber="100")
    _user(scim, "b@acme.test", employeeNumber="200")
    key = quote(f"{ENTERPRISE}:employeeNumber")
    assert _names(scim, f"sortBy={key}") == ["a@acme.test", "b@acme.test", "c@acme.test"]
    assert _names(scim, f"sortBy={key}&sortOrder=descending") == ["c@acme.test", "b@acme.test", "a@acme.test"]
    assert _names(scim, "sortBy=title")[0] == "a@acme.test"


def test_unknown_extension_attributes_are_still_an_invalid_filter(scim: Scim) -> None:
    for expression in (f'{ENTERPRISE}:shoeSize eq "9"', 'urn:example:other:2.0:User:department eq "x"',
                       'department eq "Sales"', 'phoneNumbers[kind eq "work"]'):  # fmt: skip
        assert_scim_error(scim.get("/Users?filter=" + quote(expression)), 400, "invalidFilter")
