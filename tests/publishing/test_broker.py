"""The publisher against real Mosquitto brokers: properties, restarts, SIGKILL, LWT, TLS and ACLs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config.mqtt import MqttTls
from tests.publishing.support import MRN, RESULT, Subscriber, make_publisher, passage
from tests.support.brokers import MosquittoBroker, SharedBroker, TlsBroker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def _ids(messages: list) -> list[str]:  # type: ignore[type-arg]
    return [json.loads(m.payload)["id"] for m in messages if m.payload]


def test_mqtt5_properties_are_received_as_sent(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, "bx/v1/customs/s1/gw-props/#").start()
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway="gw-props")
    pub.start()
    try:
        customs_id = pub.publish_enriched(passage(), RESULT)
        assert pub.wait_idle(10)
        got = sub.wait_for(lambda ms: any("/enriched/" in m.topic for m in ms))
    finally:
        pub.stop()
        sub.stop()
    enriched = next(m for m in got if "/enriched/" in m.topic)
    props = enriched.props
    assert props.ContentType == "application/cloudevents+json; charset=utf-8"
    assert props.PayloadFormatIndicator == 1
    assert 0 < props.MessageExpiryInterval <= 259_200
    users = dict(props.UserProperty)
    assert users["schema"] == "bx.enriched.v1" and users["audience"] == "customs" and users["gw"] == "gw-props"
    assert users["ce_id"] == customs_id and users["ce_subject"] == f"mrn:{MRN}"
    assert props.CorrelationData == b"p-1"
    assert not enriched.retain
    body = json.loads(enriched.payload)
    assert body["id"] == customs_id and body["data"]["audience"] == "customs"


def test_broker_restart_mid_stream_loses_nothing(private_broker: Callable[..., MosquittoBroker],
                                                 tmp_path: Path) -> None:
    broker = private_broker()
    sub = Subscriber(broker.host, broker.port, "bx/v1/customs/+/+/observation/#", client_id="sub-restart",
                     persistent=True).start()
    pub = make_publisher(tmp_path, broker.host, broker.port, gateway="gw-restart")
    pub.start()
    expected = []
    try:
        for i in range(40):
            if i == 15:
                broker.stop()
            if i == 30:
                broker.start()
            lane = "L1" if i % 2 else "L2"
            h = pub.publish_observation(passage(f"p-{i}", lane=lane, t=1_740_824_100.0 + i, serial=str(i)))
            assert h is not None
            expected.append((lane, h))
            time.sleep(0.01)
        assert pub.wait_idle(30), f"outbox still holds {pub.outbox.depth()}"
        sub.client.reconnect() if not sub.client.is_connected() else None
        got = sub.wait_for(lambda ms: set(_ids(ms)) >= {h for _, h in expected}, timeout=20)
    finally:
        pub.stop()
        sub.stop()
    ids = _ids(got)
    assert set(ids) >= {h for _, h in expected}, f"missing {len({h for _, h in expected} - set(ids))}"
    for lane in ("L1", "L2"):  # per-lane order holds (duplicates allowed: QoS 1)
        order = [h for lane_, h in expected if lane_ == lane]
        firsts = list(dict.fromkeys(i for i in ids if i in order))
        assert firsts == order


_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.publishing.support import make_publisher, passage
    pub = make_publisher(Path({tmp!r}), {host!r}, {port}, gateway="gw-kill", will_delay_s=0)
    pub.start()
    if {publish}:
        for i in range(20):
            print(pub.publish_observation(passage(f"k-{{i}}", t=1_740_824_100.0 + i, serial=str(i))), flush=True)
    print("READY", flush=True)
    time.sleep(60)
""")


def _child(tmp: Path, host: str, port: int, publish: bool) -> subprocess.Popen[str]:
    code = _CHILD.format(root=str(ROOT), tmp=str(tmp), host=host, port=port, publish=publish)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=str(ROOT))


def _read_until_ready(proc: subprocess.Popen[str]) -> list[str]:
    lines = []
    assert proc.stdout is not None
    for _ in range(100):
        line = proc.stdout.readline().strip()
        if line == "READY" or not line:
            break
        lines.append(line)
    return lines


