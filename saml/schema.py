"""python3-saml's XML schema validation, with the schema compiled once per thread for the ACS.

``OneLogin_Saml2_XML.validate_xml`` reads and compiles the SAML protocol XSD (and every XSD it imports) on each
call: about 1.3 ms on the benchmark machine, more than half of what python3-saml spends validating a signed
response. The schema files never change while the process runs, so inside ``compiled_schemas()`` the same
validation (same XSD files, same lxml validator, same results: the element, ``'unloaded_xml'`` or
``'invalid_xml'``) runs against a schema compiled once per thread (an lxml validator keeps an error log, so
threads do not share one). Outside that block python3-saml behaves exactly as shipped.
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
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

_SCHEMAS = Path(xml_utils.__file__).parent / "schemas"
_ACTIVE: ContextVar[bool] = ContextVar("saml_compiled_schemas", default=False)
_PER_THREAD = threading.local()
_SHIPPED = OneLogin_Saml2_XML.validate_xml


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


def install() -> None:
    """Route python3-saml's schema validation through ``_validate_xml`` (once per process)."""
    OneLogin_Saml2_XML.validate_xml = staticmethod(_validate_xml)  # type: ignore[method-assign,assignment]


@contextmanager
def compiled_schemas() -> Iterator[None]:
    """Validate against compiled schemas for the duration of the block (this request, this thread)."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
