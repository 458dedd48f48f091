"""MQTT intake: the pre-clearance system pushes declarations and master data to the gateway.

Topics (``{base}`` is ``mqtt.base_topic``)::

    {base}/in/{site}/{gw}/declarations   one Declaration object or a list (bulk)
    {base}/in/{site}/{gw}/products       one Product or a list
    {base}/in/{site}/{gw}/parties        one Party or a list
    {base}/in/{site}/{gw}/movements      one Movement (bx.movement.v1) or a list
    {base}/in/{site}/{gw}/lane/{lane}/trigger   a lane controller's trigger (gateway.lane.external)
    {base}/in/{site}/{gw}/error          <- the gateway answers invalid payloads here
    {base}/in/{site}/{gw}/reply/...      <- and a request's MQTT 5 Response Topic, only under this prefix

Persistent session (MQTT 5 clean start false + session expiry; 3.1.1 clean session false), QoS 1
subscriptions, so declarations pushed while the gateway is offline arrive when it comes back.  The
connection is an :class:`~gateway.publishing.mqtt_client.MqttLink` like the publisher's: the same
broker list (``mqtt.urls``) and failover, and the same MQTT 5 / 3.1.1 choice.
Every message is handled in isolation and gets an answer (:class:`IntakeAnswer`): its records are
validated and stored one by one (the same path as ``border-gateway import``), so a bulk message
``[good, bad, good]`` stores both good records and answers on the error topic
``{"topic", "kind", "stored": {"created": 2}, "errors": [{"index": 1, "path", "message"}]}`` with the
field path of each problem.  A payload that is not JSON, nests deeper than 64 levels or holds a number
of more than 4,300 digits is refused as a whole (``"index": null, "path": "(payload)"``).  Nothing a
publisher sends can stop the subscriber.  With an MQTT 5 Response Topic the answer is also sent there
(with the request's Correlation Data), whether or not anything was refused, provided it lies under
``{base}/in/{site}/{gw}/reply/`` (the prefix the broker's ACL lets the sender read: the gateway never
publishes on a topic a message names, such as another gateway's or the customs topics).  Any other
Response Topic gets nothing; the answer goes to the error topic, naming it
(``"index": null, "path": "(responseTopic)"``), and the records are stored all the same.

>>> answer = handle_payload(Store(":memory:"), "parties", b'[{"partyRef": "p1"}, {"partyRef": ""}]', "t")
>>> answer.stored, [(e.index, e.path) for e in answer.errors]
({'created': 1}, [(1, 'partyRef')])
>>> handle_payload(Store(":memory:"), "products", b"[" * 5000, "t").errors[0].message
'JSON nested deeper than 64 levels'

The master data topics are subscribed with ``enrichment.intake_mqtt: true``, the lane trigger topic with
``lane_engine.intake_mqtt: true`` (the service passes ``on_trigger``): a valid trigger goes to the lane
engine at once, a refused one is answered on the error topic like a refused record (``"kind": "trigger"``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from gateway.config.mqtt import MqttConfig
from gateway.enrichment.importer import What, import_records
from gateway.enrichment.store import Store
from gateway.json_limits import JsonLimitError, loads
from gateway.lane.external import TriggerMessageError, parse_trigger
from gateway.publishing.mqtt_client import InboundMessage, MqttLink
from gateway.publishing.topics import REPLY, check_reply_topic
from gateway.reads import Trigger

log = logging.getLogger(__name__)

KINDS = ("declarations", "products", "parties", "movements")


def intake_topics(base: str, site: str, gateway: str) -> dict[str, str]:
    root = f"{base}/in/{site}/{gateway}"
    return {**{kind: f"{root}/{kind}" for kind in KINDS}, "error": f"{root}/error",
            "trigger": f"{root}/lane/+/trigger"}


def intake_reply_prefix(base: str, site: str, gateway: str) -> str:
    """The prefix an MQTT 5 Response Topic must lie under to be answered."""
    return f"{base}/in/{site}/{gateway}/{REPLY}/"


class IntakeProblem(BaseModel):
    """One rejected record (``index`` in the message's list, ``None`` for the payload as a whole)."""

    model_config = ConfigDict(frozen=True)

    index: int | None = Field(description="position of the record in the message (0 for a single object); "
                                          "null when the payload as a whole is refused")
    path: str = Field(description="field path in the record, camelCase (houseConsignments[0].goodsItems[0].hs6); "
                                  "(payload) for a payload that is not JSON; (responseTopic) for an MQTT 5 "
                                  "Response Topic outside in/{site}/{gw}/reply/, which got no answer")
    message: str


class IntakeAnswer(BaseModel):
    """What one intake message produced: how many records were stored, and each rejected record.

    Published on ``{base}/in/{site}/{gw}/error`` when ``errors`` is not empty, and on the request's
    MQTT 5 Response Topic (with its Correlation Data) in every case when it lies under
    ``{base}/in/{site}/{gw}/reply/``."""

    model_config = ConfigDict(frozen=True)

    topic: str = Field(description="the intake topic the message came in on")
    kind: What | Literal["trigger", "decisions"]
    stored: dict[str, int] = Field(description="records stored, by outcome (created, amended, unchanged)")
    errors: list[IntakeProblem] = Field(description="one entry per problem; empty when every record was stored")


def handle_payload(store: Store, kind: What, payload: bytes, topic: str = "") -> IntakeAnswer:
    """Validate and store one message's records, each on its own: a bad record is named in ``errors``
    and the good ones around it are stored all the same."""
    try:
        data = loads(payload)  # nesting bounded before parsing; every failure is a JsonLimitError
    except JsonLimitError as exc:
        return IntakeAnswer(topic=topic, kind=kind, stored={},
                            errors=[IntakeProblem(index=None, path="(payload)", message=str(exc))])
    records = data if isinstance(data, list) else [data]
    report = import_records(store, kind, records, first_row=0)
    return IntakeAnswer(topic=topic, kind=kind, stored=dict(report.outcomes),
                        errors=[IntakeProblem(index=e.row, path=e.path, message=e.message) for e in report.errors])


class MqttIntake:
    """Subscribes to the intake topics and stores what arrives, over an :class:`MqttLink` of its own.

    The link is the publisher's kind (client id ``{mqtt.client_id}-intake``, no Will): the same
    broker list and failover, the same ``protocol: auto`` fallback to 3.1.1, a persistent session,
    and a denied SUBSCRIBE retried.  Handlers run in paho's network thread.
    """

    def __init__(self, store: Store, mqtt_config: MqttConfig, *, site: str, gateway: str,
                 client_id: str | None = None, master_data: bool = True,
                 on_trigger: Callable[[Trigger], None] | None = None, lanes: Collection[str] = ()) -> None:
        self.store = store
        self.qos = mqtt_config.qos
        self.topics = intake_topics(mqtt_config.base_topic, site, gateway)
        self.reply_prefix = intake_reply_prefix(mqtt_config.base_topic, site, gateway)
        self.client_id = client_id or f"{mqtt_config.client_id or f'bx-{site}-{gateway}'}-intake"
        self.handled = 0
        self.on_refused: Callable[[str, int], None] = lambda kind, count: None  # records refused (the metrics)
        self.on_trigger, self.lanes = on_trigger, frozenset(lanes)
        self._trigger_root = self.topics["trigger"].split("/lane/+/", 1)[0] + "/lane/"
        self.triggers = 0  # triggers handed to the lane engine
        self.link = MqttLink(mqtt_config, self.client_id)
        self.subscribed = self.link.subscribed
        if master_data:
            for kind in KINDS:
                self.link.subscribe(self.topics[kind], self._on_message, qos=self.qos)
        if on_trigger is not None:
            self.link.subscribe(self.topics["trigger"], self._on_trigger, qos=self.qos)

    @classmethod
    def from_config(cls, store: Store, config: Any, on_trigger: Callable[[Trigger], None] | None = None) -> MqttIntake:
        """From a :class:`~gateway.config.SiteConfig` (brokers, credentials, TLS, base topic, session); the master
        data topics when ``enrichment.intake_mqtt``, the lane trigger topic when ``on_trigger`` is given."""
        return cls(store, config.mqtt, site=config.site, gateway=config.gateway,
                   master_data=bool(getattr(config.enrichment, "intake_mqtt", False)), on_trigger=on_trigger,
                   lanes=[lane.id for lane in config.lanes])

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    def _on_message(self, msg: InboundMessage) -> None:
        try:
            kind = msg.topic.rsplit("/", 1)[-1]
            if kind not in KINDS:
                return
            answer = handle_payload(self.store, cast(What, kind), msg.payload, msg.topic)
            self.handled += 1
            reply_to = None
            if msg.response_topic:
                try:
                    reply_to = check_reply_topic(msg.response_topic, self.reply_prefix)
                except ValueError as exc:  # never where the message says: the sender learns it on the error topic
                    answer = answer.model_copy(update={"errors": [*answer.errors, IntakeProblem(
                        index=None, path="(responseTopic)", message=f"{exc}: not answered there")]})
            body = answer.model_dump_json().encode("utf-8")
            if answer.errors:
                self.on_refused(kind, len({e.index for e in answer.errors}))
                log.warning("intake: %s: %d problem(s), stored %s", msg.topic, len(answer.errors), answer.stored)
                self.link.publish(self.topics["error"], body, 1, False, self._reply_props(msg))
            else:
                log.info("intake: %s: stored %s", msg.topic, answer.stored)
            if reply_to is not None:
                self.link.publish(reply_to, body, 1, False, self._reply_props(msg))
        except Exception:  # never let one message kill paho's network thread, nor go unanswered
            log.exception("intake: failed to handle a message on %s", msg.topic)
            self._answer_failure(msg)

    def _on_trigger(self, msg: InboundMessage) -> None:
        """``.../lane/{lane}/trigger``: validated here, handed to the lane engine, or answered on the error topic."""
        lane = msg.topic[len(self._trigger_root):-len("/trigger")] if msg.topic.startswith(self._trigger_root) else ""
        answer: IntakeAnswer | None = None
        try:
            trigger = parse_trigger(msg.payload, lane, self.lanes, time.time())
        except TriggerMessageError as exc:
            # the topic's lane is an id the publisher chose: it stays in the payload, never in a log line
            log.warning("intake: a lane trigger was refused: %s", exc.path)
            answer = IntakeAnswer(topic=msg.topic, kind="trigger", stored={},
                                  errors=[IntakeProblem(index=None, path=exc.path, message=exc.message)])
        else:
            try:
                assert self.on_trigger is not None
                self.on_trigger(trigger)
                self.triggers += 1
            except Exception:
                log.exception("intake: a lane trigger could not be handed to the lane engine")
                answer = IntakeAnswer(topic=msg.topic, kind="trigger", stored={}, errors=[IntakeProblem(
                    index=None, path="(payload)", message="internal error: the trigger was not handled")])
        try:
            answer = answer or IntakeAnswer(topic=msg.topic, kind="trigger", stored={"accepted": 1}, errors=[])
            reply_to = None
            if msg.response_topic:  # answered only under the intake's reply prefix, as the other intake
                try:
                    reply_to = check_reply_topic(msg.response_topic, self.reply_prefix)
                except ValueError as exc:
                    answer = answer.model_copy(update={"errors": [*answer.errors, IntakeProblem(
                        index=None, path="(responseTopic)", message=f"{exc}: not answered there")]})
            body = answer.model_dump_json().encode("utf-8")
            if answer.errors:
                self.on_refused("trigger", 1)
                self.link.publish(self.topics["error"], body, 1, False, self._reply_props(msg))
            if reply_to is not None:
                self.link.publish(reply_to, body, 1, False, self._reply_props(msg))
        except Exception:
            log.exception("intake: could not answer a lane trigger")

    def _answer_failure(self, msg: InboundMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        self.on_refused(kind, 1)
        answer = IntakeAnswer(topic=msg.topic, kind=cast(What, kind), stored={}, errors=[IntakeProblem(
            index=None, path="(payload)", message="internal error: the message was not handled (see the gateway log)")])
        try:
            self.link.publish(self.topics["error"], answer.model_dump_json().encode("utf-8"), 1, False,
                              self._reply_props(msg))
        except Exception:
            log.exception("intake: could not answer a message on %s", msg.topic)

    @staticmethod
    def _reply_props(msg: InboundMessage) -> dict[str, object]:
        """MQTT 5 properties of an answer (the link drops them under 3.1.1): JSON, the request's correlation."""
        props: dict[str, object] = {"content_type": "application/json"}
        if msg.correlation_data:
            props["correlation"] = msg.correlation_data.decode("utf-8", "replace")
        return props
