"""The outbox's bound at work with the publisher: a drop is never silent.

A full outbox (``mqtt.outbox.max_messages`` with ``when_full``) is counted in a metric, logged,
and announced on the retained status topic (``reason: degraded`` with the outbox figures).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config.mqtt import OutboxConfig
from gateway.publishing.outbox import OutboxFull
from tests.publishing.support import RESULT, Subscriber, make_publisher, passage
from tests.support.brokers import MosquittoBroker

pytestmark = pytest.mark.timeout(90)


def test_drop_oldest_while_the_broker_is_away(private_broker: Callable[..., MosquittoBroker], tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    broker = private_broker()
    broker.stop()
    pub = make_publisher(tmp_path, broker.host, broker.port, gateway="gw-full",
                         outbox=OutboxConfig(max_messages=10, when_full="drop_oldest"))
    pub.start()
    try:
        with caplog.at_level(logging.ERROR, logger="gateway.publishing.outbox"):
            for i in range(3):  # 7 messages each (observation, enriched, flag, 2 referrals, decision, lane state)
                pub.publish_enriched(passage(f"p-{i}", serial=str(i)), RESULT)
        state = pub.outbox_state()
        assert state["depth"] == 10 and state["dropped_full"] == 11 and state["dropped"] == 11  # the metric
        assert state["degraded"] == "outbox_full"
        assert "dropped the" in caplog.text and "oldest" in caplog.text  # the log line
        broker.start()
        sub = Subscriber(broker.host, broker.port, "bx/v1/ops/s1/gw-full/status").start()
        got = sub.wait_for(lambda ms: any(json.loads(m.payload).get("reason") == "degraded" for m in ms if m.payload))
        assert pub.wait_idle(20)
        sub.stop()
    finally:
        pub.stop()
    status = next(json.loads(m.payload) for m in got if m.payload and json.loads(m.payload).get("reason") == "degraded")
    assert status["state"] == "online" and status["outbox"]["dropped"] == 11  # the status event


def test_reject_new_refuses_the_call(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pub = make_publisher(tmp_path, gateway="gw-reject", outbox=OutboxConfig(max_messages=10, when_full="reject_new"))
    pub.publish_enriched(passage("p-0"), RESULT)  # not started: stored, nothing sent
    with caplog.at_level(logging.ERROR, logger="gateway.publishing.outbox"), pytest.raises(OutboxFull):
        pub.publish_enriched(passage("p-1", serial="1"), RESULT)
    assert "refusing 7 new message(s)" in caplog.text
    state = pub.outbox_state()
    assert state["depth"] == 7 and state["refused_full"] == 7 and state["degraded"] == "outbox_full"
    pub.outbox.close()
