"""The ACS validates responses against python3-saml's XSD compiled once per thread, with exactly the results
python3-saml gives when it compiles the XSD on every call."""

from __future__ import annotations

from lxml import etree
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from saml_helpers import SamlSetup

from saml import schema

PROTOCOL = "saml-schema-protocol-2.0.xsd"


def _both(document: object) -> tuple[object, object]:
    shipped = schema._SHIPPED(document, PROTOCOL)
    with schema.compiled_schemas():
        compiled = OneLogin_Saml2_XML.validate_xml(document, PROTOCOL)
    return shipped, compiled


def test_a_valid_response_passes_both_ways(okta: SamlSetup) -> None:
    schema.install()
    shipped, compiled = _both(okta.response("ada@acme.test"))
    assert isinstance(shipped, etree._Element) and isinstance(compiled, etree._Element)
    assert etree.tostring(shipped) == etree.tostring(compiled)
    assert PROTOCOL in schema._PER_THREAD.schemas


def test_a_response_outside_the_schema_fails_both_ways(okta: SamlSetup) -> None:
    schema.install()
    root = etree.fromstring(okta.response("ada@acme.test"))
    root.set("Unexpected", "attribute")  # samlp:Response allows no such attribute
    root.insert(0, etree.Element("{urn:oasis:names:tc:SAML:2.0:protocol}Bogus"))
    assert _both(root) == ("invalid_xml", "invalid_xml")


def test_a_document_that_is_not_xml_fails_both_ways() -> None:
    schema.install()
    assert _both(b"<not xml") == ("unloaded_xml", "unloaded_xml")


def test_outside_the_block_python3_saml_compiles_as_shipped(okta: SamlSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    schema.install()
    calls: list[str] = []
    monkeypatch.setattr(schema, "_SHIPPED", lambda xml, name, debug=False: calls.append(name) or "shipped")
    assert OneLogin_Saml2_XML.validate_xml(okta.response("ada@acme.test"), PROTOCOL) == "shipped"
    assert calls == [PROTOCOL]


QUERIES = (
    ("/samlp:Response/samlp:Status/samlp:StatusCode", None),
    ("/samlp:Response/saml:Assertion", None),
    ("//ds:Signature", None),
    (".//ds:Reference", None),
    ("/samlp:Response/saml:Assertion[@ID=$tagid]/saml:Subject/saml:SubjectConfirmation", "tagid"),
    ("/samlp:Response/saml:Assertion[@ID=$tagid]/saml:Issuer", "tagid"),
    ("/samlp:Response/saml:Assertion[@ID=$tagid]/saml:Issuer", "no-such-id"),
)


def test_compiled_xpath_queries_find_what_python3_saml_finds(okta: SamlSetup) -> None:
    schema.install()
    root = etree.fromstring(okta.response("ada@acme.test"))
    assertion_id = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion").get("ID")
    for query, tagid in QUERIES:
        tag = assertion_id if tagid == "tagid" else tagid
        shipped = schema._SHIPPED_QUERY(root, query, None, tag)
        with schema.compiled_schemas():
            compiled = OneLogin_Saml2_XML.query(root, query, None, tag)
        assert compiled == shipped, query
        assert shipped or tag == "no-such-id", query
    assert set(q for q, _ in QUERIES) <= set(schema._PER_THREAD.xpaths)


def test_outside_the_block_xpath_queries_run_as_shipped(okta: SamlSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    schema.install()
    calls: list[str] = []
    monkeypatch.setattr(
        schema, "_SHIPPED_QUERY", lambda dom, query, context=None, tagid=None: calls.append(query) or []
    )
    assert OneLogin_Saml2_XML.query(etree.fromstring(okta.response("ada@acme.test")), "//ds:Signature") == []
    assert calls == ["//ds:Signature"]
