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

from gateway.config.mqtt import MqttConfig
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
    intake = MqttIntake(store, MqttConfig(url=mqtt_broker.url, base_topic=base), site="site1", gateway="gw1",
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
        return MqttIntake(store, MqttConfig(url=mqtt_broker.url, base_topic=base, session_expiry_s=300),
                          site="site1", gateway="gw1", client_id=client_id)

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


def test_every_hostile_message_gets_an_answer_and_every_good_record_is_kept(mqtt_broker: Any, tmp_path: Path) -> None:
    """Issue #22 item 3: deep nesting, a 5,000-digit number, and a bulk [good, version=2**63, good]."""
    base = f"test/{uuid.uuid4().hex[:10]}"
    topics = intake_topics(base, "site1", "gw1")
    errors: queue.Queue[dict[str, Any]] = queue.Queue()
    listener = _client(mqtt_broker, errors, topics["error"])
    store = Store(tmp_path / "db.sqlite")
    intake = MqttIntake(store, MqttConfig(url=mqtt_broker.url, base_topic=base), site="site1", gateway="gw1",
                        client_id=f"intake-{uuid.uuid4().hex[:8]}")
    intake.start()
    pub = _client(mqtt_broker)
    try:
        assert intake.subscribed.wait(10)
        time.sleep(0.2)  # let the listener's subscription settle too
        too_big = declaration(n=2)
        too_big["declarationRef"]["version"] = 2**63
        infinite = json.dumps(declaration(n=4)).replace('"seq": 1,', '"seq": 1, "grossMassKg": 1e999,')
        for topic, payload in [
            (topics["products"], b"[" * 5000),
            (topics["products"], b'{"gtin": "' + gtin(1).encode() + b'", "grossWeightKg": ' + b"9" * 5000 + b"}"),
            (topics["declarations"], json.dumps([declaration(n=1), too_big, declaration(n=3)]).encode()),
            (topics["declarations"], infinite.encode()),
        ]:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        got = [errors.get(timeout=10) for _ in range(4)]
        assert got[0]["errors"] == [{"index": None, "path": "(payload)",
                                     "message": "JSON nested deeper than 64 levels"}]
        assert got[1]["errors"] == [{"index": None, "path": "(payload)",
                                     "message": "a number has more than 4300 digits"}]
        assert got[2]["stored"] == {"created": 2} and got[2]["kind"] == "declarations"
        assert [(e["index"], e["path"]) for e in got[2]["errors"]] == [(1, "declarationRef.version")]
        assert [(e["index"], e["path"]) for e in got[3]["errors"]] == [
            (0, "houseConsignments[0].goodsItems[0].grossMassKg")]
        assert store.declaration(mrn(1)) is not None and store.declaration(mrn(3)) is not None  # the third one too
        assert store.declaration(mrn(2)) is None and store.declaration(mrn(4)) is None
        assert _wait(lambda: intake.handled == 4)
    finally:
        intake.stop()
        pub.loop_stop()
        listener.loop_stop()
        store.close()


def test_a_response_topic_gets_the_stored_count_of_a_clean_message(mqtt_broker: Any, tmp_path: Path) -> None:
    """Under ``in/{site}/{gw}/reply/`` the answer goes to the Response Topic; any other Response Topic (a
    customs topic, one of the sender's own) gets nothing, and the error topic names it (#22 item 5)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    base = f"test/{uuid.uuid4().hex[:10]}"
    topics = intake_topics(base, "site1", "gw1")
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    reply_topic = f"{base}/in/site1/gw1/reply/me"
    listener = _client(mqtt_broker, replies, reply_topic)
    errors: queue.Queue[dict[str, Any]] = queue.Queue()
    error_listener = _client(mqtt_broker, errors, topics["error"])
    outside = [f"{base}/customs/site1/gw1/enriched/lane1", f"{base}/replies/me", f"{base}/in/site1/gw1/reply"]
    seen: list[str] = []  # the topic of everything published under the base
    outside_listener = _client(mqtt_broker)
    outside_listener.on_message = lambda _c, _u, msg: seen.append(msg.topic)
    outside_listener.subscribe(f"{base}/#", qos=1)
    store = Store(tmp_path / "db.sqlite")
    intake = MqttIntake(store, MqttConfig(url=mqtt_broker.url, base_topic=base), site="site1", gateway="gw1",
                        client_id=f"intake-{uuid.uuid4().hex[:8]}")
    intake.start()
    pub = _client(mqtt_broker)

    def send(parties: list[dict[str, str]], response_topic: str, correlation: bytes) -> None:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = response_topic
        props.CorrelationData = correlation
        pub.publish(topics["parties"], json.dumps(parties), qos=1, properties=props).wait_for_publish(5)

    try:
        assert intake.subscribed.wait(10)
        time.sleep(0.2)
        send([{"partyRef": "p1"}, {"partyRef": "p2"}], reply_topic, b"req-1")
        answer = replies.get(timeout=10)
        assert answer == {"topic": topics["parties"], "kind": "parties", "stored": {"created": 2}, "errors": []}
        for n, topic in enumerate(outside, start=3):
            send([{"partyRef": f"p{n}"}], topic, f"req-{n}".encode())
            answer = errors.get(timeout=10)
            assert answer["stored"] == {"created": 1}  # stored all the same
            assert answer["errors"] == [{"index": None, "path": "(responseTopic)", "message":
                                         f"the response topic must be under {base}/in/site1/gw1/reply/: "
                                         "not answered there"}]
        assert _wait(lambda: intake.handled == 1 + len(outside))
        assert _wait(lambda: seen.count(topics["error"]) == len(outside))
        assert not set(outside) & set(seen), seen  # the intake published nothing where it was told to
        assert all(store.party(f"p{n}") is not None for n in range(1, 3 + len(outside)))
        assert replies.empty()
    finally:
        intake.stop()
        pub.loop_stop()
        listener.loop_stop()
        error_listener.loop_stop()
        outside_listener.loop_stop()
        store.close()


def test_the_intake_is_in_the_contract_and_the_topic_docs() -> None:
    """Issue #22 item 13: the intake topics and their switch in docs/mqtt-topics.md and the AsyncAPI document."""
    import jsonschema

    from gateway.enrichment.mqtt_intake import handle_payload
    from gateway.publishing.contract import SCHEMA_DIR, asyncapi

    doc = asyncapi()
    addresses = {channel["address"]: channel for channel in doc["channels"].values()}
    docs = (SCHEMA_DIR.parents[2] / "docs" / "mqtt-topics.md").read_text(encoding="utf-8")
    assert "enrichment.intake_mqtt" in docs
    for kind, topic in intake_topics("bx/v1", "{site}", "{gw}").items():
        topic = topic.replace("/+/", "/{lane}/")  # the lane trigger topic, as the contract names its parameter
        assert topic in addresses, topic
        assert f"`{topic}`" in docs, topic
        switch = "lane_engine.intake_mqtt" if kind == "trigger" else "enrichment.intake_mqtt"
        assert kind == "error" or switch in addresses[topic]["description"]
        for ref in addresses[topic]["messages"].values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            text = json.dumps(message["payload"])
            for file in {part.split('"')[0] for part in text.split("./")[1:]}:
                assert (SCHEMA_DIR / file).is_file(), file
    answer_schema = json.loads((SCHEMA_DIR / "intake-answer.v1.json").read_text())
    store = Store(":memory:")
    for payload in (b"[" * 100, b'[{"partyRef": "p"}, {"partyRef": ""}]'):
        jsonschema.validate(json.loads(handle_payload(store, "parties", payload, "t").model_dump_json()),
                            answer_schema)
    declaration_schema = json.loads((SCHEMA_DIR / "declaration.v1.json").read_text())
    jsonschema.validate(declaration(n=1), declaration_schema)
