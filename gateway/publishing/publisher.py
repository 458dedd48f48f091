"""The publishing entry point used by the service: passages in, MQTT messages out, nothing lost.

Usage (from the service)::

    pub = Publisher.from_site(site_config)
    pub.start()                                   # connects in the background; birth + capabilities
    pub.publish_passage_event(event)              # ops .../lane/{lane}/passage + retained lane state
    pub.publish_passage_end(event, result)        # a closed passage and its EnrichmentResult: one commit
    pub.publish_source_status(status)             # a reader's or camera's SourceStatus -> retained status
    pub.set_lanes(lane_contexts(site), names)     # a reloaded configuration: removed lanes' state cleared
    pub.outbox_state(), pub.connected             # the API, the metrics
    pub.stop()                                    # flushes what it can, publishes "offline"

:class:`Publisher` is a thin, thread-safe shell around four parts, each its own module:

* :mod:`~gateway.publishing.compose` (:class:`~.compose.Composer`): the messages of a passage and its
  enrichment -- EPCIS document, CloudEvents, audience projections, lane state -- with no threads,
  sockets or clock;
* :mod:`~gateway.publishing.sender` (:class:`~.sender.Sender`): the durable outbox to the broker, the
  sender thread, PUBACKs and group commit (``durability`` ``call`` or ``group``);
* :mod:`~gateway.publishing.status` (:class:`~.status.GatewayStatus`): birth, Last Will, capabilities and
  each source's health on the retained status;
* :mod:`~gateway.publishing.commands` (:class:`~.commands.Commands`): ``cmd/{site}/{gw}/{name}`` requests
  and their replies.

The shell reads the clock, allocates the revision of each enriched record (a counter per event hash,
stored in the outbox with the record's messages, so revisions survive a restart) and moves messages
between the parts and the broker connection (:class:`~.mqtt_client.MqttLink`).

Where the CPU goes (per enriched record of 4 messages): building the EPCIS events and their CBV
hash, the CloudEvents and the projections (wire-form dicts, no payload models; JSON by orjson, the EPCIS
document serialised once and embedded as bytes in the observation and every enriched revision),
one SQLite commit, and paho (MQTT 5 properties pre-encoded, :class:`~.mqtt_client.PackedProperties`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from gateway.config.mqtt import MqttConfig
from gateway.enrichment.result import EnrichmentResult
from gateway.lane.passage import Passage, PassageEvent
from gateway.publishing.commands import Commands, Handler
from gateway.publishing.compose import Composed, Composer
from gateway.publishing.epcis import EpcisContext
from gateway.publishing.mqtt_client import InboundMessage, MqttLink
from gateway.publishing.outbox import DropReason, Outbox
from gateway.publishing.payloads import SOFTWARE, Capabilities, ConfigState, LaneInfo, SourceHealth, Status
from gateway.publishing.sender import Durability, Sender
from gateway.publishing.status import GatewayStatus
from gateway.reads import SourceStatus

log = logging.getLogger(__name__)

REVISION = "revision:"  # outbox counter key prefix: revision of the enrichment of one event hash


class Publisher:
    """One gateway's MQTT output.  Thread-safe; ``publish_*`` never block on the network."""

    def __init__(self, *, mqtt: MqttConfig, site: str, gateway: str, lanes: Mapping[str, EpcisContext],
                 outbox_path: Path, lane_names: Mapping[str, str | None] | None = None,
                 client_id: str | None = None, software: str = SOFTWARE, window: int = 1000,
                 max_inflight: int = 100, durability: Durability | None = None,
                 asyncapi_url: str | None = None) -> None:
        self.cfg = mqtt
        self.site, self.gateway = site, gateway
        self.composer = Composer(mqtt, site=site, gateway=gateway, lanes=lanes, software=software)
        self.topics = self.composer.topics
        self.lanes = self.composer.contexts  # lane id -> EPCIS context (a lane published unconfigured joins)
        self.lane_names = dict(lane_names or {})
        self.status = GatewayStatus(self.topics, qos=mqtt.qos, software=software, asyncapi_url=asyncapi_url,
                                    outbox_metrics=self._outbox_metrics,
                                    connection=lambda: self.link.connection())
        self.commands = Commands(self.topics, qos=mqtt.qos, expiry_s=mqtt.expiry.command_s)
        self.outbox = Outbox(outbox_path, max_messages=mqtt.outbox.max_messages, max_age_s=mqtt.outbox.max_age_s,
                             when_full=mqtt.outbox.when_full, on_drop=self._on_drop)
        self.link = MqttLink(mqtt, client_id or mqtt.client_id or f"bx-{site}-{gateway}", will=self.status.will(),
                             birth=self._birth, on_connected=self._on_connected, on_ack=self._on_ack,
                             max_inflight=max_inflight)
        self.sender = Sender(self.outbox, self.link, durability=durability or mqtt.outbox.durability, window=window,
                             classify=self.topics.topic_class)
        self._lock = threading.Lock()  # the composer: one caller at a time

    @classmethod
    def from_site(cls, site: Any, **kwargs: Any) -> Publisher:
        """Build from a :class:`gateway.config.site.SiteConfig`."""
        path = site.mqtt.outbox.path or Path(site.storage.path) / "outbox.sqlite"
        return cls(mqtt=site.mqtt, site=site.site, gateway=site.gateway, lanes=lane_contexts(site),
                   outbox_path=path, lane_names={lane.id: lane.name for lane in site.lanes}, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Clear the retained state of lanes gone since the last run, connect in the background and start
        replaying the outbox."""
        self._forget_lanes(self.outbox.lanes() - set(self.lanes))
        self.link.subscribe(self.commands.subscription, self._on_command)
        self.sender.start()
        self.link.start()

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Wait up to ``flush_timeout`` for the outbox to drain, publish ``offline``, disconnect."""
        self.sender.stop(flush_timeout)
        self.link.stop(self.status.offline(time.time()).to_json())
        self.outbox.close()

    def wait_idle(self, timeout: float) -> bool:
        """True once every stored message has been acknowledged (tests, benchmarks, shutdown)."""
        return self.sender.wait_idle(timeout)

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    def connection_state(self) -> dict[str, object]:
        """The broker connection for the dashboard: connected or not, and if not why (``reason``: a word of
        :func:`~gateway.publishing.mqtt_client.failure_reason`, or lost / closed), the failure in words
        (``error``, made safe) and since when (``since``, epoch seconds)."""
        link = self.link
        connected = link.connected.is_set()
        return {"connected": connected, "broker": link.broker.url,
                "reason": None if connected else link.last_reason,
                "error": None if connected else link.last_error,
                "since": None if connected else link.down_since}

    @property
    def durability(self) -> Durability:
        return self.sender.durability

    @durability.setter
    def durability(self, value: Durability) -> None:
        self.sender.durability = value

    @property
    def rejected_by_broker(self) -> int:
        return self.sender.rejected_by_broker

    @property
    def degraded(self) -> str | None:
        return self.status.degraded

    # -- passages -----------------------------------------------------------------------------------

    def publish_passage_event(self, event: PassageEvent) -> None:
        """Lane lifecycle (``new``/``update``/``end``) for ops, and the retained lane state."""
        with self._lock:
            messages = self.composer.passage_event(event, time.time())
        self.sender.store(messages)

    def publish_passage_end(self, event: PassageEvent, result: EnrichmentResult | None) -> str | None:
        """A passage's ``end`` and everything it leads to, in ONE outbox transaction (one commit).

        The end event with the enriched record and its projections, or with the observation alone when
        ``result`` is ``None`` (enrichment failed); see :meth:`.Composer.passage_end`.  One commit instead of
        two is what makes this worth a method: the commit is the most expensive single step of publishing a
        passage.  The rows are committed before any of them reaches paho and deleted after their PUBACKs.
        Returns the CloudEvents id of the customs record (``None``: no record).
        """
        now = time.time()
        with self._lock:
            revision = self._next_revision(event.passage, result, now) if result is not None else 0
            composed = self.composer.passage_end(event, result, revision, now)
        self.sender.store(composed.messages, self._counters(composed, revision))
        return composed.customs_id

    def publish_observation(self, passage: Passage, mrns: Sequence[str] = ()) -> str | None:
        """The EPCIS observation of a closed passage; returns its event hash (``None``: nothing read).

        Sent once per passage: the first call fixes the core event (with the MRNs known then).
        """
        with self._lock:
            composed = self.composer.observation(passage, mrns, time.time())
        if composed.messages:
            self.sender.store(composed.messages)
        return composed.event_hash

    def publish_enriched(self, passage: Passage, result: EnrichmentResult, revision: int | None = None, *,
                         lane_state: bool | None = True) -> str | None:
        """The enriched record and its projections; returns the CloudEvents id of the customs one.

        Each call for the same passage is the next revision (``{hash}#customs/r2`` ...: a re-enrichment
        after late data), unless ``revision`` is given.  The lane state shows the revision's decision while
        the lane still shows the passage (``lane_state=True``, see :meth:`.Composer.enriched`); with ``None``
        (late data) only when this publisher published that state itself, never after a restart
        (:meth:`.Composer.shows`); never with ``False``.
        """
        now = time.time()
        with self._lock:
            allocated = revision is None
            rev = self._next_revision(passage, result, now) if revision is None else revision
            show = self.composer.shows(passage) if lane_state is None else lane_state
            composed = self.composer.enriched(passage, result, rev, now, lane_state=show)
        if composed.customs_id is None:
            return None
        self.sender.store(composed.messages, self._counters(composed, rev) if allocated else None)
        return composed.customs_id

    def recall(self, passage: Passage, mrns: Sequence[str]) -> str | None:
        """Before :meth:`publish_enriched` for a passage closed earlier (late data, after a restart too): its
        observation is known again under the event hash it went out with (composed with ``mrns``, those of
        its first record) and is not sent again; returns that event hash."""
        with self._lock:
            return self.composer.recall(passage, mrns, time.time())

    def publish_lane_state(self, lane: str, state: Literal["open", "closed", "fault"] = "open",
                           detail: str | None = None) -> None:
        """Retained lane state with message expiry (a dead lane does not show a stale vehicle)."""
        with self._lock:
            message = self.composer.lane_state(lane, time.time(), state=state, detail=detail)
        self.sender.store([message])

    def remove_lane(self, lane: str) -> None:
        """Clear the lane's retained state (empty retained publish): the lane left the configuration."""
        with self._lock:
            message = self.composer.remove_lane(lane)
        self.sender.store([message])

    def set_lanes(self, lanes: Mapping[str, EpcisContext], names: Mapping[str, str | None]) -> list[str]:
        """The configured lanes changed (a reload): lanes gone have their retained state cleared (after
        whatever was stored for them before), the capabilities are published again; returns the lanes gone.

        Call it after the lane engine closed the removed lanes' passages: the clearing message then follows
        their last lane state in the outbox.
        """
        with self._lock:
            gone = sorted(set(self.lanes) - set(lanes))
            self.composer.set_lanes(lanes)
            self.lanes = self.composer.contexts
            self.lane_names = dict(names)
        self._forget_lanes(gone)
        if self.link.connected.is_set():
            self.link.publish(self.topics.capabilities, self.capabilities().to_json(), 1, True,
                              self.status.capabilities_props)
        return gone

    def _forget_lanes(self, gone: Iterable[str]) -> None:
        """Clear the retained state of ``gone``, then record the configured lanes (kept in the outbox, so
        that the next start clears a lane the configuration dropped meanwhile).  A crash in between only
        clears the same topics again."""
        for lane in sorted(gone):
            log.info("lane %s is no longer configured: clearing its retained state", lane)
            self.remove_lane(lane)
        self.outbox.set_lanes(self.lanes)

    def _next_revision(self, passage: Passage, result: EnrichmentResult, now: float) -> int:
        """The revision of the passage's next enriched record: 1, then 2 ... per event hash (0: nothing read)."""
        event_hash = self.composer.observe(passage, result.mrns, now)
        return self.outbox.next_count(REVISION + event_hash) if event_hash is not None else 0

    @staticmethod
    def _counters(composed: Composed, revision: int) -> dict[str, int]:
        """The revision counter, stored with the record's messages (a record never stored is not counted)."""
        if composed.customs_id is None or composed.event_hash is None:
            return {}
        return {REVISION + composed.event_hash: revision}

    # -- status, capabilities, commands ------------------------------------------------------------

    def publish_source_status(self, status: SourceStatus) -> None:
        """A reader or camera changed state: update ``sources`` in the retained gateway status, and
        re-publish it when the source's health changed (see :mod:`~gateway.publishing.status`)."""
        now = time.time()
        if self.status.source_changed(status, now):
            self._publish_status(self.status.online("source", now))

    def source_health(self) -> dict[str, SourceHealth]:
        """Every source's health as the status topic shows it."""
        return self.status.source_health()

    def capabilities(self) -> Capabilities:
        lanes = [LaneInfo(id=lane, name=self.lane_names.get(lane), read_point=ctx.read_point)
                 for lane, ctx in self.lanes.items()]
        return self.status.capabilities(self.link.protocol, lanes)

    def on_command(self, name: str, handler: Handler) -> None:
        """Serve ``cmd/{site}/{gw}/{name}``: ``handler(request) -> result`` (exceptions become errors)."""
        self.commands.register(name, handler)

    def outbox_state(self) -> dict[str, Any]:
        """The outbox's depth and what it had to drop, for the API and the metrics."""
        outbox = self.outbox
        stats = outbox.stats
        return {"depth": outbox.depth(), "oldest_age_s": round(outbox.oldest_age(), 3),
                "rejected_by_broker": self.rejected_by_broker, "degraded": self.degraded,
                # the outbox's bounds at work (mqtt.outbox.when_full / max_age_s): never silent
                "dropped": stats.dropped_full + stats.dropped_age + stats.rejected,
                "dropped_full": stats.dropped_full, "dropped_age": stats.dropped_age, "refused_full": stats.rejected}

    def _outbox_metrics(self) -> dict[str, float]:
        s = self.outbox.stats
        return {"depth": self.outbox.depth(), "oldestAgeS": round(self.outbox.oldest_age(), 3),
                "dropped": s.dropped_full + s.dropped_age + s.rejected + self.rejected_by_broker}

    def publish_config(self, config: ConfigState) -> None:
        """The site configuration was reloaded, or a reload was refused: the retained status says so."""
        self.status.config = config
        self._publish_status(self.status.online("reload", time.time()))

    def forget_source(self, source: str) -> None:
        """A reader or camera left the configuration: the retained status stops showing it."""
        self.status.forget_source(source)

    def published(self) -> dict[str, int]:
        """Messages the broker acknowledged since start-up, per topic class (metric ``bx_messages_published``)."""
        return dict(self.sender.published)

    def _publish_status(self, status: Status) -> None:
        # Straight to the client, not through the outbox: the status is retained state, and the birth
        # after the next CONNACK carries the latest one, so one missed while offline is not lost.
        self.link.publish_state(self.topics.status, status.to_json(), self.status.props)

    # -- callbacks (paho's thread, the outbox) -------------------------------------------------------

    def _birth(self) -> tuple[str, bytes]:
        return self.status.birth(time.time())

    def _on_connected(self) -> None:
        self.link.publish(self.topics.capabilities, self.capabilities().to_json(), 1, True,
                          self.status.capabilities_props)
        self.sender.wake()

    def _on_ack(self, mid: int, ok: bool) -> None:
        self.sender.on_ack(mid, ok)

    def _on_drop(self, reason: DropReason, count: int) -> None:
        # Never silent: the outbox already counted and logged; tell the consumers too.
        self._publish_status(self.status.outbox_dropped(reason, count, time.time()))

    def _on_command(self, message: InboundMessage) -> None:
        reply = self.commands.respond(message, self.link.protocol)
        if reply is not None:
            self.link.publish(reply.topic, reply.payload, reply.qos, False, reply.props)


def lane_contexts(site: Any) -> dict[str, EpcisContext]:
    """Each configured lane's EPCIS context (read point, time zone, vocabulary) from a site configuration."""
    epcis = site.mqtt.epcis
    return {lane.id: EpcisContext(lane=lane.id, read_point_gln=lane.read_point_gln, timezone=epcis.timezone,
                                  vocabulary=epcis.vocabulary, mrn_uri=epcis.mrn_uri,
                                  biz_step=epcis.biz_steps.get(lane.id))
            for lane in site.lanes}
