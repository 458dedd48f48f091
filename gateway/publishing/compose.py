"""From a closed passage and its enrichment to the MQTT messages that say so (sans-I/O).

:class:`Composer` is the publishing path's state machine, in the manner of h11: it is fed lane
events and enrichment results and returns the :class:`~gateway.publishing.outbox.OutboxMessage`
list to store, and does nothing else: no threads, no sockets, no clock (the caller passes ``now``,
which stamps the retained lane state and the EPCIS document's ``creationDate``), no storage (the
caller passes the revision of an enriched record).  What it remembers between calls is what the
wire needs: each lane's retained state, and each recent passage's EPCIS events, serialised once
(every revision of the enriched record embeds the same bytes, and the observation goes out once).

>>> from gateway.config.mqtt import MqttConfig
>>> from gateway.enrichment.result import EnrichmentResult, Flag, Link, RuleRef
>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, PassageEvent, SeenIdentifier
>>> composer = Composer(MqttConfig(), site="s1", gateway="gw-1", lanes={"L1": EpcisContext("L1", "4012345000009")})
>>> sscc = SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]), Evidence(1.0, 2.0, 3))
>>> p = Passage("p-1", "L1", "inbound", "closed", opened_at=1_740_824_090.0, closed_at=1_740_824_100.25,
...             identifiers=(sscc,))
>>> result = EnrichmentResult(passage_id="p-1", lane="L1", links=[Link(mrn="25DE000000000123A1")],
...                           flags=[Flag(code="SPS_DOC_MISSING", severity="high", rule=RuleRef(id="R", version="3"))])
>>> composed = composer.passage_end(PassageEvent("end", p, 1_740_824_100.25), result, revision=1, now=1_740_824_101.0)
>>> [m.topic.removeprefix("bx/v1/") for m in composed.messages]  # doctest: +NORMALIZE_WHITESPACE
['ops/s1/gw-1/lane/L1/passage', 'customs/s1/gw-1/observation/L1', 'customs/s1/gw-1/enriched/L1',
 'customs/s1/gw-1/flag/high', 'ops/s1/gw-1/lane/L1/passage', 'ops/s1/gw-1/lane/L1/state']
>>> composed.customs_id == composed.event_hash + "#customs/r1", composed.decision
(True, 'go_to_bay')

Which messages, and in which order (each lane's order is kept by the outbox):

* :meth:`Composer.passage_event`: the ops CloudEvent of a passage ``new``/``update``/``end`` on
  ``ops/.../lane/{lane}/passage`` and the retained ``lane/{lane}/state`` (occupied, passage id, counts;
  never a decision: an open passage has none, and the previous truck's must not stay on it);
* :meth:`Composer.observation`: the EPCIS core in a CloudEvent on ``customs/.../observation/{lane}``
  (once per passage; its ``id`` is the CBV event hash);
* :meth:`Composer.enriched`: the observation if not composed yet, the customs record on
  ``customs/.../enriched/{lane}``, each flag on ``customs/.../flag/{severity}``, the minimised
  projection on ``{sps|cites}/.../referral/{lane}`` when routing names that agency, the ops decision
  on the passage topic, and the lane state with the decision, unless the lane shows another truck by
  now (occupied, or a passage that closed later: a late revision must not put its decision there);
* :meth:`Composer.passage_end`: what the service publishes when a passage closes: the ``end`` event, then
  what :meth:`~Composer.enriched` (or, without a result, :meth:`~Composer.observation`) composes, with
  one lane state (``occupied: false`` and the decision together);
* :meth:`Composer.lane_state` and :meth:`Composer.remove_lane`: the retained lane state, or its removal
  (:meth:`Composer.set_lanes` takes the lanes of a reloaded configuration).

The blocks of the customs record are the enrichment's own classes serialised by pydantic (see
:mod:`gateway.enrichment.result`); the record is built as wire-form dicts (no payload models on this
path: it is the hot one) and the tests validate every payload against the committed JSON Schemas.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.config.mqtt import MqttConfig
from gateway.enrichment.result import Decision, EnrichmentResult
from gateway.lane.passage import Passage, PassageEvent, VehicleEvidence
from gateway.publishing import cloudevents as ce
from gateway.publishing.epcis import EpcisContext, PassageEvents, build_events, format_time
from gateway.publishing.outbox import OutboxMessage
from gateway.publishing.payloads import JSON, SOFTWARE
from gateway.publishing.projections import project, project_passage
from gateway.publishing.topics import Topics

log = logging.getLogger(__name__)

SPS_AGENCIES = frozenset({"SPS", "VET", "PHYTO", "PLANT", "ANIMAL", "FOOD", "FEED", "BIP", "BCP"})
CITES_AGENCIES = frozenset({"CITES"})
OBSERVED_PASSAGES = 4096  # recent passages whose EPCIS events are kept for the next revision
# the blocks of an EnrichmentResult that the customs record carries (see gateway.enrichment.result)
_RECORD_BLOCKS = {"links", "products", "parties", "flags", "routing", "rules_version", "master_data", "lane_decision"}
# keyword of lane_state() -> wire name in LaneState
_LANE_FIELDS = {"state": "state", "occupied": "occupied", "passage_id": "passageId", "counts": "counts",
                "decision": "decision", "detail": "detail"}
_json = ce.encode_json


@dataclass(frozen=True, slots=True)
class Composed:
    """What one call composed: the messages to store (in this order) and what they say."""

    messages: list[OutboxMessage] = field(default_factory=list)
    event_hash: str | None = None  # the record's key: the CBV event hash, or the passage key (no EPCIS)
    customs_id: str | None = None  # CloudEvents id of the customs record (None: no record)
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class _Lane:
    id: str
    source: str  # CloudEvents source: the lane read point
    passage: str  # topics
    state: str
    observation: str
    enriched: str
    referral: dict[str, str]


class _Observed:
    """A passage's EPCIS events and their document, serialised once; ``announced`` once composed."""

    __slots__ = ("announced", "document", "events")

    def __init__(self, events: PassageEvents, document: ce.RawJson) -> None:
        self.events, self.document, self.announced = events, document, False


