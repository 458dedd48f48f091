"""The examples in the LLRP and vendor-feed docstrings are true (they are the drivers' tutorials)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "drivers.llrp", "drivers.llrp.errors", "drivers.llrp.framing", "drivers.llrp.constants", "drivers.llrp.messages",
    "drivers.llrp.specs", "drivers.llrp.config", "drivers.llrp.client", "drivers.registry",
    "drivers.vendor_json.mapping", "drivers.vendor_json.impinj", "drivers.vendor_json.zebra",
    "drivers.vendor_json.webhook", "simulators.llrp_reader", "simulators.llrp_sim",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
