"""The gateway service: sources -> lane engine -> enrichment -> publisher, plus the API.

One asyncio loop runs everything; drivers that need threads (pyserial, OpenCV) run their own
and hand events to the loop.  The flow is flat and in this order:

1. each configured reader and camera is opened once and supervised (restart with backoff);
2. every event goes to :meth:`Gateway.on_source_event`: reads feed the lane engine, status
   changes go to the live state, the metrics and the status topic;
3. lane events come back from the engine (``feed`` and the periodic ``tick``): passage
   ``new``/``update`` go to the ops topic, passage ``end`` is enriched and published as an
   observation and an enriched record through the durable outbox.

Shutdown (SIGTERM/SIGINT): stop the sources, close open passages (reason ``shutdown``),
flush what the outbox can deliver within a deadline, publish ``offline`` and disconnect.
A crash cannot close anything: open passages are kept in a journal (:mod:`gateway.lane.journal`),
and the next start-up closes those it finds (reason ``restart``) before the sources start.
A configuration reload (SIGHUP, ``POST /api/reload``) is :mod:`gateway.service.reload`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from prometheus_client import Counter

from gateway.config import SiteConfig
from gateway.decisions.desk import DecisionDesk
from gateway.decisions.model import Decision
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.result import EnrichmentResult
from gateway.history.store import HistoryStore, revision_of
from gateway.lane.engine import LaneEngine
from gateway.lane.events import LaneEvent
from gateway.lane.gpo import GpoSignalSink
from gateway.lane.journal import OpenPassages
from gateway.lane.passage import PassageEvent
from gateway.lane.triggers import Trigger
from gateway.publishing.outbox import OutboxFull
from gateway.publishing.publisher import Publisher
from gateway.reads import SourceEvent, SourceStatus, VehicleRead, health
from gateway.service.api import ApiContext, create_app
from gateway.service.http_server import EmbeddedServer, make_server
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics
from gateway.service.supervisor import Supervisor
from gateway.service.views import passage_view, result_view

log = logging.getLogger(__name__)


class Gateway:
    def __init__(
        self,
        config: SiteConfig,
        engine: LaneEngine,
        enricher: Enricher,
        publisher: Publisher,
        clock: Callable[[], float] = time.time,
        asyncapi: Callable[[], dict[str, Any]] | None = None,
        history: HistoryStore | None = None,
    ) -> None:
        self.config, self.engine, self.enricher, self.publisher = config, engine, enricher, publisher
        self.history = history  # the passage history (gateway.history.store), None: the live view only
        self.late: Any = None  # gateway.history.late.LateData: re-enrichment of closed passages (wiring)
        self.store, self.clock = enricher.store, clock  # declarations and master data: the API serves them
        self.metrics = Metrics()
        # Labelled counter children per (source, carrier, decoded): ``labels()`` costs more than the
        # increment itself, and it ran twice for every raw read (thousands per second per reader).
        self._read_counters: dict[tuple[str, str, bool], tuple[Counter, Counter, Counter | None]] = {}
        self.live = LiveState([(lane.id, lane.name) for lane in config.lanes])
        self._stop = asyncio.Event()
        self.running = asyncio.Event()  # set once the API listens and the sources are started
        self._tasks: list[asyncio.Task[None]] = []
        self.supervisor = Supervisor(self.on_source_event, self._on_source_restart)
        self._connected_once: set[str] = set()  # sources that connected since start-up (reconnects count)
        self._server: EmbeddedServer | None = None
        self.on_start: list[Callable[[], None]] = []  # blocking hooks, run in a worker thread
        self.on_stop: list[Callable[[], None]] = []
        # Lane signal states on LLRP outputs (lanes[].gpo): ``gpo_signals.signal(lane, state)``; None without any.
        self.gpo_signals: GpoSignalSink | None = None
        self.journal: OpenPassages | None = None  # open passages, closed at the next start-up after a crash
        self.api_ctx = ApiContext(config=config, live=self.live, metrics=self.metrics, store=self.store,
                                  outbox_state=publisher.outbox_state, asyncapi=asyncapi,
                                  ready=lambda: publisher.connected)
        if history is not None:
            self.api_ctx.passage_query = history.query
            self.api_ctx.passage_history = history.passage_history
            self.api_ctx.recent_flags = history.recent_flags
        self.metrics.add_gauge_callback("bx_outbox_depth", "Messages waiting in the outbox",
                                        lambda: float(publisher.outbox_state().get("depth") or 0))
        self.metrics.add_gauge_callback("bx_outbox_oldest_age_seconds", "Age of the oldest queued message",
                                        lambda: float(publisher.outbox_state().get("oldest_age_s") or 0))
        self.metrics.watch(rejected=lambda: self.engine.stats.dropped, published=publisher.published,
                           failed=lambda: _failed(publisher.outbox_state()))
        self._loop: asyncio.AbstractEventLoop | None = None
        # central decisions back to the lane (``decisions`` configured; gateway.service.wiring sets it)
        self.decisions: DecisionDesk | None = None
        self.decision_intake: Any = None  # gateway.decisions.intake.DecisionIntake, when it listens on MQTT
        self._sources = self.plan_sources(config)
        for source_id, (kind, url, lanes) in self._sources.items():
            self.live.add_source(source_id, kind, url, lanes)

    # -- set-up -------------------------------------------------------------------------

    @staticmethod
    def plan_sources(config: SiteConfig) -> dict[str, tuple[str, str, list[str]]]:
        """source id -> (kind, url, lanes): a reader serving two lanes is opened once."""
        plan: dict[str, tuple[str, str, list[str]]] = {}
        for lane in config.lanes:
            for reader in lane.readers:
                # an LLRP reader's URL gains the GPI ports its lanes use (gpi_entry / gpi_exit)
                plan.setdefault(reader.id, ("reader", config.reader_url(reader.id), []))[2].append(lane.id)
            for camera in lane.cameras:
                plan.setdefault(camera.id, ("camera", camera.url, []))[2].append(lane.id)
        return plan

    # -- the data path ------------------------------------------------------------------

    def on_source_event(self, event: SourceEvent | Trigger) -> None:
        if isinstance(event, (Trigger, VehicleRead)):  # loops, camera zones, plates: the vehicle, not its goods
            self._handle_lane_events(self.engine.feed(event))
            if isinstance(event, Trigger):
                self.live.trigger_states(self.engine.trigger_states)
                if not event.active and self.decisions is not None:
                    self._loop_released(event)
                return
            self.metrics.vehicle_reads.labels(event.source, event.kind).inc()
            view = self.live.sources.get(event.source)
            if view is not None:  # an ANPR camera's readings count as its reads on the dashboard
                view.reads += 1
                view.last_read = event.host_time
                if not event.usable:
                    view.errors += 1
            return
        if isinstance(event, SourceStatus):
            self.live.source_status(event)
            self.metrics.source_up.labels(event.source).set(1 if health(event.state) == "ok" else 0)
            if event.state == "connected":
                if event.source in self._connected_once:
                    self.metrics.source_reconnects.labels(event.source).inc()
                self._connected_once.add(event.source)
            self.publisher.publish_source_status(event)
            # The engine holds passages open through a reader outage instead of splitting them.
            self._handle_lane_events(self.engine.feed(event))
            return
        view = self.live.sources.get(event.source)
        if view is not None:
            view.reads += 1
            view.last_read = event.host_time
            if event.identifier is None:
                view.errors += 1
        key = (event.source, event.carrier, event.identifier is not None)
        counters = self._read_counters.get(key)
        if counters is None:
            counters = self._read_counters[key] = (
                self.metrics.reads.labels(event.source, event.carrier),
                self.metrics.decode_ok.labels(event.carrier, "ok" if key[2] else "error"),
                None if key[2] else self.metrics.read_errors.labels(event.source))
        counters[0].inc()
        counters[1].inc()
        if counters[2] is not None:
            counters[2].inc()
        self._handle_lane_events(self.engine.feed(event))

    def _loop_released(self, trigger: Trigger) -> None:
        """An entry or exit loop released: if its lane has no open passage, the decided vehicle drove off."""
        desk = self.decisions
        assert desk is not None
        for lane, role in self.engine.zones.trigger_roles(trigger):
            if role != "presence":
                desk.vehicle_left(lane, self.clock())

    def _handle_lane_events(self, events: list[LaneEvent]) -> None:
        for event in events:
            if isinstance(event, PassageEvent):
                self._on_passage_event(event)

    def _on_passage_event(self, event: PassageEvent) -> None:
        passage = event.passage
        self.live.passage_event(event.kind, passage_view(passage))
        desk = self.decisions
        if event.kind == "new" and desk is not None:  # the previous vehicle has left: its lane rests
            desk.passage_opened(passage.lane, passage.id, self.clock())
        if event.kind != "end":
            self._journal(event)  # before the ``new`` goes out: a crash after it still ends the passage
            try:
                self.publisher.publish_passage_event(event)
            except OutboxFull:  # reject_new policy: the publisher already counted, logged and reported it
                pass
            except Exception:  # e.g. a disk error: logged loudly, but a reader's task must not die of it
                log.exception("publishing the %s event of passage %s failed", event.kind, passage.id)
            return
        self.metrics.passages.labels(passage.lane).inc()
        result: EnrichmentResult | None
        try:
            result = self.enricher.enrich(passage, self.clock())
        except Exception:  # enrichment must never lose the observation
            log.exception("enrichment failed for passage %s", passage.id)
            result = None
        lane_decision = None
        if desk is not None:  # the central outcomes and the flags: what the lane shows (gateway.decisions)
            try:
                closed = desk.passage_closed(passage, result, now=self.clock())
                result, lane_decision = closed.result, closed.decision
            except Exception:  # the decision store unreadable: the lane stays at stop, the passage goes out
                log.exception("the lane decision failed for passage %s", passage.id)
        customs_id: str | None = None
        try:
            # The end event, the observation and the enriched record in one outbox transaction: one
            # commit per closed passage instead of two (the end event waits for the enrichment, ~1 ms).
            customs_id = self.publisher.publish_passage_end(event, result)
        except OutboxFull:  # as above: refused by the configured policy, never silently
            pass
        except Exception:
            log.exception("publishing passage %s failed", passage.id)
        self._journal(event)
        record = result_view(passage, result, lane_decision=lane_decision,
                             revision=revision_of(customs_id) if result is not None else 0)
        if self.history is not None:
            try:  # a queue put: the writer thread commits in batches
                self.history.record_closed(passage, record, result, record["revision"], self.clock())
            except Exception:
                log.exception("recording the history of passage %s failed", passage.id)
        for flag in record.get("flags", []):
            self.metrics.flags.labels(flag.get("code", "?"), flag.get("severity", "?")).inc()
        self.live.passage_result(record)

    def _journal(self, event: PassageEvent) -> None:
        journal = self.journal
        if journal is None:
            return
        try:
            if event.kind == "end":
                journal.remove(event.passage.id)
            else:
                journal.put(event.passage, self.clock())
        except Exception:  # a disk error: logged, the passage is still published
            log.exception("open-passage journal: writing the %s of passage %s failed", event.kind, event.passage.id)

    def close_leftovers(self) -> int:
        """Close the passages a crash left open (reason ``restart``) and publish them as any closed passage:
        end event, observation, enriched record.  Returns how many; run at start-up, before the sources."""
        journal = self.journal
        if journal is None:
            return 0
        now = self.clock()
        leftovers = journal.leftovers()
        for passage, _written in leftovers:
            closed = replace(passage, state="closed", closed_at=max(now, passage.opened_at), close_reason="restart")
            self._on_passage_event(PassageEvent("end", closed, now))
        if leftovers:
            log.warning("closed %d passage(s) left open by an unclean stop (reason restart)", len(leftovers))
        return len(leftovers)

    def record_history(self, passage_id: str, kind: str, at: float, source: str, body: dict[str, Any]) -> None:
        """Add an event (``decision``, ``signal`` ...) to a passage's history (:meth:`HistoryStore.record`);
        callable from any thread, never blocks; nothing happens without a history store."""
        if self.history is not None:
            self.history.record(passage_id, kind, at, source, body)

    def reenrich(self, passage_ids: Iterable[str], reason: str, *, force: bool = False) -> list[Any]:
        """Re-enrich closed passages now (a late central decision): the next revision of each whose result
        changed (each, with ``force``) is published and recorded; see :meth:`gateway.history.late.LateData.
        reenrich`.  Blocking (SQLite, the enricher): call it from a worker thread, not the loop."""
        if self.late is None:
            return []
        return list(self.late.reenrich(passage_ids, reason, force=force))

    def on_revision(self, revision: Any) -> None:
        """A later revision was published (any thread): the dashboard shows it instead of the earlier one."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.live.passage_revision(revision.record)
        else:
            loop.call_soon_threadsafe(self.live.passage_revision, revision.record)
            desk, decision = self.decisions, revision.result.lane_decision
            if desk is not None and decision is not None:  # still at the lane: the lane shows the new decision
                loop.call_soon_threadsafe(lambda: desk.revised(revision.passage.lane, revision.passage.id, decision,
                                                               now=self.clock()))

    # -- central decisions (gateway.decisions) -------------------------------------------------

    def submit_decision(self, decision: Decision) -> None:
        """A stored central decision from another thread (the MQTT intake, the HTTP API): to the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not running: it is in the store, and the next close reads it from there
        loop.call_soon_threadsafe(self.on_decision, decision)

    def on_decision(self, decision: Decision) -> None:
        """A decision that arrived after the passages it concerns closed: each whose lane decision changed
        gets the next revision of its enriched record (and its lane the new signal, if the vehicle is there)."""
        desk = self.decisions
        if desk is None:
            return
        try:
            redecided = desk.decision_received(decision, now=self.clock())
        except Exception:
            log.exception("a late decision could not be applied")
            return
        body = decision.model_dump(mode="json", by_alias=True, exclude_none=True)
        for item in redecided:
            passage = item.entry.passage
            self.record_history(passage.id, "decision", self.clock(), f"central:{decision.agency}", body)
            revision = None
            if item.result is not None:
                try:
                    revision = revision_of(self.publisher.publish_enriched(passage, item.result))
                except OutboxFull:
                    pass
                except Exception:
                    log.exception("publishing the revision of passage %s failed", passage.id)
            record = result_view(passage, item.result, lane_decision=item.decision, revision=revision)
            if self.history is not None and item.result is not None and revision:
                try:
                    self.history.record_revision(passage, record, item.result, revision, self.clock(),
                                                 "late:decision", "decision")
                except Exception:
                    log.exception("recording the history of passage %s failed", passage.id)
            self.live.passage_revision(record)
        self._late_decision_from_history(decision, desk)

    def _late_decision_from_history(self, decision: Decision, desk: DecisionDesk) -> None:
        """The passages a late decision concerns that the desk's index does not hold (closed before a restart,
        or beyond its bound): found in the passage history and re-enriched by the late-data worker, which
        decides them again (:meth:`DecisionDesk.late_result`) and publishes the revisions that changed."""
        late, history = self.late, self.history
        if late is None or history is None:
            return
        kind, value = decision.subject
        since = self.clock() - desk.config.late_window_s
        body = decision.model_dump(mode="json", by_alias=True, exclude_none=True)

        def lookup() -> list[str]:  # in the late-data worker: SQLite reads stay off the loop
            if kind == "passage":
                ids = [value] if history.closed_passage(value) is not None else []
            else:
                ids = history.candidates([f"{kind}:{value}"], since)
            ids = [pid for pid in ids if not desk.indexed(pid)]
            for pid in ids:
                history.record(pid, "decision", self.clock(), f"central:{decision.agency}", body)
            return ids

        late.submit_lookup(lookup, "decision")

    # -- reconfiguration (gateway.service.reload) ------------------------------------------

    def forget_source(self, source_id: str) -> None:
        """A source stopped for good or for a restart with new settings: its view, status and gauge go."""
        self.live.sources.pop(source_id, None)
        self.publisher.forget_source(source_id)
        self._connected_once.discard(source_id)
        with contextlib.suppress(KeyError):
            self.metrics.source_up.remove(source_id)

    # -- lifecycle ----------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def submit(self, event: Trigger) -> None:
        """A lane controller's trigger from another thread (the HTTP API's workers, the MQTT intake's network
        thread): handed to the loop, which feeds the lane engine like any source event."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the gateway is not running")
        loop.call_soon_threadsafe(self.on_source_event, event)

    async def run(self, serve_api: bool = True) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.api_ctx.trigger = self.submit
        if self.decisions is not None:  # every lane starts at rest ("stop")
            self.decisions.on_signal.append(lambda s: self.live.lane_signal(s.lane, s.as_json()))
            self.decisions.start(self.clock())
        await loop.run_in_executor(None, self.publisher.start)
        for hook in self.on_start:
            await loop.run_in_executor(None, hook)
        self.close_leftovers()
        api: asyncio.Task[None] | None = None
        if serve_api:
            app = create_app(self.api_ctx)
            self._server = make_server(app, self.config.api.host, self.config.api.port, tls=self.config.api.tls)
            api = asyncio.create_task(self._server.serve(), name="api")
            self._tasks.append(api)
        for source_id, (_kind, url, _lanes) in self._sources.items():
            self.supervisor.start(source_id, url)
        self._tasks.append(asyncio.create_task(self._ticker(), name="ticker"))
        self._tasks.append(asyncio.create_task(self._mqtt_watch(), name="mqtt-watch"))
        log.info("gateway %s/%s running: %d lanes, %d sources", self.config.site, self.config.gateway,
                 len(self.config.lanes), len(self._sources))
        while api is not None and self._server is not None and not (
                self._server.started or api.done() or self._stop.is_set()):
            await asyncio.sleep(0.02)  # readiness (systemd's READY=1) means the API answers
        self.running.set()
        await self._stop.wait()
        await self._shutdown()

    def _on_source_restart(self, source_id: str) -> None:
        """A driver failed and is restarted: shown on the dashboard (``bx_source_reconnects`` counts it once
        it connects again)."""
        health = self.live.sources.get(source_id)
        if health is not None:
            health.restarts += 1

    async def _ticker(self, interval: float = 0.2) -> None:
        while not self._stop.is_set():
            try:
                self._handle_lane_events(self.engine.tick(self.clock()))
            except Exception:
                log.exception("lane engine tick failed")
            if self.decisions is not None:
                try:
                    self.decisions.tick(self.clock())  # waits ended, signals back to rest
                except Exception:
                    log.exception("lane signal tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

    async def _mqtt_watch(self, interval: float = 0.5) -> None:
        while not self._stop.is_set():
            connected = bool(self.publisher.connected)
            self.live.mqtt = self.publisher.connection_state()
            self.live.mqtt_connected = connected
            self.metrics.mqtt_connected.set(1 if connected else 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

    async def _shutdown(self, flush_timeout: float = 5.0) -> None:
        log.info("gateway stopping")
        await self.supervisor.stop_all()
        self._handle_lane_events(self.engine.close_all(self.clock()))
        loop = asyncio.get_running_loop()
        for hook in self.on_stop:
            try:
                await loop.run_in_executor(None, hook)
            except Exception:
                log.exception("stop hook failed")
        await loop.run_in_executor(None, self.publisher.stop, flush_timeout)
        if self._server is not None:
            self.live.close()  # ends the dashboards' event streams, which would hold the server open
            self._server.should_exit = True
        for task in self._tasks:
            if not task.done():
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=5.0)
        log.info("gateway stopped")


def _failed(outbox: dict[str, Any]) -> dict[str, int]:
    """Messages that will never reach the broker, by reason (metric ``bx_messages_failed``)."""
    return {"refused_by_broker": int(outbox.get("rejected_by_broker") or 0),
            "dropped_full": int(outbox.get("dropped_full") or 0),
            "dropped_age": int(outbox.get("dropped_age") or 0),
            "refused_full": int(outbox.get("refused_full") or 0)}
