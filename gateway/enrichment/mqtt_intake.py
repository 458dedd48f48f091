"""MQTT intake: the pre-clearance system pushes declarations and master data to the gateway.

Topics (``{base}`` is ``mqtt.base_topic``)::

    {base}/in/{site}/{gw}/declarations   one Declaration object or a list (bulk)
    {base}/in/{site}/{gw}/products       one Product or a list
    {base}/in/{site}/{gw}/parties        one Party or a list
    {base}/in/{site}/{gw}/error          <- the gateway answers invalid payloads here

Persistent session (MQTT 5 clean start false + session expiry; 3.1.1 clean session false), QoS 1
subscriptions, so declarations pushed while the gateway is offline arrive when it comes back.
Every message is handled in isolation: a payload that is not JSON, or records that fail validation,
produce an error message ``{"topic", "kind", "errors": [{"index", "path", "message"}], ...}`` with
the field paths, and the good records of a bulk message are still stored.  Nothing a publisher
sends can stop the subscriber.  With an MQTT 5 Response Topic the outcome is also sent there
(with the request's Correlation Data).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from gateway.enrichment.importer import MODELS, validation_errors
from gateway.enrichment.store import DeclarationConflict, Store

log = logging.getLogger(__name__)

KINDS = ("declarations", "products", "parties")


def intake_topics(base: str, site: str, gateway: str) -> dict[str, str]:
    root = f"{base}/in/{site}/{gateway}"
    return {**{kind: f"{root}/{kind}" for kind in KINDS}, "error": f"{root}/error"}


def handle_payload(store: Store, kind: str, payload: bytes) -> dict[str, Any]:
    """Validate and store one message's records; returns the outcome (``errors`` empty when all good)."""
    outcomes: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {"kind": kind, "stored": {}, "errors": [{"index": None, "path": "(payload)",
                                                         "message": f"not UTF-8 JSON: {exc}"}]}
    records = data if isinstance(data, list) else [data]
    model = MODELS[kind]
    for index, record in enumerate(records):
        try:
            obj = model.model_validate(record)
        except ValidationError as exc:
            errors += [{"index": index, "path": p, "message": m} for p, m in validation_errors(exc)]
            continue
        try:
            if kind == "declarations":
                outcome = store.upsert_declaration(obj).outcome  # type: ignore[arg-type]
            elif kind == "products":
                outcome = store.upsert_product(obj).outcome  # type: ignore[arg-type]
            else:
                outcome = store.upsert_party(obj).outcome  # type: ignore[arg-type]
        except DeclarationConflict as exc:
            errors.append({"index": index, "path": "declarationRef.version", "message": str(exc)})
            continue
        outcomes[outcome] += 1
    return {"kind": kind, "stored": dict(outcomes), "errors": errors}


class MqttIntake:
    """Subscribes to the intake topics and stores what arrives; paho's own network thread."""

    def __init__(self, store: Store, *, host: str, port: int, base: str, site: str, gateway: str,
                 client_id: str | None = None, username: str | None = None, password: str | None = None,
                 tls: ssl.SSLContext | None = None, protocol: str = "5", session_expiry_s: int = 86_400,
                 qos: int = 1) -> None:
        self.store, self.host, self.port, self.qos = store, host, port, qos
        self.topics = intake_topics(base, site, gateway)
        self.client_id = client_id or f"bx-{site}-{gateway}-intake"
        self.v5 = protocol != "3.1.1"
        self.session_expiry_s = session_expiry_s
        self.handled = 0
        self.subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self.v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if self.v5 else False)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set_context(tls)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 30)

    @classmethod
    def from_config(cls, store: Store, config: Any) -> MqttIntake:
        """From a :class:`~gateway.config.SiteConfig` (url, credentials, base topic, session expiry)."""
        m = config.mqtt
        tls = ssl.create_default_context() if m.uses_tls else None
        if tls is not None and m.tls is not None:
            if m.tls.ca:
                tls.load_verify_locations(str(m.tls.ca))
            if m.tls.cert:
                tls.load_cert_chain(str(m.tls.cert), str(m.tls.key) if m.tls.key else None)
            if m.tls.insecure_skip_verify:
                tls.check_hostname = False
        return cls(store, host=m.host, port=m.port, base=m.base_topic, site=config.site, gateway=config.gateway,
                   client_id=f"{m.client_id or f'bx-{config.site}-{config.gateway}'}-intake",
                   username=m.username, password=m.password.get_secret_value() if m.password else None, tls=tls,
                   protocol="3.1.1" if m.protocol == "3.1.1" else "5", session_expiry_s=m.session_expiry_s,
                   qos=m.qos)

    def start(self) -> None:
        props = None
        if self.v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.session_expiry_s
        self._client.connect_async(self.host, self.port, keepalive=30, clean_start=False if self.v5 else 3,
                                   properties=props)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("intake: connection refused: %s", reason)
            return
        client.subscribe([(self.topics[kind], self.qos) for kind in KINDS])
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            kind = msg.topic.rsplit("/", 1)[-1]
            if kind not in KINDS:
                return
            outcome = handle_payload(self.store, kind, bytes(msg.payload))
            outcome["topic"] = msg.topic
            self.handled += 1
            body = json.dumps(outcome, separators=(",", ":")).encode("utf-8")
            if outcome["errors"]:
                log.warning("intake: %s: %d problem(s)", msg.topic, len(outcome["errors"]))
                client.publish(self.topics["error"], body, qos=1, properties=self._reply_props(msg))
            response_topic = getattr(msg.properties, "ResponseTopic", None) if msg.properties else None
            if response_topic:
                client.publish(response_topic, body, qos=1, properties=self._reply_props(msg))
        except Exception:  # never let one message kill paho's network thread
            log.exception("intake: failed to handle a message on %s", msg.topic)

    def _reply_props(self, msg: mqtt.MQTTMessage) -> Properties | None:
        if not self.v5:
            return None
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ContentType = "application/json"
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        if correlation:
            props.CorrelationData = correlation
        return props
