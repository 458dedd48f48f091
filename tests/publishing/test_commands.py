"""Commands cannot make the gateway publish on other topics (#22 item 5), through real Mosquitto brokers.

Found by probing: an MQTT 5 ``ping`` with the Response Topic ``bx/v1/customs/{site}/{gw}/enriched/lane1``
made the gateway publish its reply among the customs records.  Replies now go only under
``bx/v1/cmd/{site}/{gw}/reply/``, and the ACL that ``docs/mqtt-topics.md`` documents (used here as it is
written) lets the callers read exactly there; the MQTT intake answers a Response Topic only under
``bx/v1/in/{site}/{gw}/reply/``.  Payloads that are not a JSON object get an error reply.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from gateway.config.mqtt import MqttConfig
from gateway.enrichment.mqtt_intake import MqttIntake
from gateway.enrichment.store import Store
from tests.publishing.support import make_publisher
from tests.support.brokers import SharedBroker, make_tls_broker

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


class Client:
    """An MQTT 5 client that records every message it receives (topic, payload, correlation data)."""

    def __init__(self, host: str, port: int, *subscriptions: str, user: tuple[str, str] | None = None) -> None:
        self.got: list[tuple[str, bytes, bytes | None]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:10]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if user is not None:
            self.client.username_pw_set(*user)
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(host, port)
        self.client.loop_start()
        if subscriptions:
            self.client.subscribe([(topic, 1) for topic in subscriptions])
            assert self._subscribed.wait(10), "no SUBACK"

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: list[Any], props: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        correlation = getattr(message.properties, "CorrelationData", None)
        with self._lock:
            self.got.append((message.topic, bytes(message.payload), correlation))

    def send(self, topic: str, payload: bytes, response_topic: str | None = None,
             correlation: str | None = None) -> None:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        if response_topic is not None:
            props.ResponseTopic = response_topic
        if correlation is not None:
            props.CorrelationData = correlation.encode()
        self.client.publish(topic, payload, qos=1, properties=props).wait_for_publish(5)

    def wait(self, predicate: Callable[[list[tuple[str, bytes, bytes | None]]], bool],
             timeout: float = 10.0) -> list[tuple[str, bytes, bytes | None]]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = list(self.got)
            if predicate(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def reply(self, correlation: str, timeout: float = 10.0) -> dict[str, Any]:
        got = self.wait(lambda ms: any(c == correlation.encode() for _, _, c in ms), timeout)
        [body] = [json.loads(p) for _, p, c in got if c == correlation.encode()]
        return body  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_replies_go_only_under_the_reply_prefix_and_bad_payloads_get_an_error_reply(
        mqtt_broker: SharedBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gw = f"gw-cmd-{uuid.uuid4().hex[:6]}"
    cmd, replies = f"bx/v1/cmd/s1/{gw}", f"bx/v1/cmd/s1/{gw}/reply"
    outside = [f"bx/v1/customs/s1/{gw}/enriched/lane1",  # the probe that found it
               f"bx/v1/ops/s1/{gw}/status",
               f"app/{gw}/replies",
               replies,  # the prefix itself (the command subscription would see it)
               f"bx/v1/cmd/s1/{gw}-other/reply/x",  # another gateway's prefix
               f"bx/v1/cmd/s1/{gw}/replyx/x"]
    everything = Client(mqtt_broker.host, mqtt_broker.port, f"bx/v1/+/s1/{gw}/#", f"bx/v1/cmd/s1/{gw}-other/#",
                        f"app/{gw}/#")
    requester = Client(mqtt_broker.host, mqtt_broker.port, f"{replies}/me/#")
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway=gw)
    pub.start()
    try:
        assert pub.link.subscribed.wait(10)
        with caplog.at_level(logging.WARNING, logger="gateway.publishing.commands"):
            for n, topic in enumerate(outside):
                requester.send(f"{cmd}/ping", b"{}", topic, f"out-{n}")
            # 3.1.1 style: the response topic in the body, outside the prefix, or not a string
            requester.send(f"{cmd}/ping", json.dumps({"responseTopic": outside[0], "correlationId": "b-1"}).encode())
            requester.send(f"{cmd}/ping", json.dumps({"responseTopic": 42, "correlationId": "b-2"}).encode())
            requester.send(f"{cmd}/ping", json.dumps({"responseTopic": "\ud800"}).encode())
            bad = {"deep": b"[" * 5000, "number": b"9" * 5000, "binary": b"\x80abc", "list": b"[1, 2]",
                   "string": b'"ping"', "not-json": b"{ping"}
            for name, payload in bad.items():
                requester.send(f"{cmd}/ping", payload, f"{replies}/me/{name}", f"bad-{name}")
            requester.send(f"{cmd}/ping", json.dumps({"correlationId": {"nested": [1]}}).encode(),
                           f"{replies}/me", None)
            requester.send(f"{cmd}/ping", b"{}", f"{replies}/me/after", "ok")  # still serving
            assert requester.reply("ok") == {"ok": True, "command": "ping", "result": {"pong": True}}
            got = requester.wait(lambda ms: len(ms) >= len(bad) + 2)
            seen = everything.wait(lambda ms: sum(t.startswith(f"{replies}/") for t, _, _ in ms) >= len(bad) + 2)
    finally:
        pub.stop()
        requester.stop()
        everything.stop()

    errors = {c.decode(): json.loads(p)["error"] for _, p, c in got if c and c.startswith(b"bad-")}
    assert errors == {
        "bad-deep": "bad request: JSON nested deeper than 64 levels",
        "bad-number": "bad request: a number has more than 4300 digits",
        "bad-binary": "bad request: not UTF-8: invalid start byte at byte 0",
        "bad-list": "bad request: request must be a JSON object",
        "bad-string": "bad request: request must be a JSON object",
        "bad-not-json": errors["bad-not-json"],
    } and errors["bad-not-json"].startswith("bad request: not JSON:")
    [typed] = [json.loads(p) for t, p, _ in got if t == f"{replies}/me"]
    assert typed == {"ok": False, "command": "ping", "error": "bad request: correlationId must be a string"}
    # nothing anywhere but under the prefix: not on the customs or status topics, not elsewhere
    published = {t for t, _, _ in seen if not t.startswith(f"bx/v1/ops/s1/{gw}/") and t != f"{cmd}/ping"}
    assert published == {f"{replies}/me/{name}" for name in bad} | {f"{replies}/me", f"{replies}/me/after"}
    assert not [p for t, p, _ in seen if t == f"bx/v1/ops/s1/{gw}/status" and b"pong" in p]
    refused = [r.getMessage() for r in caplog.records if "not answered" in r.getMessage()]
    assert len(refused) == len(outside) + 3, refused
    assert all(topic not in line for line in refused for topic in outside[:3])  # the caller's text is not logged


def _documented_acl() -> str:
    """The ACL block of docs/mqtt-topics.md, as an operator would copy it."""
    text = (ROOT / "docs" / "mqtt-topics.md").read_text(encoding="utf-8")
    section = text[text.index("### ACLs for commands, replies and the intake"):]
    return section.split("```")[1].strip() + "\n"


def test_the_documented_acl_lets_callers_read_their_replies_and_nothing_is_published_elsewhere(
        tmp_path: Path) -> None:
    users = {"gw-1": "pw-gw", "ops-console": "pw-ops", "preclearance": "pw-pc", "observer": "pw-obs"}
    acl = _documented_acl() + "user observer\ntopic read bx/v1/#\n"
    broker = make_tls_broker(tmp_path / "acl", users=users, acl=acl)
    host, port = broker.host, broker.password_port
    cmd, in_ = "bx/v1/cmd/de-ffo/gw-1", "bx/v1/in/de-ffo/gw-1"
    observer = Client(host, port, "bx/v1/#", user=("observer", "pw-obs"))
    console = Client(host, port, f"{cmd}/reply/#", f"{in_}/#", user=("ops-console", "pw-ops"))
    preclearance = Client(host, port, f"{in_}/error", f"{in_}/reply/#", f"{cmd}/reply/#",
                          user=("preclearance", "pw-pc"))
    pub = make_publisher(tmp_path / "gw", host, port, site="de-ffo", gateway="gw-1", username="gw-1",
                         password=SecretStr("pw-gw"))
    store = Store(tmp_path / "db.sqlite")
    intake = MqttIntake(store, MqttConfig(url=f"mqtt://{host}:{port}", username="gw-1", password=SecretStr("pw-gw")),
                        site="de-ffo", gateway="gw-1")
    pub.start()
    intake.start()
    try:
        assert pub.link.subscribed.wait(15) and intake.subscribed.wait(15)
        console.send(f"{cmd}/ping", b"{}", f"{cmd}/reply/ops-console", "c-1")
        assert console.reply("c-1") == {"ok": True, "command": "ping", "result": {"pong": True}}
        console.send(f"{cmd}/ping", b"{}", "bx/v1/customs/de-ffo/gw-1/enriched/lane1", "c-2")  # the probe
        preclearance.send(f"{in_}/parties", json.dumps([{"partyRef": "p1"}]).encode(), f"{in_}/reply/pc", "i-1")
        assert preclearance.reply("i-1") == {"topic": f"{in_}/parties", "kind": "parties", "stored": {"created": 1},
                                             "errors": []}
        # the gateway may write its command replies, but the intake answers only under its own prefix
        preclearance.send(f"{in_}/parties", json.dumps([{"partyRef": "p2"}]).encode(), f"{cmd}/reply/pc", "i-2")
        answer = preclearance.reply("i-2")
        assert answer["stored"] == {"created": 1} and answer["errors"][0]["path"] == "(responseTopic)"
        console.send(f"{cmd}/ping", b"{}", f"{cmd}/reply/ops-console", "c-3")
        assert console.reply("c-3")["ok"] is True
        seen = observer.wait(lambda ms: (f"{cmd}/reply/ops-console", b"c-3") in [(t, c) for t, _, c in ms])
        assert store.party("p1") is not None and store.party("p2") is not None
    finally:
        pub.stop()
        intake.stop()
        for client in (observer, console, preclearance):
            client.stop()
        store.close()
        broker.stop()
    assert not [t for t, _, _ in seen if t.startswith("bx/v1/customs/")]
    assert not [t for t, _, _ in seen if t == f"{cmd}/reply/pc"]
    assert [c for t, _, c in seen if t.startswith(f"{cmd}/reply/")] == [b"c-1", b"c-3"]
    assert [c for t, _, c in seen if t.startswith(f"{in_}/reply/")] == [b"i-1"]
    assert [c for t, _, c in seen if t == f"{in_}/error"] == [b"i-2"]
    # the ACL as documented keeps the two callers apart (Mosquitto grants every subscription and filters
    # what it delivers): the console gets no intake traffic, the pre-clearance system no command replies
    assert {t for t, _, _ in console.got} == {f"{cmd}/reply/ops-console"}
    assert not [t for t, _, _ in preclearance.got if t.startswith(f"{cmd}/")]
