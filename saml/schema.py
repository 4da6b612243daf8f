"""python3-saml's XML schema validation and XPath queries, each compiled once per thread for the ACS.

``OneLogin_Saml2_XML.validate_xml`` reads and compiles the SAML protocol XSD (and every XSD it imports) on each
call: about 1.3 ms on the benchmark machine, more than half of what python3-saml spends validating a signed
response. The schema files never change while the process runs, so inside ``compiled_schemas()`` the same
validation (same XSD files, same lxml validator, same results: the element, ``'unloaded_xml'`` or
``'invalid_xml'``) runs against a schema compiled once per thread (an lxml validator keeps an error log, so
threads do not share one). Outside that block python3-saml behaves exactly as shipped.

Likewise ``OneLogin_Saml2_XML.query`` hands each of its XPath expressions (about 30 per response, a fixed set
written in python3-saml's code) to ``element.xpath``, which compiles the expression on every call: inside the
block the same expression, with the same namespace map and the same ``$tagid`` variable, runs as an
``etree.XPath`` compiled once per thread (the same nodes, in the same order; about 0.15 ms less per response).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

_SCHEMAS = Path(xml_utils.__file__).parent / "schemas"
_ACTIVE: ContextVar[bool] = ContextVar("saml_compiled_schemas", default=False)
_PER_THREAD = threading.local()
_SHIPPED = OneLogin_Saml2_XML.validate_xml
_SHIPPED_QUERY = OneLogin_Saml2_XML.query
MAX_XPATHS = 256
"""Compiled expressions kept per thread; python3-saml's are a fixed set of about 30, so this is never reached
unless a caller builds expressions from data (then the rest run uncompiled, as shipped)."""


def compiled(schema: str) -> etree.XMLSchema:
    """The python3-saml schema file ``schema``, compiled once for this thread."""
    schemas: dict[str, etree.XMLSchema] = _PER_THREAD.__dict__.setdefault("schemas", {})
    found = schemas.get(schema)
    if found is None:
        with open(_SCHEMAS / schema) as source:
            found = schemas[schema] = OneLogin_Saml2_XML._schema_class(etree.parse(source))
    return found


def _validate_xml(xml: Any, schema: str, debug: bool = False) -> Any:
    """``OneLogin_Saml2_XML.validate_xml`` (python3-saml 1.16), with the compiled schema inside
    ``compiled_schemas()``."""
    if not _ACTIVE.get():
        return _SHIPPED(xml, schema, debug)
    assert isinstance(schema, str)
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:
        return "unloaded_xml"
    if not compiled(schema).validate(xml):
        return "invalid_xml"
    return xml


def compiled_xpath(query: str) -> etree.XPath | None:
    """``query`` with python3-saml's namespace map, compiled once for this thread (``None`` when the cache is
    full)."""
    xpaths: dict[str, etree.XPath] = _PER_THREAD.__dict__.setdefault("xpaths", {})
    found = xpaths.get(query)
    if found is None and len(xpaths) < MAX_XPATHS:
        found = xpaths[query] = etree.XPath(query, namespaces=OneLogin_Saml2_Constants.NSMAP)
    return found


def _query(dom: Any, query: str, context: Any = None, tagid: str | None = None) -> Any:
    """``OneLogin_Saml2_XML.query`` (python3-saml 1.16), with the compiled expression inside
    ``compiled_schemas()``."""
    xpath = compiled_xpath(query) if _ACTIVE.get() else None
    if xpath is None:
        return _SHIPPED_QUERY(dom, query, context, tagid)
    source = dom if context is None else context
    return xpath(source) if tagid is None else xpath(source, tagid=tagid)


def install() -> None:
    """Route python3-saml's schema validation and XPath queries through ``_validate_xml`` and ``_query`` (once
    per process)."""
    OneLogin_Saml2_XML.validate_xml = staticmethod(_validate_xml)  # type: ignore[method-assign,assignment]
    OneLogin_Saml2_XML.query = staticmethod(_query)  # type: ignore[method-assign,assignment]


@contextmanager
def compiled_schemas() -> Iterator[None]:
    """Validate against compiled schemas and query with compiled XPath expressions for the duration of the
    block (this request, this thread)."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
