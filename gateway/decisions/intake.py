"""Decision intake: central decisions over MQTT (per gateway and per customs office) and over HTTP.

One object or a list per message.  Each record is validated on its own (:class:`~gateway.decisions.model.Decision`),
stored durably (:class:`~gateway.decisions.store.DecisionStore`), then acknowledged; a bad record is named by
its index and field path and the good ones around it are stored all the same.

Topics (``{base}`` is ``mqtt.base_topic``):

* in: ``{base}/in/{site}/{gw}/decisions`` and ``{base}/in/office/{office}/decisions`` for each office of
  ``decisions.offices`` (a national system publishes one copy for every gateway of the office);
* out: ``{base}/customs/{site}/{gw}/decision-ack`` (:class:`DecisionAck`: stored, duplicate, superseded or
  rejected, per record) and, for rejected records, the intake error topic ``{base}/in/{site}/{gw}/error``
  (:class:`~gateway.enrichment.mqtt_intake.IntakeAnswer`, kind ``decisions``).

>>> from gateway.decisions.store import DecisionStore
>>> store = DecisionStore(":memory:")
>>> good = {"decisionId": "D-1", "outcome": "release", "agency": "CUSTOMS", "issuedAt": "2025-03-01T10:00:00Z",
...         "mrn": "25DE0040560000002A"}
>>> ack, stored = take(store, [good, {**good, "decisionId": "D-2", "outcome": "maybe"}, good], topic="t")
>>> [(a.index, a.status) for a in ack.acks], [(e.index, e.path) for e in ack.errors]
([(0, 'stored'), (1, 'rejected'), (2, 'duplicate')], [(1, 'outcome')])
>>> [d.decision_id for d in stored]
['D-1']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.config.mqtt import MqttConfig
from gateway.decisions.model import Decision, DecisionTopics
from gateway.decisions.store import AckStatus, DecisionStore
from gateway.enrichment.importer import validation_errors
from gateway.enrichment.mqtt_intake import IntakeAnswer, IntakeProblem, intake_topics
from gateway.json_limits import JsonLimitError, loads

log = logging.getLogger(__name__)

MAX_RECORDS = 10_000  # decisions per message


class AckItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(description="position of the record in the message (0 for a single object)")
    decisionId: str | None = Field(None, description="the record's decision id (null when unreadable)")
    status: AckStatus = Field(description="stored (new, or a later issue of the same id); duplicate (the same "
                              "again: nothing changed); superseded (an earlier issue than the one held for "
                              "this subject and agency: kept for the record, not applied); rejected (invalid: "
                              "see errors and the intake error topic)")


class DecisionAck(BaseModel):
    """``{base}/customs/{site}/{gw}/decision-ack``: what one intake message's decisions became."""

    model_config = ConfigDict(frozen=True)

    topic: str = Field(description="the topic the decisions came in on (or http)")
    receivedAt: float = Field(description="epoch seconds")
    acks: list[AckItem]
    errors: list[IntakeProblem] = Field(description="one entry per problem of a rejected record")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


def take(store: DecisionStore, records: Sequence[Any], *, topic: str, now: float | None = None
         ) -> tuple[DecisionAck, list[Decision]]:
    """Validate and store each record; returns the acknowledgement and the decisions that changed something."""
    acks: list[AckItem] = []
    errors: list[IntakeProblem] = []
    stored: list[Decision] = []
    for index, record in enumerate(records[:MAX_RECORDS]):
        ident = record.get("decisionId") if isinstance(record, dict) else None
        ident = ident if isinstance(ident, str) and len(ident) <= 64 else None
        if not isinstance(record, dict):
            errors.append(IntakeProblem(index=index, path="(root)",
                                        message=f"expected an object, got {type(record).__name__}"))
            acks.append(AckItem(index=index, decisionId=None, status="rejected"))
            continue
        try:
            decision = Decision.model_validate(record)
        except ValidationError as exc:
            errors.extend(IntakeProblem(index=index, path=p, message=m) for p, m in validation_errors(exc))
            acks.append(AckItem(index=index, decisionId=ident, status="rejected"))
            continue
        try:
            status = store.put(decision)
        except Exception as exc:  # a record the store refuses must not cost the others
            log.exception("decision intake: a decision could not be stored")
            errors.append(IntakeProblem(index=index, path="(record)", message=f"not stored: {type(exc).__name__}"))
            acks.append(AckItem(index=index, decisionId=decision.decision_id, status="rejected"))
            continue
        acks.append(AckItem(index=index, decisionId=decision.decision_id, status=status))
        if status == "stored":
            stored.append(decision)
    if len(records) > MAX_RECORDS:
        errors.append(IntakeProblem(index=None, path="(payload)",
                                    message=f"more than {MAX_RECORDS} decisions: the rest was not read"))
    return DecisionAck(topic=topic, receivedAt=now if now is not None else time.time(), acks=acks,
                       errors=errors), stored


