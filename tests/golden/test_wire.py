"""Acceptance test of the publishing path: the demo's scenario gives the same messages and API answers.

The fixture ``tests/fixtures/golden/demo-wire.json`` was captured before the path from a closed passage to
the wire was restructured (issue 19) and must not change unless a change of the wire is intended; see
:mod:`tests.golden.capture` for what is recorded, what is normalised, and how to regenerate it.
"""

from __future__ import annotations

import json

from tests.golden.capture import FIXTURE, capture, compare
from tests.support.brokers import SharedBroker


def test_demo_scenario_is_unchanged_on_the_wire(mqtt_broker: SharedBroker) -> None:
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    got = capture(mqtt_broker.host, mqtt_broker.port)
    problems = compare(expected, got)
    assert not problems, "\n".join(problems[:20])
