"""MQTT intake on a real Mosquitto: QoS 1, persistent session, errors with field paths, never crashing."""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.enrichment.mqtt_intake import MqttIntake, intake_topics
from gateway.enrichment.store import Store
from tests.enrichment.helpers import bad, declaration, gtin, mrn, sscc


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def _client(broker: Any, errors: queue.Queue[dict[str, Any]] | None = None, topic: str | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                    protocol=MQTTProtocolVersion.MQTTv5)
    if errors is not None and topic is not None:
        c.on_message = lambda _c, _u, msg: errors.put(json.loads(msg.payload))
        c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def test_intake_stores_valid_and_answers_invalid(mqtt_broker: Any, tmp_path: Path) -> None:
    base = f"test/{uuid.uuid4().hex[:10]}"
    topics = intake_topics(base, "site1", "gw1")
    errors: queue.Queue[dict[str, Any]] = queue.Queue()
    listener = _client(mqtt_broker, errors, topics["error"])
    store = Store(tmp_path / "db.sqlite")
    intake = MqttIntake(store, host=mqtt_broker.host, port=mqtt_broker.port, base=base, site="site1", gateway="gw1",
                        client_id=f"intake-{uuid.uuid4().hex[:8]}")
    intake.start()
    pub = _client(mqtt_broker)
    try:
        assert intake.subscribed.wait(10)
        time.sleep(0.2)  # let the listener's subscription settle too
        broken = declaration(n=2)
        broken["houseConsignments"][0]["goodsItems"][0]["gs1"]["ssccs"][1] = bad(sscc(2))
        pub.publish(topics["declarations"], json.dumps([declaration(n=1), broken]), qos=1).wait_for_publish(5)
        pub.publish(topics["products"], b"\xff not json", qos=1).wait_for_publish(5)
        pub.publish(topics["products"], json.dumps({"gtin": gtin(1), "colour": "red"}), qos=1).wait_for_publish(5)
        pub.publish(topics["parties"], json.dumps({"partyRef": "p1"}), qos=1).wait_for_publish(5)
        got = [errors.get(timeout=10) for _ in range(3)]
        assert got[0]["stored"] == {"created": 1}
        assert got[0]["errors"] == [{"index": 1, "path": "houseConsignments[0].goodsItems[0].gs1.ssccs[1]",
                                     "message": f"Value error, SSCC '{bad(sscc(2))}': bad check digit"}]
        assert got[1]["errors"][0]["path"] == "(payload)"
        assert got[2]["errors"] == [{"index": 0, "path": "colour", "message": "Extra inputs are not permitted"}]
        assert _wait(lambda: intake.handled == 4)
        assert store.declaration(mrn(1)) is not None and store.party("p1") is not None
    finally:
        intake.stop()
        pub.loop_stop()
        listener.loop_stop()
        store.close()


def test_persistent_session_receives_what_was_sent_while_offline(mqtt_broker: Any, tmp_path: Path) -> None:
    base = f"test/{uuid.uuid4().hex[:10]}"
    topics = intake_topics(base, "site1", "gw1")
    client_id = f"intake-{uuid.uuid4().hex[:8]}"
    store = Store(tmp_path / "db.sqlite")

    def make() -> MqttIntake:
        return MqttIntake(store, host=mqtt_broker.host, port=mqtt_broker.port, base=base, site="site1",
                          gateway="gw1", client_id=client_id, session_expiry_s=300)

    first = make()
    first.start()
    assert first.subscribed.wait(10)
    first.stop()
    pub = _client(mqtt_broker)
    try:
        pub.publish(topics["declarations"], json.dumps(declaration(n=7)), qos=1).wait_for_publish(5)
        assert store.declaration(mrn(7)) is None
        second = make()
        second.start()
        try:
            assert _wait(lambda: store.declaration(mrn(7)) is not None)
        finally:
            second.stop()
    finally:
        pub.loop_stop()
        store.close()
