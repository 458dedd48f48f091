"""GS1 identifiers: element strings, bracketed HRI, Digital Link URIs and scanner data.

>>> from gateway.gs1 import parse
>>> parse("]C1010950600013435217201225\\x1d10ABC123").as_hri()
'(01)09506000134352(17)201225(10)ABC123'

Everything is validated against the GS1 Barcode Syntax Dictionary (see
:mod:`gateway.gs1.ai`); every problem found is raised at once in :class:`GS1ParseError`.
This package imports its submodules lazily so that ``import gateway.gs1`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.gs1.errors import LENIENT as LENIENT
    from gateway.gs1.errors import STRICT as STRICT
    from gateway.gs1.errors import GS1ParseError as GS1ParseError
    from gateway.gs1.errors import GS1Problem as GS1Problem
    from gateway.gs1.errors import Profile as Profile
    from gateway.gs1.message import GS1Element as GS1Element
    from gateway.gs1.message import GS1Message as GS1Message
    from gateway.gs1.parser import parse as parse
    from gateway.gs1.parser import parse_digital_link as parse_digital_link
    from gateway.gs1.parser import parse_element_string as parse_element_string
    from gateway.gs1.parser import parse_hri as parse_hri
    from gateway.gs1.parser import parse_scanner as parse_scanner

_EXPORTS = {
    "GS1ParseError": "gateway.gs1.errors", "GS1Problem": "gateway.gs1.errors",
    "Profile": "gateway.gs1.errors", "STRICT": "gateway.gs1.errors", "LENIENT": "gateway.gs1.errors",
    "GS1Message": "gateway.gs1.message", "GS1Element": "gateway.gs1.message",
    "parse": "gateway.gs1.parser", "parse_element_string": "gateway.gs1.parser",
    "parse_hri": "gateway.gs1.parser", "parse_digital_link": "gateway.gs1.parser",
    "parse_scanner": "gateway.gs1.parser",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway.gs1' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
