"""The publishing entry point used by the service: passages in, MQTT messages out, nothing lost.

Usage (from the service)::

    pub = Publisher.from_site(site_config)
    pub.start()                                   # connects in the background; birth + capabilities
    pub.publish_passage_event(event)              # ops .../lane/{lane}/passage + retained lane state
    pub.publish_enriched(passage, result)         # observation, enriched, flags, referrals, ops decision
    pub.publish_passage_end(event, result)        # the end event and all of the above: one commit
    pub.outbox.depth(), pub.outbox.oldest_age()   # metrics
    pub.stop()                                    # publishes "offline", flushes what it can

Every ``publish_*`` call commits its messages to the SQLite outbox (one statement) and then hands
them to paho in row order (per-lane order follows), from the calling thread when no other thread
is sending, else through the sender thread.  A row is deleted after its PUBACK: the sender thread
commits the deletions in batches (SQLite runs without the GIL, so a batch overlaps with the next
call's Python work); until then a crash only re-sends, with the same ids.  After a broker outage
paho re-sends what was in flight; after a crash the next start replays every row still on disk,
byte for byte, in row order.

Durability, and what it costs (``benchmarks/bench_publishing.py`` measures both modes against a
bare paho QoS 1 loop in the same run):

* ``durability="call"`` (the default; configured by ``mqtt.outbox.durability``): a call returns
  once its messages are committed.  Every guarantee holds at the call boundary: a passage whose
  ``publish_*`` returned survives a SIGKILL the next instant.  One SQLite commit per call.
* ``durability="group"``: a call only queues its messages; the sender thread commits everything
  queued meanwhile in one statement, then publishes it (group commit).  Nothing is published before
  it is on disk, ids and order are the same, but a SIGKILL loses the calls of the last few
  milliseconds that had returned and were not committed yet -- as it loses the reads the lane
  engine was holding in memory anyway.  It spends less CPU per message (fewer commits, and the
  caller only builds), so choose it when the publishing rate matters more than that window.

Where the CPU goes (per enriched record of 4 messages): building the EPCIS events and their CBV
hash, the CloudEvents and the projections (wire-form dicts, no pydantic; JSON by orjson, the EPCIS
document serialised once and embedded as bytes in the observation and every enriched revision),
one SQLite commit, and paho (MQTT 5 properties pre-encoded, :class:`~.mqtt_client.PackedProperties`).
:mod:`payloads` stays the contract, and the tests validate every payload against the committed
schemas generated from it.

The retained status (``ops/{site}/{gw}/status``) also carries the health of every reader and camera
(:meth:`publish_source_status`: ok / degraded / down / connecting, a sanitised detail and since
when), re-published whenever one changes state, and the outbox's figures once it had to drop or
refuse messages (``reason: degraded``; also logged and counted in ``outbox.stats``).

Which messages a call produces:

* :meth:`publish_passage_event`: CloudEvent on ``ops/{site}/{gw}/lane/{lane}/passage`` and the
  retained ``lane/{lane}/state`` (occupied, passage id, counts).
* :meth:`publish_observation`: EPCIS core in a CloudEvent on ``customs/.../observation/{lane}``
  (once per passage).
* :meth:`publish_enriched`: the observation if not sent yet, the customs record on
  ``customs/.../enriched/{lane}``, each flag on ``customs/.../flag/{severity}``, the minimised
  projection on ``{sps|cites}/.../referral/{lane}`` when routing names that agency, and the ops
  decision (passage topic + lane state).
* :meth:`publish_passage_end`: what the service publishes when a passage closes: the ops ``end`` event,
  then what :meth:`publish_enriched` (or :meth:`publish_observation`) produces, with one lane state,
  in one outbox transaction.
* :meth:`publish_lane_state`: the retained lane state (open / closed / fault).
* :meth:`publish_source_status`: the retained gateway status with ``sources`` (not through the
  outbox: it is state, and the birth after the next CONNACK carries the latest).
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.config.mqtt import MqttConfig
from gateway.lane.passage import Passage, PassageEvent
from gateway.publishing import cloudevents as ce
from gateway.publishing.adapt import decide, wire_blocks
from gateway.publishing.epcis import EPCIS_CONTEXT, EpcisContext, PassageEvents, build_events, format_time
from gateway.publishing.mqtt_client import InboundMessage, MqttLink, Will
from gateway.publishing.outbox import DropReason, Outbox, OutboxMessage
from gateway.publishing.payloads import (
    Capabilities,
    CommandResponse,
    LaneInfo,
    SourceHealth,
    SourceHealthState,
    Status,
)
from gateway.publishing.projections import project
from gateway.publishing.redact import safe_detail
from gateway.publishing.topics import Topics

log = logging.getLogger(__name__)

SOFTWARE = "0.1.0"
JSON = "application/json"
SPS_AGENCIES = frozenset({"SPS", "VET", "PHYTO", "PLANT", "ANIMAL", "FOOD", "FEED", "BIP", "BCP"})
CITES_AGENCIES = frozenset({"CITES"})
ACK_LINGER_S = 0.005  # sender's poll while messages are in flight; commits deferred deletions after this pause
FLUSH_IDLE_S = 0.05  # the sender commits deferred deletions once writers paused this long ...
SENDER_DELETE_BATCH = 128  # ... or this many are waiting (before a writer's put would have to: see Outbox.put)
CHECKPOINT_S = 1.0  # the sender checkpoints the outbox's WAL this often (writers never do; each one fsyncs)
CommandHandler = Callable[[dict[str, Any]], dict[str, Any]]


class Publisher:
    """One gateway's MQTT output.  Thread-safe; ``publish_*`` never block on the network."""

    def __init__(self, *, mqtt: MqttConfig, site: str, gateway: str, lanes: Mapping[str, EpcisContext],
                 outbox_path: Path, lane_names: Mapping[str, str | None] | None = None,
                 client_id: str | None = None, software: str = SOFTWARE, window: int = 1000,
                 max_inflight: int = 100, durability: Literal["call", "group"] | None = None,
                 asyncapi_url: str | None = None) -> None:
        self.cfg = mqtt
        self.site, self.gateway = site, gateway
        self.topics = Topics(site, gateway, mqtt.base_topic)
        self.lanes = dict(lanes)
        self.lane_names = dict(lane_names or {})
        self.software = software
        self.asyncapi_url = asyncapi_url
        self.window = window
        self.durability = durability or mqtt.outbox.durability  # argument, else mqtt.outbox.durability
        self._queue: collections.deque[tuple[list[OutboxMessage], Mapping[str, int] | None]] = collections.deque()
        self.outbox = Outbox(outbox_path, max_messages=mqtt.outbox.max_messages,
                             max_age_s=mqtt.outbox.max_age_s, when_full=mqtt.outbox.when_full,
                             on_drop=self._on_drop)
        self.link = MqttLink(
            mqtt, client_id or mqtt.client_id or f"bx-{site}-{gateway}",
            will=Will(self.topics.status, Status(state="offline", site=site, gateway=gateway, reason="lwt").to_json()),
            birth=self._birth, on_connected=self._on_connected, on_ack=self._on_ack, max_inflight=max_inflight)
        self._acks: collections.deque[tuple[int, bool]] = collections.deque()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id (under _send_lock)
        self._send_lock = threading.Lock()
        self._last_handed = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._sender: threading.Thread | None = None
        self._lock = threading.Lock()
        # passage id -> its EPCIS events and their document, serialised once (observation, every revision)
        self._observed: collections.OrderedDict[str, tuple[PassageEvents, ce.RawJson]] = collections.OrderedDict()
        self._lane_state: dict[str, dict[str, Any]] = {}
        self._sources: dict[str, SourceHealth] = {}  # reader/camera id -> health (under _lock)
        self._lanes: dict[str, _Lane] = {}
        self._commands: dict[str, CommandHandler] = {"ping": lambda _: {"pong": True}}
        self.rejected_by_broker = 0
        self.degraded: str | None = None

    @classmethod
    def from_site(cls, site: Any, **kwargs: Any) -> Publisher:
        """Build from a :class:`gateway.config.site.SiteConfig`."""
        epcis = site.mqtt.epcis
        lanes = {
            lane.id: EpcisContext(lane=lane.id, read_point_gln=lane.read_point_gln, timezone=epcis.timezone,
                                  vocabulary=epcis.vocabulary, mrn_uri=epcis.mrn_uri,
                                  biz_step=epcis.biz_steps.get(lane.id))
            for lane in site.lanes
        }
        path = site.mqtt.outbox.path or Path(site.storage.path) / "outbox.sqlite"
        return cls(mqtt=site.mqtt, site=site.site, gateway=site.gateway, lanes=lanes, outbox_path=path,
                   lane_names={lane.id: lane.name for lane in site.lanes}, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start replaying the outbox."""
        self._stopping.clear()
        self.link.subscribe(self.topics.commands, self._on_command)
        self._sender = threading.Thread(target=self._send_loop, name="bx-publisher", daemon=True)
        self._sender.start()
        self.link.start()

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Wait up to ``flush_timeout`` for the outbox to drain, publish ``offline``, disconnect."""
        deadline = time.monotonic() + flush_timeout
        while ((self.outbox.depth() or self._queue) and self.link.connected.is_set()
               and time.monotonic() < deadline):
            self._wake.set()
            time.sleep(0.02)
        self._stopping.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(5)
        self._commit_queued()  # a call that raced with stop(): on disk, sent at the next start
        offline = Status(state="offline", site=self.site, gateway=self.gateway, time=_now(), reason="shutdown")
        self.link.stop(offline.to_json())
        self.outbox.close()

    def wait_idle(self, timeout: float) -> bool:
        """True once every stored message has been acknowledged (tests, benchmarks, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0 and not self._queue:
                return True
            self._wake.set()
            time.sleep(0.01)
        return self.outbox.depth() == 0 and not self._queue

    # -- public API ------------------------------------------------------------------------------

    def publish_passage_event(self, event: PassageEvent) -> None:
        """Lane lifecycle (``new``/``update``/``end``) for ops, and the retained lane state."""
        p = event.passage
        summary = _summary(p)
        state = self._update_lane(p.lane, occupied=event.kind != "end", passage_id=p.id, counts=summary["counts"])
        self._store([self._passage_message(event, summary), state])

    def publish_passage_end(self, event: PassageEvent, result: Any | None) -> str | None:
        """A passage's ``end`` and everything it leads to, in ONE outbox transaction (one commit).

        The same messages as :meth:`publish_passage_event` followed by :meth:`publish_enriched` (or
        :meth:`publish_observation` when ``result`` is ``None``: enrichment failed), in that order, except
        that the retained lane state is written once, with ``occupied: false`` and the decision together:
        the two calls wrote it twice, and the first of those, superseded within milliseconds, still carried
        the previous passage's decision.  One commit instead of two is what makes this worth a method: the
        commit is the most expensive single step of publishing a passage.  Every guarantee is unchanged:
        the rows are committed before any of them reaches paho and deleted after their PUBACKs.

        A result the publisher cannot read (:class:`~.adapt.BadEnrichment`, or any bug while building the
        record) must not lose the passage: it is logged and the observation goes out instead.  Returns the
        CloudEvents id of the customs record (``None``: no record).
        """
        p = event.passage
        summary = _summary(p)
        messages = [self._passage_message(event, summary)]
        counters: dict[str, int] = {}
        customs_id = decision = None
        if result is not None:
            try:
                built, counters, customs_id, decision = self._enriched_messages(p, result, None, summary)
            except Exception:
                log.exception("could not build the enriched record of passage %s: publishing its observation",
                              p.id)
                with self._lock:  # built but never stored: build it again below
                    self._observed.pop(p.id, None)
                result = None
            else:
                messages += built
        if result is None:
            messages += self._observation(p, (), summary)[2]
        changes: dict[str, Any] = {"occupied": False, "passage_id": p.id, "counts": summary["counts"]}
        if decision is not None:
            changes["decision"] = decision
        messages.append(self._update_lane(p.lane, **changes))
        self._store(messages, counters)
        return customs_id

    def _passage_message(self, event: PassageEvent, summary: dict[str, Any]) -> OutboxMessage:
        """The ops CloudEvent of a passage ``new``/``update``/``end``."""
        p = event.passage
        lane = self._lane(p.lane)
        time_ = format_time(event.time)
        data = {"kind": event.kind, "time": time_, "passage": summary}
        return self._event(lane, "passage", lane.passage, id=f"{lane.source}#passage/{p.id}/{event.kind}/"
                           f"{int(event.time * 1000)}", time=time_, schema="bx.passage.v1", data=data,
                           audience="ops", expiry=self.cfg.expiry.ops_s, correlation=p.id)

    def publish_observation(self, passage: Passage, mrns: Sequence[str] = ()) -> str | None:
        """The EPCIS observation of a closed passage; returns its event hash (``None``: nothing read).

        Sent once per passage: the first call fixes the core event (with the MRNs known then).
        """
        events, _, messages = self._observation(passage, mrns, _summary(passage))
        if messages:
            self._store(messages)
        return events.event_hash if events else None

    def publish_enriched(self, passage: Passage, result: Any, revision: int | None = None) -> str | None:
        """Publish the enriched record and its projections; returns the CloudEvents id of the customs one.

        ``result`` is the enrichment's ``EnrichmentResult`` (or a mapping with ``links``, ``products``,
        ``parties``, ``flags``, ``routing``).  Each call for the same passage is a new revision
        (``{hash}#customs/r2`` ...), unless ``revision`` is given.

        The record is built as wire-form dicts (no pydantic on this path); the tests validate every
        payload against the committed JSON Schemas generated from :mod:`payloads`.
        """
        messages, counters, customs_id, decision = self._enriched_messages(passage, result, revision,
                                                                           _summary(passage))
        if customs_id is None:
            return None
        messages.append(self._update_lane(passage.lane, decision=decision))
        self._store(messages, counters)
        return customs_id

    def _enriched_messages(self, passage: Passage, result: Any, revision: int | None, summary: dict[str, Any],
                           ) -> tuple[list[OutboxMessage], dict[str, int], str | None, str | None]:
        """(messages, counters, customs id, decision) of :meth:`publish_enriched`, without the lane state;
        no messages and ``None`` ids when the passage has nothing to observe."""
        blocks = wire_blocks(result)
        mrns = sorted({link["mrn"] for link in blocks["links"]})
        events, document, messages = self._observation(passage, mrns, summary)
        if events is None or document is None:
            return [], {}, None, None
        counters: dict[str, int] = {}
        if revision is not None:
            rev = revision
        else:
            rev = counters[_REVISION + events.event_hash] = self.outbox.next_count(_REVISION + events.event_hash)
        lane = self._lane(passage.lane)
        provenance: dict[str, Any] = {"gatewayId": self.gateway, "software": self.software}
        if blocks.get("rules_version") is not None:
            provenance["rulesVersion"] = blocks["rules_version"]
        provenance["masterData"] = blocks.get("master_data", {})
        record: dict[str, Any] = {
            "audience": "customs", "revision": rev,
            "observation": {"eventHash": events.event_hash, "epcis": document},
            "passage": summary, "decision": blocks.get("decision") or decide(blocks),
            "links": blocks["links"], "products": blocks["products"], "parties": blocks["parties"],
            "flags": blocks["flags"], "routing": blocks["routing"], "provenance": provenance,
        }
        event_hash = events.event_hash
        time_ = events.object_event["eventTime"]
        subject = f"mrn:{mrns[0]}" if mrns else None
        expiry = self.cfg.expiry
        customs_id = ce.projection_id(event_hash, "customs", rev)
        messages.append(self._event(lane, "lane.enriched", lane.enriched, id=customs_id, time=time_,
                                    schema="bx.enriched.v1", data=project(record, "customs"), audience="customs",
                                    expiry=expiry.customs_s, subject=subject, correlation=passage.id))
        for flag in record["flags"]:
            data = {"audience": "customs", "eventHash": event_hash, "lane": passage.lane, "passageId": passage.id,
                    "flag": flag}
            messages.append(self._event(lane, "lane.flag", self.topics.flag(flag["severity"]),
                                        id=ce.flag_id(event_hash, flag["code"], rev), time=time_,
                                        schema="bx.flag.v1", data=data, audience="customs",
                                        expiry=expiry.flag_s, subject=subject, correlation=passage.id))
        agencies = {str(r["agency"]).upper() for r in record["routing"]}
        for audience, names in (("sps", SPS_AGENCIES), ("cites", CITES_AGENCIES)):
            if agencies & names:
                messages.append(self._event(
                    lane, f"lane.referral.{audience}", lane.referral[audience],
                    id=ce.projection_id(event_hash, audience, rev), time=time_,
                    schema=f"bx.referral.{audience}.v1", data=project(record, audience),  # type: ignore[arg-type]
                    audience=audience, expiry=expiry.agency_s, subject=subject, correlation=passage.id))
        messages.append(self._event(lane, "lane.decision", lane.passage,
                                    id=ce.projection_id(event_hash, "ops", rev), time=time_,
                                    schema="bx.ops.decision.v1", data=project(record, "ops"), audience="ops",
                                    expiry=expiry.ops_s, correlation=passage.id))
        return messages, counters, customs_id, record["decision"]

    def publish_lane_state(self, lane: str, state: Literal["open", "closed", "fault"] = "open",
                           detail: str | None = None) -> None:
        """Retained lane state with message expiry (a dead lane does not show a stale vehicle)."""
        self._store([self._update_lane(lane, state=state, detail=detail)])

    def publish_source_status(self, source: str, state: str, detail: str | None = None) -> None:
        """A reader or camera changed state: update ``sources`` in the retained gateway status.

        ``state`` is the driver's (:data:`gateway.reads.SourceState`), folded into ok / degraded / down /
        connecting; the status is re-published (retained) when the folded state changes.  ``detail``
        comes from the driver and passes through :func:`~gateway.publishing.redact.safe_detail` first
        (no identifiers, no credentials on a retained topic).
        """
        now = _now()
        with self._lock:
            previous = self._sources.get(source)
            folded = _fold_source_state(state, previous.state if previous else None)
            changed = previous is None or previous.state != folded
            self._sources[source] = SourceHealth(state=folded, detail=safe_detail(detail) or None,
                                                 since=now if changed or previous is None else previous.since)
        if changed:
            self._publish_status(self._status("source"))

    def source_health(self) -> dict[str, SourceHealth]:
        """Every source's health as the status topic shows it."""
        with self._lock:
            return dict(self._sources)

    def remove_lane(self, lane: str) -> None:
        """Clear the lane's retained state (empty retained publish)."""
        self._store([OutboxMessage(self.topics.lane_state(lane), b"", qos=self.cfg.qos, retain=True, lane=lane)])
        self._lane_state.pop(lane, None)

    def on_command(self, name: str, handler: CommandHandler) -> None:
        """Serve ``cmd/{site}/{gw}/{name}``: ``handler(request) -> result`` (exceptions become errors)."""
        self.topics.command(name)
        self._commands[name] = handler

    # -- building messages -------------------------------------------------------------------------

    def _ctx(self, lane: str) -> EpcisContext:
        ctx = self.lanes.get(lane)
        if ctx is None:
            ctx = self.lanes[lane] = EpcisContext(lane=lane, timezone=self.cfg.epcis.timezone,
                                                  vocabulary=self.cfg.epcis.vocabulary,
                                                  mrn_uri=self.cfg.epcis.mrn_uri)
        return ctx

    def _lane(self, lane: str) -> _Lane:
        """Per-lane constants (topics, source), computed once."""
        known = self._lanes.get(lane)
        if known is None:
            ctx = self._ctx(lane)
            t = self.topics
            known = self._lanes[lane] = _Lane(
                id=lane, source=ctx.read_point or f"urn:bx:{self.site}:{self.gateway}:lane:{lane}",
                passage=t.passage(lane), state=t.lane_state(lane), observation=t.observation(lane),
                enriched=t.enriched(lane), referral={a: t.referral(a, lane) for a in ("sps", "cites")})
        return known

    def _source(self, lane: str) -> str:
        return self._lane(lane).source

    @staticmethod
    def _document(events: PassageEvents) -> ce.RawJson:
        """The EPCIS document, serialised once: the observation and each enriched revision embed these bytes."""
        return ce.RawJson(_json({"@context": [EPCIS_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
                                 "creationDate": _now(), "epcisBody": {"eventList": events.events}}))

    def _observation(self, passage: Passage, mrns: Sequence[str], summary: dict[str, Any],
                     ) -> tuple[PassageEvents | None, ce.RawJson | None, list[OutboxMessage]]:
        with self._lock:
            known = self._observed.get(passage.id)
            if known is not None:
                return known[0], known[1], []
            try:
                events = build_events(passage, self._ctx(passage.lane), mrns=mrns)
            except ValueError:
                return None, None, []
            document = self._document(events)
            self._observed[passage.id] = (events, document)
            while len(self._observed) > 4096:
                self._observed.popitem(last=False)
        lane = self._lane(passage.lane)
        data = {"audience": "customs", "observation": {"eventHash": events.event_hash, "epcis": document},
                "passage": summary}
        subject = f"mrn:{sorted(mrns)[0]}" if mrns else None
        message = self._event(lane, "lane.observation", lane.observation, id=events.event_hash,
                              time=events.object_event["eventTime"], schema="bx.observation.v1", data=data,
                              audience="customs", expiry=self.cfg.expiry.customs_s, subject=subject,
                              correlation=passage.id)
        return events, document, [message]

    def _event(self, lane: _Lane, kind: str, topic: str, *, id: str, time: str, schema: str, data: Any,
               audience: str, expiry: int, subject: str | None = None,
               correlation: str | None = None) -> OutboxMessage:
        ce_type = f"{self.cfg.epcis.event_type_prefix}.{kind}.v1"
        payload = ce.envelope(type_prefix=self.cfg.epcis.event_type_prefix, kind=kind, source=lane.source, id=id,
                              time=time, schema_base=self.cfg.epcis.schema_base, schema=schema, data=data,
                              subject=subject)
        user = [["schema", schema], ["audience", audience], ["gw", self.gateway], ["ce_type", ce_type],
                ["ce_id", id]]
        if subject:
            user.append(["ce_subject", subject])
        props: dict[str, object] = {"content_type": ce.CONTENT_TYPE, "expiry": expiry, "user": user}
        if correlation is not None:
            props["correlation"] = correlation
        return OutboxMessage(topic, payload, qos=self.cfg.qos, retain=False, props=props, lane=lane.id)

    def _update_lane(self, lane: str, **changes: Any) -> OutboxMessage:
        """The retained lane state after ``changes`` (``None`` clears a field), as an outbox message."""
        with self._lock:
            state = self._lane_state.get(lane)
            if state is None:
                state = self._lane_state[lane] = {"lane": lane, "state": "open", "occupied": False,
                                                  "passageId": None, "counts": {}, "decision": None,
                                                  "detail": None, "time": None}
            for key, value in changes.items():
                state[_LANE_FIELDS[key]] = value
            state["time"] = _now()
            body = {k: v for k, v in state.items() if v is not None}
        props: dict[str, object] = {"content_type": JSON, "expiry": self.cfg.expiry.lane_state_s,
                                    "user": [["schema", "bx.lane-state.v1"], ["audience", "ops"], ["gw", self.gateway]]}
        return OutboxMessage(self._lane(lane).state, _json(body), qos=self.cfg.qos, retain=True, props=props,
                             lane=lane)

    def _birth(self) -> tuple[str, bytes]:
        # After the outbox had to drop or refuse messages, every birth says so until the gateway restarts.
        return self.topics.status, self._status("degraded" if self.degraded else "startup").to_json()

    def _status(self, reason: Literal["startup", "degraded", "source"],
                outbox: Mapping[str, float] | None = None) -> Status:
        """The retained ``online`` status: outbox health when degraded, and every source's health."""
        with self._lock:
            sources = dict(self._sources) or None
        if outbox is None and self.degraded:
            outbox = self._outbox_metrics()
        return Status(state="online", site=self.site, gateway=self.gateway, time=_now(), reason=reason,
                      software=self.software, schemas=sorted(ce.SCHEMA_FILES),
                      outbox=dict(outbox) if outbox is not None else None, sources=sources,
                      connection=self.link.connection())

    def _publish_status(self, status: Status) -> None:
        # Straight to the client, not through the outbox: the status is retained state, and the birth
        # after the next CONNACK carries the latest one, so one missed while offline is not lost.
        if self.link.connected.is_set():
            self.link.publish(self.topics.status, status.to_json(), 1, True,
                              {"content_type": JSON, "user": [["schema", "bx.status.v1"], ["gw", self.gateway]]})

    def capabilities(self) -> Capabilities:
        return Capabilities(
            site=self.site, gateway=self.gateway, software=self.software,
            lanes=[LaneInfo(id=lane, name=self.lane_names.get(lane), read_point=ctx.read_point)
                   for lane, ctx in self.lanes.items()],
            schemas=sorted(ce.SCHEMA_FILES), asyncapi=self.asyncapi_url, protocol=self.link.protocol,
            qos=self.cfg.qos)

    def _outbox_metrics(self) -> dict[str, float]:
        s = self.outbox.stats
        return {"depth": self.outbox.depth(), "oldestAgeS": round(self.outbox.oldest_age(), 3),
                "dropped": s.dropped_full + s.dropped_age + s.rejected + self.rejected_by_broker}

    # -- callbacks -----------------------------------------------------------------------------------

    def _on_connected(self) -> None:
        caps = self.capabilities()
        self.link.publish(self.topics.capabilities, caps.to_json(), 1, True,
                          {"content_type": JSON, "user": [["schema", "bx.capabilities.v1"], ["gw", self.gateway]]})
        self._wake.set()

    def _on_ack(self, mid: int, ok: bool) -> None:
        # paho's thread, inside paho's locks: only note it.  Whoever holds _send_lock next (a writer
        # handing over, or the sender thread within ACK_LINGER_S) matches it to its row.
        self._acks.append((mid, ok))

    def _on_drop(self, reason: DropReason, count: int) -> None:
        # Never silent: the outbox already counted and logged; tell the consumers too.
        self.degraded = f"outbox_{reason}"
        self._publish_status(self._status("degraded", {**self._outbox_metrics(), "droppedNow": count}))

    def _on_command(self, message: InboundMessage) -> None:
        name = message.topic.rsplit("/", 1)[-1]
        error: str | None = None
        request: dict[str, Any] = {}
        try:
            parsed = json.loads(message.payload or b"{}")
            if not isinstance(parsed, dict):
                raise ValueError("request must be a JSON object")
            request = parsed
        except ValueError as exc:
            error = f"bad request: {exc}"
        response_topic: str | None = message.response_topic or request.get("responseTopic")
        correlation = message.correlation_data or str(request.get("correlationId", "")).encode() or None
        if not response_topic:
            log.warning("command %s without a response topic: ignored", name)
            return
        handler = self._commands.get(name)
        if error is None and handler is None:
            error = f"unknown command {name!r}"
        result = None
        if error is None and handler is not None:
            try:
                result = handler(request)
            except Exception as exc:  # the requester gets the error, the gateway keeps running
                error = f"{type(exc).__name__}: {exc}"
        reply = CommandResponse(ok=error is None, command=name, result=result, error=error)
        props: dict[str, object] = {"content_type": JSON, "expiry": self.cfg.expiry.command_s,
                                    "user": [["schema", "bx.command-response.v1"], ["gw", self.gateway]]}
        if correlation:
            props["correlation"] = correlation.decode("utf-8", "replace")
        body = reply.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self.link.protocol != "5" and correlation:
            body["correlationId"] = correlation.decode("utf-8", "replace")
        self.link.publish(response_topic, json.dumps(body).encode(), self.cfg.qos, False, props)

    # -- the sender ----------------------------------------------------------------------------------

    def _store(self, messages: list[OutboxMessage], counters: Mapping[str, int] | None = None) -> None:
        """Store ``messages``; nothing reaches paho before its outbox row is committed.

        ``durability="call"``: commit now (the call returns with the messages on disk), then hand them
        to paho from this thread if nobody else is sending (saves a thread switch per call).
        ``durability="group"`` (sender running): queue them; the sender thread commits everything
        queued meanwhile in one statement (group commit), then hands it over.
        """
        if self.durability == "group" and self._sender is not None and not self._stopping.is_set():
            self._queue.append((messages, counters))
            if not self._wake.is_set():
                self._wake.set()
            return
        self.outbox.put(messages, counters)
        if self._send_lock.acquire(blocking=False):
            try:
                self._send()
            finally:
                self._send_lock.release()
        else:
            self._wake.set()

    def _send_loop(self) -> None:
        last_expire = last_checkpoint = time.monotonic()
        outbox = self.outbox
        while not self._stopping.is_set():
            busy = self._inflight or self._acks or outbox.deferred_acks()
            self._wake.wait(ACK_LINGER_S if busy else 0.2)
            self._wake.clear()
            self._commit_queued()
            with self._send_lock:
                self._send()
            # Deletions are committed here, in batches, so that a writer's call only inserts: SQLite runs
            # without the GIL, so the DELETE overlaps with the writers building their next messages.
            if outbox.deferred_acks() and (outbox.idle_for() >= FLUSH_IDLE_S
                                           or outbox.deferred_acks() >= SENDER_DELETE_BATCH):
                outbox.flush_acks()
            if time.monotonic() - last_checkpoint > CHECKPOINT_S:
                last_checkpoint = time.monotonic()
                outbox.checkpoint()
            if time.monotonic() - last_expire > 60:
                last_expire = time.monotonic()
                outbox.expire()
        self._commit_queued()
        with self._send_lock:
            self._match_acks()
        outbox.flush_acks()

    def _commit_queued(self) -> None:
        """Group commit: everything queued by ``durability="group"`` writers, in one transaction."""
        batch: list[OutboxMessage] = []
        counters: dict[str, int] = {}
        while self._queue:
            messages, more = self._queue.popleft()
            batch += messages
            counters.update(more or {})
        if batch:
            try:
                self.outbox.put(batch, counters)
            except Exception:  # OutboxFull (reject_new) or a disk error: counted, reported, never silent
                log.exception("outbox refused %d queued message(s)", len(batch))

    def _send(self) -> None:
        """Match PUBACKs to rows, then hand over every committed row not handed yet, in row order
        (which keeps each lane's order).  Caller holds ``_send_lock``."""
        self._match_acks()
        if not self.link.connected.is_set():
            return
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        for row in self.outbox.take(after=self._last_handed, limit=room):
            try:
                mid = self.link.publish(row.topic, row.payload, row.qos, row.retain, row.props)
            except (RuntimeError, ValueError) as exc:
                log.warning("publish failed, will retry: %s", exc)
                break
            if row.qos == 0:
                self.outbox.ack([row.id], defer=True)  # QoS 0: no PUBACK will come
            else:
                self._inflight[mid] = row.id
            self._last_handed = row.id

    def _match_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            mid, ok = self._acks.popleft()
            row = self._inflight.pop(mid, None)
            if row is None:
                continue  # birth, capabilities, command responses: not outbox rows
            if not ok:
                self.rejected_by_broker += 1
                log.error("broker refused outbox row %d (not authorised?): dropped", row)
            done.append(row)
        self.outbox.ack(done, defer=True)


def _now() -> str:
    return format_time(time.time())


# driver state -> status topic state; "error" depends on what came before (see _fold_source_state)
_SOURCE_STATES: dict[str, SourceHealthState] = {"connected": "ok", "starting": "connecting",
                                                "reconnecting": "down", "stopped": "down"}


def _fold_source_state(state: str, previous: SourceHealthState | None) -> SourceHealthState:
    """Fold a driver's state into the four the status topic shows.

    ``error`` from a source that was delivering (a reader reporting trouble over a live connection)
    is ``degraded``; any other ``error`` (cannot open, driver failed before delivering) is ``down``.
    A driver that then gives up and reconnects reports ``reconnecting``, which is ``down``.

    >>> _fold_source_state("error", "ok"), _fold_source_state("error", "connecting"), _fold_source_state("x", None)
    ('degraded', 'down', 'down')
    """
    if state == "error":
        return "degraded" if previous in ("ok", "degraded") else "down"
    return _SOURCE_STATES.get(state, "down")


_json = ce.encode_json


@dataclass(frozen=True, slots=True)
class _Lane:
    id: str
    source: str  # CloudEvents source: the lane read point
    passage: str  # topics
    state: str
    observation: str
    enriched: str
    referral: dict[str, str]


# keyword of _update_lane -> wire name in LaneState
_LANE_FIELDS = {"state": "state", "occupied": "occupied", "passage_id": "passageId", "counts": "counts",
                "decision": "decision", "detail": "detail"}
_REVISION = "revision:"  # outbox counter key prefix: revision of the enrichment of one event hash


def _summary(p: Passage) -> dict[str, Any]:
    """:class:`PassageSummary` in wire form."""
    counts: dict[str, int] = {}
    for seen in p.identifiers:
        counts[seen.identifier.key_type] = counts.get(seen.identifier.key_type, 0) + 1
    out: dict[str, Any] = {"id": p.id, "lane": p.lane, "direction": p.direction, "state": p.state,
                           "openedAt": format_time(p.opened_at)}
    if p.closed_at is not None:
        out["closedAt"] = format_time(p.closed_at)
    if p.close_reason is not None:
        out["closeReason"] = p.close_reason
    out["counts"] = counts
    out["triggers"] = list(p.triggers)
    return out