class Composer:
    """One gateway's messages, composed from its lanes' passages and their enrichment.  Not thread-safe:
    one caller at a time (the :class:`~gateway.publishing.publisher.Publisher` holds a lock)."""

    def __init__(self, mqtt: MqttConfig, *, site: str, gateway: str, lanes: Mapping[str, EpcisContext],
                 software: str = SOFTWARE) -> None:
        self.cfg = mqtt
        self.site, self.gateway, self.software = site, gateway, software
        self.topics = Topics(site, gateway, mqtt.base_topic)
        self.contexts = dict(lanes)
        self._lanes: dict[str, _Lane] = {}
        self._lane_state: dict[str, dict[str, Any]] = {}
        self._lane_closed: dict[str, float] = {}  # when the passage the lane state shows closed
        self._observed: collections.OrderedDict[str, _Observed] = collections.OrderedDict()

    # -- the passage path --------------------------------------------------------------------------

    def passage_event(self, event: PassageEvent, now: float) -> list[OutboxMessage]:
        """Lane lifecycle (``new``/``update``/``end``) for ops, and the retained lane state."""
        p = event.passage
        summary = passage_summary(p)
        if event.kind == "end" and p.closed_at is not None:
            self._lane_closed[p.lane] = p.closed_at
        state = self.lane_state(p.lane, now, occupied=event.kind != "end", passage_id=p.id, counts=summary["counts"],
                                decision=None)
        return [self._passage_message(event, summary), state]

    def passage_end(self, event: PassageEvent, result: EnrichmentResult | None, revision: int,
                    now: float) -> Composed:
        """A passage's ``end`` and everything it leads to (``result`` ``None``: enrichment failed).

        The same messages as :meth:`passage_event` followed by :meth:`enriched` (or :meth:`observation`),
        except that the retained lane state is composed once, with ``occupied: false`` and the decision
        together.  A record that cannot be composed (a bug) must not lose the passage: it is logged and the
        observation goes out instead.
        """
        p = event.passage
        summary = passage_summary(p)
        messages = [self._passage_message(event, summary)]
        record = Composed()
        if result is not None:
            try:
                record = self._enriched(p, result, revision, summary, now)
            except Exception:
                log.exception("could not build the enriched record of passage %s: publishing its observation",
                              p.id)
                self._observed.pop(p.id, None)  # composed but never stored: compose it again below
                result = None
        if result is None:
            record = self._observation(p, (), summary, now)
        messages += record.messages
        if p.closed_at is not None:
            self._lane_closed[p.lane] = p.closed_at
        # None (no record) clears the field: the decision shown is this passage's or none
        messages.append(self.lane_state(p.lane, now, occupied=False, passage_id=p.id, counts=summary["counts"],
                                        decision=record.decision))
        return Composed(messages, record.event_hash, record.customs_id, record.decision)

    def observation(self, passage: Passage, mrns: Sequence[str], now: float) -> Composed:
        """The EPCIS observation of a closed passage (no messages: nothing read, or already composed).

        The first call for a passage fixes its core event (with the MRNs known then).
        """
        return self._observation(passage, mrns, passage_summary(passage), now)

    def enriched(self, passage: Passage, result: EnrichmentResult, revision: int, now: float,
                 lane_state: bool = True) -> Composed:
        """The enriched record of ``revision`` with its projections and the lane state with the decision
        (no messages when the passage has nothing to observe; no lane state when the lane shows another
        truck by now, see :meth:`_decided_state`, or with ``lane_state=False``)."""
        summary = passage_summary(passage)
        record = self._enriched(passage, result, revision, summary, now)
        if record.customs_id is None:
            return record
        state = self._decided_state(passage, record.decision, summary["counts"], now) if lane_state else None
        messages = [*record.messages, state] if state is not None else record.messages
        return Composed(messages, record.event_hash, record.customs_id, record.decision)

    def observe(self, passage: Passage, mrns: Sequence[str], now: float) -> str | None:
        """The key of the passage's record: the event hash of its observation (composed now with ``mrns``
        unless known), or, for a passage that carried no GS1 identifier (a vehicle seen by loops and cameras
        only: no EPCIS event), :meth:`passage_key`; so that the caller can choose the revision of a record
        before composing it."""
        observed = self._observe(passage, mrns, now)
        return observed.events.event_hash if observed is not None else self.passage_key(passage)

    def recall(self, passage: Passage, mrns: Sequence[str], now: float) -> str | None:
        """A passage whose observation went out earlier (before a restart, or evicted from the recent ones):
        its events composed again with the MRNs of its first record (the same event hash) and marked as
        sent, so that the next revision refers to it without sending it again."""
        observed = self._observe(passage, mrns, now)
        if observed is None:
            return self.passage_key(passage)
        observed.announced = True
        return observed.events.event_hash

    def shows(self, passage: Passage) -> bool:
        """Whether the lane's state shows ``passage`` closed (no truck in the lane since, nothing closed after
        it): only then does a later revision's decision reach the lane.  ``False`` when this composer has not
        published the lane's state (after a restart: what the lane shows is not known here)."""
        state = self._lane_state.get(passage.lane)
        return state is not None and state["passageId"] == passage.id and not state["occupied"]

    def passage_key(self, passage: Passage) -> str:
        """What identifies the record of a passage without an EPCIS event (its CloudEvents ids derive from it):
        deterministic, like an event hash, from the gateway and the passage id."""
        return f"urn:bx:passage:{self.site}:{self.gateway}:{passage.id}"

    # -- the retained lane state ------------------------------------------------------------------------

    def lane_state(self, lane: str, now: float, **changes: Any) -> OutboxMessage:
        """The retained lane state after ``changes`` (``None`` clears a field), as an outbox message."""
        state = self._lane_state.get(lane)
        if state is None:
            state = self._lane_state[lane] = {"lane": lane, "state": "open", "occupied": False, "passageId": None,
                                              "counts": {}, "decision": None, "detail": None, "time": None}
        for key, value in changes.items():
            state[_LANE_FIELDS[key]] = value
        state["time"] = format_time(now)
        body = {k: v for k, v in state.items() if v is not None}
        props: dict[str, object] = {"content_type": JSON, "expiry": self.cfg.expiry.lane_state_s,
                                    "user": [["schema", "bx.lane-state.v1"], ["audience", "ops"], ["gw", self.gateway]]}
        return OutboxMessage(self._lane(lane).state, _json(body), qos=self.cfg.qos, retain=True, props=props,
                             lane=lane)

    def set_lanes(self, lanes: Mapping[str, EpcisContext]) -> None:
        """The configured lanes changed (a configuration reload): their contexts, and per-lane constants anew."""
        self.contexts = dict(lanes)
        self._lanes.clear()

    def _decided_state(self, passage: Passage, decision: Decision | None, counts: dict[str, int],
                       now: float) -> OutboxMessage | None:
        """The lane state showing a closed passage and its decision; ``None`` when the lane shows another
        truck by now: one in the lane (an open passage has no decision), or one that closed later."""
        state = self._lane_state.get(passage.lane)
        if passage.closed_at is None or (state is not None and state["occupied"]):
            return None
        shown = self._lane_closed.get(passage.lane)
        if state is not None and state["passageId"] != passage.id and shown is not None and passage.closed_at < shown:
            return None
        self._lane_closed[passage.lane] = passage.closed_at
        return self.lane_state(passage.lane, now, occupied=False, passage_id=passage.id, counts=counts,
                               decision=decision)

    def remove_lane(self, lane: str) -> OutboxMessage:
        """The empty retained message that clears a removed lane's state, and the lane forgotten."""
        self._lane_state.pop(lane, None)
        self._lane_closed.pop(lane, None)
        return OutboxMessage(self.topics.lane_state(lane), b"", qos=self.cfg.qos, retain=True, lane=lane)

    # -- building ---------------------------------------------------------------------------------------

    def _passage_message(self, event: PassageEvent, summary: dict[str, Any]) -> OutboxMessage:
        p = event.passage
        lane = self._lane(p.lane)
        time_ = format_time(event.time)
        data = {"kind": event.kind, "time": time_, "passage": project_passage(summary, "ops")}
        return self._event(lane, "passage", lane.passage, id=f"{lane.source}#passage/{p.id}/{event.kind}/"
                           f"{int(event.time * 1000)}", time=time_, schema="bx.passage.v1", data=data,
                           audience="ops", expiry=self.cfg.expiry.ops_s, correlation=p.id)

    def _observe(self, passage: Passage, mrns: Sequence[str], now: float) -> _Observed | None:
        known = self._observed.get(passage.id)
        if known is not None:
            return known
        try:
            events = build_events(passage, self._context(passage.lane), mrns=mrns)
        except ValueError:
            return None
        # Serialised once: the observation and every enriched revision embed these bytes.
        known = self._observed[passage.id] = _Observed(events, ce.RawJson(_json(events.document(now))))
        while len(self._observed) > OBSERVED_PASSAGES:
            self._observed.popitem(last=False)
        return known

    def _observation(self, passage: Passage, mrns: Sequence[str], summary: dict[str, Any], now: float) -> Composed:
        observed = self._observe(passage, mrns, now)
        if observed is None:
            return Composed()
        events = observed.events
        if observed.announced:
            return Composed([], events.event_hash)
        observed.announced = True
        lane = self._lane(passage.lane)
        data = {"audience": "customs", "observation": {"eventHash": events.event_hash, "epcis": observed.document},
                "passage": summary}
        subject = f"mrn:{sorted(mrns)[0]}" if mrns else None
        message = self._event(lane, "lane.observation", lane.observation, id=events.event_hash,
                              time=events.object_event["eventTime"], schema="bx.observation.v1", data=data,
                              audience="customs", expiry=self.cfg.expiry.customs_s, subject=subject,
                              correlation=passage.id)
        return Composed([message], events.event_hash)

    def _enriched(self, passage: Passage, result: EnrichmentResult, revision: int, summary: dict[str, Any],
                  now: float) -> Composed:
        """The record's messages without the lane state (none when the passage has nothing to observe)."""
        mrns = result.mrns
        first = self._observation(passage, mrns, summary, now)
        observed = self._observed.get(passage.id)
        if observed is None:  # nothing read, only seen (loops, plates): a record all the same, without EPCIS
            event_hash = self.passage_key(passage)
            observation: dict[str, Any] = {}
            time_ = format_time(passage.closed_at if passage.closed_at is not None else passage.opened_at)
        else:
            event_hash = observed.events.event_hash
            observation = {"eventHash": event_hash, "epcis": observed.document}
            time_ = observed.events.object_event["eventTime"]
        blocks = result.model_dump(mode="json", by_alias=True, exclude_none=True, include=_RECORD_BLOCKS)
        provenance: dict[str, Any] = {"gatewayId": self.gateway, "software": self.software}
        if "rulesVersion" in blocks:
            provenance["rulesVersion"] = blocks["rulesVersion"]
        provenance["masterData"] = blocks["masterData"]
        decision = result.decision
        record: dict[str, Any] = {
            "audience": "customs", "revision": revision, "observation": observation,
            "passage": summary, "decision": decision,
            "links": blocks["links"], "products": blocks["products"], "parties": blocks["parties"],
            "flags": blocks["flags"], "routing": blocks["routing"], "provenance": provenance,
        }
        if "laneDecision" in blocks:  # decisions configured: what the lane was told, and why
            record["laneDecision"] = blocks["laneDecision"]
        lane = self._lane(passage.lane)
        subject = f"mrn:{mrns[0]}" if mrns else None
        expiry = self.cfg.expiry
        customs_id = ce.projection_id(event_hash, "customs", revision)
        messages = list(first.messages)
        messages.append(self._event(lane, "lane.enriched", lane.enriched, id=customs_id, time=time_,
                                    schema="bx.enriched.v1", data=project(record, "customs"), audience="customs",
                                    expiry=expiry.customs_s, subject=subject, correlation=passage.id))
        for flag in record["flags"]:
            data = {"audience": "customs", **({"eventHash": event_hash} if observed is not None else {}),
                    "lane": passage.lane, "passageId": passage.id, "flag": flag}
            messages.append(self._event(lane, "lane.flag", self.topics.flag(flag["severity"]),
                                        id=ce.flag_id(event_hash, flag["code"], revision), time=time_,
                                        schema="bx.flag.v1", data=data, audience="customs",
                                        expiry=expiry.flag_s, subject=subject, correlation=passage.id))
        agencies = {str(r["agency"]).upper() for r in record["routing"]}
        for audience, names in (("sps", SPS_AGENCIES), ("cites", CITES_AGENCIES)):
            if agencies & names:
                messages.append(self._event(
                    lane, f"lane.referral.{audience}", lane.referral[audience],
                    id=ce.projection_id(event_hash, audience, revision), time=time_,
                    schema=f"bx.referral.{audience}.v1", data=project(record, audience),  # type: ignore[arg-type]
                    audience=audience, expiry=expiry.agency_s, subject=subject, correlation=passage.id))
        messages.append(self._event(lane, "lane.decision", lane.passage,
                                    id=ce.projection_id(event_hash, "ops", revision), time=time_,
                                    schema="bx.ops.decision.v1", data=project(record, "ops"), audience="ops",
                                    expiry=expiry.ops_s, correlation=passage.id))
        return Composed(messages, event_hash, customs_id, decision)

    def _event(self, lane: _Lane, kind: str, topic: str, *, id: str, time: str, schema: str, data: Any,
               audience: str, expiry: int, subject: str | None = None,
               correlation: str | None = None) -> OutboxMessage:
        prefix = self.cfg.epcis.event_type_prefix
        payload = ce.envelope(type_prefix=prefix, kind=kind, source=lane.source, id=id, time=time,
                              schema_base=self.cfg.epcis.schema_base, schema=schema, data=data, subject=subject)
        user = [["schema", schema], ["audience", audience], ["gw", self.gateway], ["ce_type", f"{prefix}.{kind}.v1"],
                ["ce_id", id]]
        if subject:
            user.append(["ce_subject", subject])
        props: dict[str, object] = {"content_type": ce.CONTENT_TYPE, "expiry": expiry, "user": user}
        if correlation is not None:
            props["correlation"] = correlation
        return OutboxMessage(topic, payload, qos=self.cfg.qos, retain=False, props=props, lane=lane.id)

    def _context(self, lane: str) -> EpcisContext:
        ctx = self.contexts.get(lane)
        if ctx is None:
            epcis = self.cfg.epcis
            ctx = self.contexts[lane] = EpcisContext(lane=lane, timezone=epcis.timezone, vocabulary=epcis.vocabulary,
                                                     mrn_uri=epcis.mrn_uri)
        return ctx

    def _lane(self, lane: str) -> _Lane:
        """Per-lane constants (topics, source), computed once."""
        known = self._lanes.get(lane)
        if known is None:
            ctx = self._context(lane)
            t = self.topics
            known = self._lanes[lane] = _Lane(
                id=lane, source=ctx.read_point or f"urn:bx:{self.site}:{self.gateway}:lane:{lane}",
                passage=t.passage(lane), state=t.lane_state(lane), observation=t.observation(lane),
                enriched=t.enriched(lane), referral={a: t.referral(a, lane) for a in ("sps", "cites")})
        return known


