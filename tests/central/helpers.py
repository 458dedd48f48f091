"""Real enriched records for the central-side tests: the demo scenario through the real gateway pipeline
(:func:`simulators.fleet.sample.capture`), with three revisions of each passage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from simulators.fleet.sample import SampleMessage, capture


def enriched_revisions() -> list[list[SampleMessage]]:
    """Per observed passage: its enriched messages r1, r2, r3 (as the gateway published them)."""
    sample = capture(seed=5, revisions=3)
    out = []
    for p in sample.passages:
        groups = [p.messages, *p.revisions]
        out.append([m for group in groups for m in group if m.kind == "enriched"])
    return [revs for revs in out if len(revs) == 3]


def ce_id(message: SampleMessage) -> str:
    return str(json.loads(message.payload)["id"])


@dataclass
class Listener:
    """A plain MQTT 5 subscriber collecting (topic, payload) on one broker."""

    host: str
    port: int
    topic: str
    got: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        self.client.subscribe(self.topic, qos=1)
        assert self._subscribed.wait(10), "no SUBACK"

    def wait_for(self, predicate: Callable[[list[tuple[str, bytes]]], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(list(self.got)):
                return True
            time.sleep(0.05)
        return predicate(list(self.got))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(host: str, port: int, protocol: str = "5") -> Any:
    """A connected MQTT client (``protocol="3.1.1"`` for NATS's MQTT listener)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5 if protocol == "5"
                         else MQTTProtocolVersion.MQTTv311)
    client.connect(host, port)
    client.loop_start()
    return client


def send(client: Any, messages: list[SampleMessage]) -> None:
    """Publish in order, QoS 1, and wait for every PUBACK."""
    infos = [client.publish(m.topic, m.payload, qos=1) for m in messages]
    for info in infos:
        info.wait_for_publish(10)
