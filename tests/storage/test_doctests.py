"""The storage modules' docstring examples are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["gateway.shipped", "gateway.storage.files", "gateway.storage.lock", "gateway.storage.schema",
           "gateway.storage.retention", "gateway.service.notify"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
