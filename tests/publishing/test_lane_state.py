"""The retained lane state never shows another truck's decision (#22 item 6).

Found on the demo: while the biscuits truck was in lane 1, ``lane/lane1/state`` said ``proceed``, the
decision of the apples truck before it.  Two trucks in a row through a real publisher (outbox, Mosquitto);
after each step a fresh subscriber reads the retained state, as a lane display joining then would.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.enrichment.result import Flag, RuleRef
from gateway.lane.passage import Passage, PassageEvent
from gateway.publishing.publisher import Publisher
from tests.publishing.support import RESULT, Subscriber, make_publisher, passage
from tests.support.brokers import SharedBroker

pytestmark = pytest.mark.timeout(60)

T = 1_740_824_100.0
CLEAN = RESULT.model_copy(update={"flags": [], "routing": []})  # nothing to look at: proceed
FLAGGED = RESULT.model_copy(update={"flags": [Flag(code="SPS_DOC_MISSING", severity="high",
                                                   rule=RuleRef(id="R-SPS-02", version="3"))]})


def _retained(broker: SharedBroker, topic: str) -> dict[str, Any]:
    """The retained message on ``topic`` as a subscriber joining now gets it (without the time)."""
    sub = Subscriber(broker.host, broker.port, topic, client_id=f"lane-display-{uuid.uuid4().hex[:8]}").start()
    try:
        [message] = sub.wait_for(lambda ms: len(ms) >= 1, timeout=10)[:1]
    finally:
        sub.stop()
    assert message.retain
    body: dict[str, Any] = json.loads(message.payload)
    body.pop("time")
    return body


def _step(pub: Publisher, broker: SharedBroker, topic: str, publish: Any) -> dict[str, Any]:
    publish()
    assert pub.wait_idle(10)
    return _retained(broker, topic)


def test_two_trucks_in_a_row_each_show_only_their_own_decision(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    gw = f"gw-ls-{uuid.uuid4().hex[:6]}"
    topic = f"bx/v1/ops/s1/{gw}/lane/L1/state"
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway=gw)
    pub.start()
    apples = passage("p-apples", t=T + 10, serial="1")
    biscuits = passage("p-biscuits", t=T + 30, serial="2")
    try:
        open_apples = PassageEvent("new", _still_open(apples), T)
        state = _step(pub, mqtt_broker, topic, lambda: pub.publish_passage_event(open_apples))
        assert state["occupied"] is True and state["passageId"] == "p-apples" and "decision" not in state

        state = _step(pub, mqtt_broker, topic,
                      lambda: pub.publish_passage_end(PassageEvent("end", apples, T + 10), CLEAN))
        assert state["occupied"] is False and state["passageId"] == "p-apples" and state["decision"] == "proceed"

        # the next truck drives in: the lane shows it, without the apples' decision
        open_biscuits = PassageEvent("new", _still_open(biscuits), T + 20)
        state = _step(pub, mqtt_broker, topic, lambda: pub.publish_passage_event(open_biscuits))
        assert state["occupied"] is True and state["passageId"] == "p-biscuits" and "decision" not in state
        update = PassageEvent("update", open_biscuits.passage, T + 21)
        state = _step(pub, mqtt_broker, topic, lambda: pub.publish_passage_event(update))
        assert "decision" not in state

        # a late revision of the apples' record while the biscuits are in the lane: not shown on them
        state = _step(pub, mqtt_broker, topic, lambda: pub.publish_enriched(apples, FLAGGED))
        assert state["occupied"] is True and state["passageId"] == "p-biscuits" and "decision" not in state

        # the biscuits close without an enrichment result: no decision is shown, not the apples' one
        state = _step(pub, mqtt_broker, topic,
                      lambda: pub.publish_passage_end(PassageEvent("end", biscuits, T + 30), None))
        assert state["occupied"] is False and state["passageId"] == "p-biscuits" and "decision" not in state

        # another revision of the apples (closed before the biscuits): the lane keeps showing the biscuits
        state = _step(pub, mqtt_broker, topic, lambda: pub.publish_enriched(apples, CLEAN))
        assert state["passageId"] == "p-biscuits" and "decision" not in state

        # a revision of the passage the lane shows does show: the biscuits' record after all
        state = _step(pub, mqtt_broker, topic, lambda: pub.publish_enriched(biscuits, FLAGGED))
        assert state["occupied"] is False and state["passageId"] == "p-biscuits" and state["decision"] == "go_to_bay"
    finally:
        pub.link.publish(topic, b"", 1, True, {})  # leave no retained state on a shared broker
        pub.wait_idle(5)
        pub.stop()


def _still_open(p: Passage) -> Passage:
    return dataclasses.replace(p, state="open", closed_at=None, close_reason=None)
