"""A CloudEvents consumer for fault tests and benchmarks: QoS 1 on one or several brokers, dedup by ``id``.

:class:`EventConsumer` subscribes to one topic filter on every broker it is given (two brokers that
are not bridged each get their own connection), in MQTT 5 or 3.1.1 (NATS 2.9 speaks only 3.1.1),
with a persistent session if asked, and keeps every message it receives::

    with EventConsumer(["mqtt://127.0.0.1:p1", "mqtt://127.0.0.1:p2"], "bx/v1/#") as consumer:
        ...
        consumer.wait_for_ids(expected, timeout=20)
        consumer.duplicates()            # {id: copies} for ids received more than once

A denied subscription (SUBACK 0x80: NATS answers that when JetStream cannot create the consumer in
time, e.g. with a node down) is retried every second until granted; :meth:`EventConsumer.wait_subscribed`
waits for all of them.  Messages that are not CloudEvents JSON (retained status, lane state) are kept
with ``id`` None.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class Delivery:
    broker: str
    topic: str
    payload: bytes
    retain: bool
    id: str | None


def _event_id(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("specversion") == "1.0":
        return str(body.get("id"))
    return None


class EventConsumer:
    def __init__(self, urls: Sequence[str], topic: str = "bx/v1/#", *, protocol: Literal["5", "3.1.1"] = "5",
                 client_id: str = "", persistent: bool = False) -> None:
        self.topic = topic
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._granted: dict[str, threading.Event] = {}
        self._stopping = False
        self._clients: list[tuple[str, mqtt.Client]] = []
        self.denied = 0  # SUBACKs that refused the subscription (then retried)
        v5 = protocol == "5"
        for n, url in enumerate(urls):
            cid = f"{client_id}-{n}" if client_id else ""
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid,
                                 protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                                 clean_session=None if v5 else not persistent)
            client.user_data_set(url)
            client.on_connect = self._on_connect
            client.on_subscribe = self._on_subscribe
            client.on_message = self._on_message
            client.reconnect_delay_set(1, 2)
            self._granted[url] = threading.Event()
            self._clients.append((url, client))
        self._v5, self._persistent = v5, persistent

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> EventConsumer:
        for url, client in self._clients:
            parts = urlsplit(url)
            props = None
            if self._v5 and self._persistent:
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = 3600
            client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883,
                                 clean_start=not self._persistent if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                                 properties=props)
            client.loop_start()
        self.wait_subscribed(timeout)
        return self

    def stop(self) -> None:
        self._stopping = True
        for _, client in self._clients:
            client.disconnect()
            client.loop_stop()

    def __enter__(self) -> EventConsumer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_subscribed(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        for url, granted in self._granted.items():
            if not granted.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"subscription on {url} not granted after {timeout}s")

    def publish(self, topic: str, payload: bytes, broker: int = 0, timeout: float = 5.0) -> None:
        """Publish QoS 1 through the connection to ``urls[broker]`` (requests, intake) and wait for the PUBACK."""
        self._clients[broker][1].publish(topic, payload, qos=1).wait_for_publish(timeout)

    # -- paho callbacks ---------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, url: str, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, client: mqtt.Client, url: str, mid: int, codes: Any, props: Any) -> None:
        if any(code.is_failure for code in codes):
            self.denied += 1
            if not self._stopping:
                timer = threading.Timer(1.0, lambda: client.subscribe(self.topic, qos=1))
                timer.daemon = True
                timer.start()
            return
        self._granted[url].set()

    def _on_message(self, client: mqtt.Client, url: str, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        delivery = Delivery(url, message.topic, payload, bool(message.retain), _event_id(payload))
        with self._lock:
            self.deliveries.append(delivery)

    # -- results ----------------------------------------------------------------------------------

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def events(self) -> list[Delivery]:
        """The CloudEvents received, in arrival order, duplicates included."""
        return [d for d in self.snapshot() if d.id is not None]

    def ids(self) -> set[str]:
        return {d.id for d in self.events() if d.id is not None}

    def duplicates(self) -> dict[str, int]:
        """``{id: copies}`` for every id received more than once."""
        counts = Counter(d.id for d in self.events())
        return {str(k): v for k, v in counts.items() if v > 1}

    def conflicting_duplicates(self) -> list[str]:
        """Ids received more than once with different payloads (never acceptable)."""
        payloads: dict[str, bytes] = {}
        bad = []
        for d in self.events():
            assert d.id is not None
            if payloads.setdefault(d.id, d.payload) != d.payload:
                bad.append(d.id)
        return bad

    def wait_for_ids(self, expected: Iterable[str], timeout: float = 20.0) -> set[str]:
        """Wait until every expected id arrived; returns the ids still missing (empty: all there)."""
        want = set(expected)
        deadline = time.monotonic() + timeout
        while True:
            missing = want - self.ids()
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def wait_for(self, predicate: Callable[[Delivery], bool], timeout: float = 10.0) -> Delivery | None:
        """The first message (already received, or arriving within ``timeout``) that ``predicate`` accepts."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            deliveries = self.snapshot()
            for delivery in deliveries[seen:]:
                if predicate(delivery):
                    return delivery
            seen = len(deliveries)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def last(self, topic: str, broker: str | None = None) -> Delivery | None:
        """The last message received on ``topic`` (e.g. the retained status), from ``broker`` if given."""
        for delivery in reversed(self.snapshot()):
            if delivery.topic == topic and broker in (None, delivery.broker):
                return delivery
        return None
