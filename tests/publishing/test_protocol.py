"""MQTT 3.1.1: configured, and as the automatic fallback when a broker refuses MQTT 5.

Both run end to end on a private Mosquitto: the configured case directly, the fallback through
:class:`~tests.support.mqtt_proxy.Mqtt311OnlyProxy`, which answers an MQTT 5 CONNECT the way a
3.1.1-only broker does and lets 3.1.1 through to the real broker.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.publishing.publisher import Publisher
from tests.publishing.support import RESULT, Received, Subscriber, make_publisher, passage
from tests.support.brokers import MosquittoBroker
from tests.support.mqtt_proxy import Mqtt311OnlyProxy

pytestmark = pytest.mark.timeout(90)


def _protocol_in_broker_log(broker: MosquittoBroker, client_id: str) -> list[str]:
    """Mosquitto logs ``New client connected ... as ID (p2, ...)``: p2 is 3.1.1, p5 is MQTT 5."""
    text = (broker.workdir / "mosquitto.log").read_text(encoding="utf-8", errors="replace")
    return re.findall(rf"as {re.escape(client_id)} \(p(\d)", text)


def _publish_and_collect(pub: Publisher, sub: Subscriber) -> list[Received]:
    pub.start()
    assert pub.link.connected.wait(20), f"not connected: {pub.link.last_error}"
    customs_id = pub.publish_enriched(passage("p-311"), RESULT)
    assert customs_id is not None
    assert pub.wait_idle(15), f"outbox still holds {pub.outbox.depth()}"
    return sub.wait_for(lambda ms: any("/enriched/" in m.topic for m in ms)
                        and any(m.topic.endswith("/capabilities") for m in ms))


def _check_v311_delivery(got: list[Received]) -> None:
    enriched = next(m for m in got if "/enriched/" in m.topic)
    body = json.loads(enriched.payload)  # still the structured CloudEvent, JSON in UTF-8
    assert body["specversion"] == "1.0" and body["data"]["audience"] == "customs"
    assert body["id"].endswith("#customs/r1") and body["subject"].startswith("mrn:")
    # No MQTT 5 properties under 3.1.1: no user properties, content type, expiry or correlation data.
    props = enriched.props
    for name in ("UserProperty", "ContentType", "MessageExpiryInterval", "CorrelationData"):
        assert not hasattr(props, name), name
    capabilities = json.loads(next(m for m in got if m.topic.endswith("/capabilities")).payload)
    assert capabilities["protocol"] == "3.1.1"


def test_configured_mqtt_311_end_to_end(private_broker: Callable[..., MosquittoBroker], tmp_path: Path) -> None:
    broker = private_broker()
    sub = Subscriber(broker.host, broker.port, "bx/v1/#").start()
    pub = make_publisher(tmp_path, broker.host, broker.port, gateway="gw-311", protocol="3.1.1")
    try:
        got = _publish_and_collect(pub, sub)
        replies = _command_over_311(broker, pub)
    finally:
        pub.stop()
        sub.stop()
    _check_v311_delivery(got)
    assert pub.link.protocol == "3.1.1"
    assert set(_protocol_in_broker_log(broker, "bx-s1-gw-311")) == {"2"}
    assert {"ok": True, "command": "ping", "result": {"pong": True}, "correlationId": "req-9"} in replies


def _command_over_311(broker: MosquittoBroker, pub: Publisher) -> list[dict[str, object]]:
    """A 3.1.1 requester has no Response Topic / Correlation Data: both travel in the request body."""
    got: list[dict[str, object]] = []
    requester = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="req-311", protocol=MQTTProtocolVersion.MQTTv311)
    requester.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    requester.connect(broker.host, broker.port)
    requester.loop_start()
    try:
        requester.subscribe("bx/v1/cmd/s1/gw-311/reply/req-311", qos=1)
        time.sleep(0.3)  # SUBACK
        request = {"responseTopic": "bx/v1/cmd/s1/gw-311/reply/req-311", "correlationId": "req-9"}
        requester.publish("bx/v1/cmd/s1/gw-311/ping", json.dumps(request), qos=1)
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        requester.loop_stop()
        requester.disconnect()
    return got


def test_falls_back_to_311_when_the_broker_refuses_mqtt5(private_broker: Callable[..., MosquittoBroker],
                                                        tmp_path: Path) -> None:
    broker = private_broker()
    proxy = Mqtt311OnlyProxy(broker.host, broker.port).start()
    sub = Subscriber(broker.host, broker.port, "bx/v1/#").start()  # MQTT 5, straight to the broker
    pub = make_publisher(tmp_path, proxy.host, proxy.port, gateway="gw-auto")
    assert pub.cfg.protocol == "auto"
    try:
        got = _publish_and_collect(pub, sub)
        status = sub.wait_for(lambda ms: any(m.topic.endswith("/status") for m in ms))
    finally:
        pub.stop()
        sub.stop()
        proxy.stop()
    assert proxy.levels[:2] == [5, 4], proxy.levels  # asked for MQTT 5, refused, came back with 3.1.1
    assert pub.link.protocol == "3.1.1"
    _check_v311_delivery(got)
    birth = json.loads(next(m for m in status if m.topic.endswith("/status")).payload)
    assert birth["state"] == "online"
    assert set(_protocol_in_broker_log(broker, "bx-s1-gw-auto")) == {"2"}


def test_mqtt5_is_kept_when_the_broker_speaks_it(private_broker: Callable[..., MosquittoBroker],
                                                  tmp_path: Path) -> None:
    broker = private_broker()
    pub = make_publisher(tmp_path, broker.host, broker.port, gateway="gw-v5")
    pub.start()
    try:
        assert pub.link.connected.wait(20)
    finally:
        pub.stop()
    assert pub.link.protocol == "5" and set(_protocol_in_broker_log(broker, "bx-s1-gw-v5")) == {"5"}
