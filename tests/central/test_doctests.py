"""The examples in the central side's module docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["simulators.preclearance.records", "simulators.preclearance.rules", "simulators.preclearance.nats_intake",
           "simulators.fleet",
           "simulators.fleet.sample"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