def test_birth_and_last_will_after_sigkill(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    topic = "bx/v1/ops/s1/gw-kill/status"
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
    proc = _child(tmp_path, mqtt_broker.host, mqtt_broker.port, publish=False)
    try:
        _read_until_ready(proc)
        online = sub.wait_for(lambda ms: any(json.loads(m.payload).get("state") == "online" for m in ms if m.payload))
        assert any(json.loads(m.payload)["state"] == "online" for m in online if m.payload)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        got = sub.wait_for(lambda ms: bool(ms) and ms[-1].payload and json.loads(ms[-1].payload)["state"] == "offline",
                           timeout=90)  # the broker notices after 1.5 x keepalive at worst
        last = json.loads(got[-1].payload)
        assert last["state"] == "offline" and last["reason"] == "lwt"
        # The Will is retained: a late subscriber sees "offline" too.
        late = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
        retained = late.wait_for(lambda ms: bool(ms))
        late.stop()
        assert retained and retained[0].retain and json.loads(retained[0].payload)["state"] == "offline"
    finally:
        proc.kill()
        sub.stop()


def test_outbox_survives_sigkill_and_replays_same_ids_in_order(private_broker: Callable[..., MosquittoBroker],
                                                               tmp_path: Path) -> None:
    broker = private_broker()
    broker.stop()  # the gateway runs while the broker is down: everything stays in the outbox
    proc = _child(tmp_path, broker.host, broker.port, publish=True)
    try:
        produced = _read_until_ready(proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert len(produced) == 20
    broker.start()
    sub = Subscriber(broker.host, broker.port, "bx/v1/customs/#").start()
    pub = make_publisher(tmp_path, broker.host, broker.port, gateway="gw-kill")
    assert pub.outbox.depth() == 20
    pub.start()
    try:
        assert pub.wait_idle(20)
        got = sub.wait_for(lambda ms: len(set(_ids(ms))) >= 20)
    finally:
        pub.stop()
        sub.stop()
    assert list(dict.fromkeys(_ids(got))) == produced


def _tls(tls_broker: TlsBroker, cn: str) -> dict[str, object]:
    cert = tls_broker.client_cert(cn)
    return {"url": f"mqtts://127.0.0.1:{tls_broker.tls_port}",
            "tls": MqttTls(ca=tls_broker.ca, cert=cert.cert, key=cert.key)}


def _tls_sub(tls_broker: TlsBroker, cn: str, topic: str) -> Subscriber:
    import ssl

    cert = tls_broker.client_cert(cn)

    def configure(client: object) -> None:
        client.tls_set(ca_certs=str(tls_broker.ca), certfile=str(cert.cert), keyfile=str(cert.key),  # type: ignore[attr-defined]
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return Subscriber(tls_broker.host, tls_broker.tls_port, topic, configure=configure).start()


def test_tls_client_certificates_and_acl(tls_broker: TlsBroker, tmp_path: Path) -> None:
    from gateway.config.mqtt import MqttConfig
    from gateway.publishing.epcis import EpcisContext
    from gateway.publishing.publisher import Publisher

    customs = _tls_sub(tls_broker, "customs-consumer", "bx/v1/customs/#")
    sps_on_customs = _tls_sub(tls_broker, "sps-consumer", "bx/v1/customs/#")
    sps = _tls_sub(tls_broker, "sps-consumer", "bx/v1/sps/#")

    def publisher(gateway: str, cn: str, sub: str) -> Publisher:
        return Publisher(mqtt=MqttConfig(**_tls(tls_broker, cn)),  # type: ignore[arg-type]
                         site="s1", gateway=gateway, lanes={"L1": EpcisContext(lane="L1")},
                         outbox_path=tmp_path / sub / "outbox.sqlite")

    own = publisher("gw-a", "gw-a", "own")
    spoof = publisher("gw-b", "gw-a", "spoof")  # gw-a's certificate, gw-b's topics
    own.start()
    spoof.start()
    try:
        own.publish_enriched(passage("p-own"), RESULT)
        spoof.publish_enriched(passage("p-spoof", serial="9"), RESULT)
        assert own.wait_idle(15) and spoof.wait_idle(15)  # refused PUBACKs also leave the outbox (logged)
        got = customs.wait_for(lambda ms: any("/enriched/" in m.topic for m in ms))
        sps_got = sps.wait_for(lambda ms: bool(ms))
        time.sleep(0.5)
    finally:
        own.stop()
        spoof.stop()
    topics = {m.topic for m in got}
    assert "bx/v1/customs/s1/gw-a/enriched/L1" in topics
    assert not any("/gw-b/" in t for t in topics), "a gateway published under another gateway's id"
    assert spoof.rejected_by_broker >= 1
    assert [m.topic for m in sps_got] == ["bx/v1/sps/s1/gw-a/referral/L1"]
    assert sps_on_customs.messages == [], "the SPS consumer read a customs topic"
    for s in (customs, sps_on_customs, sps):
        s.stop()


def test_command_request_response(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway="gw-cmd")
    pub.on_command("lane-count", lambda req: {"lanes": len(pub.lanes), "echo": req.get("x")})
    pub.start()
    replies = Subscriber(mqtt_broker.host, mqtt_broker.port, "bx/v1/cmd/s1/gw-cmd/reply/test").start()
    try:
        assert pub.link.connected.wait(10)
        time.sleep(0.3)  # let the gateway's SUBACK land
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = "bx/v1/cmd/s1/gw-cmd/reply/test"
        props.CorrelationData = b"req-7"
        replies.client.publish("bx/v1/cmd/s1/gw-cmd/lane-count", b'{"x": 1}', qos=1, properties=props)
        replies.client.publish("bx/v1/cmd/s1/gw-cmd/nope", b"{}", qos=1, properties=props)
        got = replies.wait_for(lambda ms: len(ms) >= 2)
    finally:
        pub.stop()
        replies.stop()
    bodies = [json.loads(m.payload) for m in got]
    assert {"ok": True, "command": "lane-count", "result": {"lanes": 2, "echo": 1}} in bodies
    assert any(b["ok"] is False and "unknown command" in b["error"] for b in bodies)
    assert all(m.props.CorrelationData == b"req-7" for m in got)
    del mqtt
