"""The module docstrings of the serial codecs, drivers and simulators are runnable examples."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["drivers.backoff", "drivers.serial_common", "drivers.mercury.crc", "drivers.mercury.frames",
           "drivers.mercury.records", "drivers.mercury.commands", "drivers.mercury.codec",
           "drivers.ascii_serial.lines", "drivers.ascii_serial.formats", "simulators.pty_port",
           "simulators.mercury_sim", "simulators.ascii_sim"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