def take_payload(store: DecisionStore, payload: bytes, *, topic: str) -> tuple[DecisionAck, list[Decision]]:
    """:func:`take` for the bytes of one MQTT message (a payload that is not JSON is one ``(payload)`` error)."""
    try:
        data = loads(payload)
    except JsonLimitError as exc:
        return DecisionAck(topic=topic, receivedAt=time.time(), acks=[],
                           errors=[IntakeProblem(index=None, path="(payload)", message=str(exc))]), []
    return take(store, data if isinstance(data, list) else [data], topic=topic)


class DecisionIntake:
    """The MQTT side: subscriptions on the gateway's and its offices' decision topics, over an MqttLink of its
    own (client id ``{mqtt.client_id}-decisions``, persistent session as configured).  Handlers run in paho's
    network thread; ``on_stored(decision)`` is called for each decision that changed something."""

    def __init__(self, store: DecisionStore, mqtt: MqttConfig, *, site: str, gateway: str,
                 offices: Sequence[str] = (), on_stored: Callable[[Decision], None] | None = None,
                 client_id: str | None = None) -> None:
        from gateway.publishing.mqtt_client import MqttLink

        self.store = store
        self.qos = mqtt.qos
        self.topics = DecisionTopics(mqtt.base_topic, site, gateway)
        self.error_topic = intake_topics(mqtt.base_topic, site, gateway)["error"]
        self.on_stored = on_stored
        self.on_refused: Callable[[int], None] = lambda count: None
        self.client_id = client_id or f"{mqtt.client_id or f'bx-{site}-{gateway}'}-decisions"
        self.link = MqttLink(mqtt, self.client_id)
        self.subscribed = self.link.subscribed
        self.filters = [self.topics.intake, *(self.topics.office_intake(office) for office in offices)]
        for topic_filter in self.filters:
            self.link.subscribe(topic_filter, self._on_message, qos=self.qos)
        self.handled = 0

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    def _on_message(self, msg: Any) -> None:
        try:
            ack, stored = take_payload(self.store, msg.payload, topic=msg.topic)
            self.handled += 1
            self.publish_ack(ack)
            for decision in stored:
                if self.on_stored is not None:
                    self.on_stored(decision)
        except Exception:  # never let one message kill paho's network thread
            log.exception("decision intake: a message could not be handled")

    def publish_ack(self, ack: DecisionAck, error_topic: bool = True) -> None:
        """The acknowledgement on the ack topic; with ``error_topic``, rejected records on the intake error topic
        too (``False`` for the HTTP API, whose 422 answers them)."""
        props = {"content_type": "application/json"}
        self.link.publish(self.topics.ack, ack.to_json(), 1, False, props)
        if ack.errors and error_topic:
            rejected = len({e.index for e in ack.errors})
            self.on_refused(rejected)
            log.warning("decision intake: %d decision(s) rejected", rejected)
            answer = IntakeAnswer(topic=ack.topic, kind="decisions", stored=_counts(ack), errors=ack.errors)
            self.link.publish(self.error_topic, answer.model_dump_json().encode("utf-8"), 1, False, props)


def _counts(ack: DecisionAck) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in ack.acks:
        if item.status != "rejected":
            out[item.status] = out.get(item.status, 0) + 1
    return out

