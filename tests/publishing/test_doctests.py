"""The publishing modules' docstring examples are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["adapt", "cloudevents", "contract", "epcis", "event_hash", "mqtt_client", "outbox", "payloads",
           "projections", "publisher", "redact", "topics", "uris"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"gateway.publishing.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
