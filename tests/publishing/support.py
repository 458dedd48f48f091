"""Shared builders for the publishing tests: passages, an enrichment result, a broker subscriber."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config.mqtt import MqttConfig
from gateway.enrichment.result import DocumentRef, EnrichmentResult, Flag, Link, Party, Product, Routing, RuleRef
from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier
from gateway.publishing.epcis import EpcisContext
from gateway.publishing.publisher import Publisher

MRN = "25DE000000000123A1"
SSCC = "340123450000000017"
EORI = "DE123456789012345"
PERSON = "Jane Doe"


def seen(*elements: tuple[str, str]) -> SeenIdentifier:
    return SeenIdentifier(Identifier.from_elements(list(elements)), Evidence(1.0, 2.0, 3))


def passage(pid: str = "p-1", lane: str = "L1", t: float = 1_740_824_100.25, serial: str = "1") -> Passage:
    return Passage(id=pid, lane=lane, direction="inbound", state="closed", opened_at=t - 10, closed_at=t,
                   close_reason="quiet",
                   identifiers=(seen(("00", SSCC)), seen(("01", "09506000134352"), ("21", serial))))


RESULT = EnrichmentResult(
    passage_id="p-1", lane="L1",
    links=[Link(mrn=MRN, house_ucr="40123451234567894", goods_item_seq=1, key=f"https://id.gs1.org/00/{SSCC}",
                key_type="sscc", via="declared-sscc-list", confidence=1.0,
                documents=[DocumentRef(type="N853", reference="CHED.DE.2025.0001")], seals=["SEAL123"])],
    products=[Product(gtin="04012345000016", description="bovine meat", hs6_declared="020230", origin="076",
                      quantity=20, gross_mass_kg=1205.0, value=15400.0, currency="EUR")],
    parties=[Party(role="consignee", natural_person=True, name=PERSON, eori=EORI),
             Party(role="consignor", natural_person=False, name="Frigorifico SA", eori="BR1234")],
    flags=[Flag(code="SPS_DOC_MISSING", severity="high", rule=RuleRef(id="R-SPS-02", version="3"),
                evidence={"hs6": "020230"})],
    routing=[Routing(agency="VET", basis="HS chapter 02", expected_docs=["N853"], present=False),
             Routing(agency="CITES", basis="Annex B", expected_docs=["C400"], present=True)],
    rules_version="2025.03",
)


def make_publisher(tmp: Path, host: str = "127.0.0.1", port: int = 1883, gateway: str = "gw-t",
                   site: str = "s1", **cfg: Any) -> Publisher:
    """A publisher on ``host:port``, or on the failover list ``urls=[...]`` when given."""
    if "urls" not in cfg:
        cfg["url"] = f"mqtt://{host}:{port}"
    mqtt_cfg = MqttConfig(reconnect_min_s=1, reconnect_max_s=1, **cfg)
    return Publisher(mqtt=mqtt_cfg, site=site, gateway=gateway,
                     lanes={"L1": EpcisContext(lane="L1", read_point_gln="4012345000009"),
                            "L2": EpcisContext(lane="L2", read_point_gln="4012345000009")},
                     outbox_path=tmp / "outbox.sqlite")


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    props: Any


@dataclass
class Subscriber:
    """A real MQTT 5 subscriber (QoS 1), optionally with a persistent session."""

    host: str
    port: int
    topic: str
    client_id: str = ""
    persistent: bool = False
    configure: Any = None
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sub = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if self.configure:
            self.configure(self.client)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda *a: self._sub.set()
        self.client.on_message = self._on_message

    def _on_message(self, c: Any, u: Any, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(m.topic, bytes(m.payload), bool(m.retain), m.properties))

    def start(self) -> Subscriber:
        props = None
        if self.persistent:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
        self.client.connect(self.host, self.port, clean_start=not self.persistent, properties=props)
        self.client.loop_start()
        assert self._sub.wait(5), "subscription not acknowledged"
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.messages)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        with self._lock:
            return list(self.messages)


def record_event_ids(pub: Publisher) -> list[str]:
    """The CloudEvents ids of every event ``pub`` stores from now on, in order (a spy on ``Outbox.put``)."""
    ids: list[str] = []
    put = pub.outbox.put

    def recording(messages: Any, counters: Any = None) -> Any:
        ids.extend(str(dict(m.props["user"])["ce_id"]) for m in messages
                   if not m.retain and "ce_id" in dict(m.props.get("user") or []))
        return put(messages, counters)

    pub.outbox.put = recording  # type: ignore[method-assign]
    return ids


def close_passages(pub: Publisher, count: int, *, pause: float = 0.0, first: int = 0,
                   at: tuple[int, Callable[[], None]] | None = None) -> threading.Thread:
    """Close ``count`` distinct passages (ids ``p-{first}``...) with ``RESULT``, ``pause`` apart, in a thread;
    ``at=(n, action)`` runs ``action()`` right after the n-th (a broker killed mid-run)."""
    from gateway.lane.passage import PassageEvent

    def run() -> None:
        for i in range(first, first + count):
            p = passage(f"p-{i}", serial=str(1000 + i))
            pub.publish_passage_end(PassageEvent("end", p, p.closed_at or 0.0), RESULT)
            if at is not None and i - first == at[0]:
                at[1]()
            if pause:
                time.sleep(pause)

    thread = threading.Thread(target=run, name="passages", daemon=True)
    thread.start()
    return thread
