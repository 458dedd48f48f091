"""The lane modules' docstring examples are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["__init__", "passage", "triggers", "zones", "events", "arbitration", "direction", "engine", "replay"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module("gateway.lane" if name == "__init__" else f"gateway.lane.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and (result.attempted > 0 or name == "events")
