"""The modules' docstring examples are part of the documentation: keep them true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ai", "digital_link", "element_strings", "errors", "hri", "keys", "linters", "message",
           "parser", "scanner", "values", "codelists"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"gateway.gs1.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_composite_after_ean() -> None:
    from gateway.gs1 import parse

    msg = parse("]E09506000134352|]e01724123110ABC")
    assert msg.pairs == (("01", "09506000134352"), ("17", "241231"), ("10", "ABC"))
    assert msg.symbology == "]E0"