def passage_summary(p: Passage) -> dict[str, Any]:
    """A passage without its identifiers (:class:`~gateway.publishing.payloads.PassageSummary`, wire form).

    >>> from gateway.lane.passage import Passage
    >>> passage_summary(Passage("p-1", "L1", "inbound", "open", 1_740_824_090.0))
    {'id': 'p-1', 'lane': 'L1', 'direction': 'inbound', 'state': 'open', 'openedAt': '2025-03-01T10:14:50.000Z', \
'counts': {}, 'triggers': []}
    """
    out: dict[str, Any] = {"id": p.id, "lane": p.lane, "direction": p.direction, "state": p.state,
                           "openedAt": format_time(p.opened_at)}
    if p.closed_at is not None:
        out["closedAt"] = format_time(p.closed_at)
    if p.close_reason is not None:
        out["closeReason"] = p.close_reason
    out["counts"] = p.counts()
    out["triggers"] = list(p.triggers)
    if p.vehicle:
        out["vehicle"] = [vehicle_seen(v) for v in p.vehicle]
    return out


def vehicle_seen(v: VehicleEvidence) -> dict[str, Any]:
    """One plate or container code of a passage (:class:`~gateway.publishing.payloads.VehicleSeen`, wire form)."""
    out: dict[str, Any] = {"kind": v.kind, "value": v.value, "text": v.text}
    if v.confidence is not None:
        out["confidence"] = v.confidence
    if v.country is not None:
        out["country"] = v.country
    out.update(positions=list(v.positions), reads=v.reads, sources=list(v.sources))
    if v.error is not None:
        out["error"] = v.error
    if v.candidates:
        out["candidates"] = [list(c) for c in v.candidates]
    if v.image_ref is not None:
        out["imageRef"] = v.image_ref
    return out
