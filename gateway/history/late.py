"""Late data: what arrives after a passage closed re-enriches it and publishes the next revision.

A declaration lodged (or amended) after the truck passed, a movement, product or party master data stored
later: the enrichment store tells :meth:`LateData.on_change` after its commit (the MQTT intake and the HTTP
API alike; ``border-gateway import`` writes from another process, unseen here).  A worker thread finds the
passages it concerns in the passage history (:mod:`gateway.history.store`) by the keys enrichment links
on (:mod:`gateway.history.keys`), closed within ``enrichment.late_window_s`` (default 24 h), rebuilds each
closed passage from the history (so this survives a restart), runs the current enricher again and, only
when the result changed (links, flags, declarations, routing, decision:
:func:`~gateway.history.store.result_signature`), publishes the next revision of the enriched record
(``{hash}#customs/r{n}``, the same event hash) and records it in the passage's history.  Other parts
re-enrich through :meth:`LateData.reenrich` (a late central decision: ``reenrich(passage_ids, reason)``)
and hear of each revision through :attr:`LateData.on_revision`.

One worker, one passage at a time: the revisions of a passage are allocated in the order they are made.
The queue is bounded (``max_queue`` changes); a change that does not fit is dropped and counted in
``stats["dropped"]``, never blocking the intake.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.movement import Movement
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.enrichment.result import EnrichmentResult
from gateway.enrichment.store import Change, Store
from gateway.history.keys import (
    declaration_change_keys,
    movement_change_keys,
    party_change_keys,
    product_change_keys,
)
from gateway.history.store import HistoryStore, result_signature, revision_of
from gateway.lane.passage import Passage
from gateway.publishing.outbox import OutboxFull
from gateway.publishing.publisher import Publisher
from gateway.service.views import result_view

log = logging.getLogger(__name__)
_SINGULAR = {"declarations": "declaration", "movements": "movement", "products": "product", "parties": "party"}


@dataclass(frozen=True, slots=True)
class Revision:
    """A new revision of a passage's enriched record, published and recorded."""

    passage: Passage
    result: EnrichmentResult
    revision: int
    customs_id: str | None
    record: dict[str, Any]  # the closed-passage record (gateway.service.views.result_view) with "revision"
    reason: str


@dataclass
class _Job:
    reason: str
    change: Change | None = None
    lookup: Callable[[], Iterable[str]] | None = None  # finds the passages in the worker (SQLite off the loop)
    done: threading.Event | None = None
    out: list[Revision] = field(default_factory=list)


class LateData:
    """Re-enrichment of closed passages.  ``enricher`` is a callable (the service replaces its enricher on a
    configuration reload); ``window_s`` how long after a passage closed late data still changes it."""

    def __init__(self, history: HistoryStore, store: Store, enricher: Callable[[], Enricher], publisher: Publisher,
                 *, window_s: float | None = None, clock: Callable[[], float] = time.time,
                 max_queue: int = 10_000) -> None:
        self.history, self.store, self.enricher, self.publisher = history, store, enricher, publisher
        self._window_s, self.clock = window_s, clock
        self.on_revision: list[Callable[[Revision], None]] = []  # called in the worker thread
        # the lane decision of a re-enriched passage (gateway.decisions: central outcomes and flags), if any
        self.decide: Callable[[Passage, EnrichmentResult, float], EnrichmentResult] | None = None
        self.stats = {"changes": 0, "candidates": 0, "unchanged": 0, "revisions": 0, "outside_window": 0,
                      "dropped": 0, "failed": 0}
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()  # one re-enrichment at a time: a passage's revisions in order
        self._thread: threading.Thread | None = None

    @property
    def window_s(self) -> float:
        """The late window: as given, else the current enricher's ``late_window_s`` (a reload changes it)."""
        return self._window_s if self._window_s is not None else float(self.enricher().config.late_window_s)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self.store.listeners.append(self.on_change)
        self._thread = threading.Thread(target=self._work, name="late-data", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self.on_change in self.store.listeners:
            self.store.listeners.remove(self.on_change)
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every change handed over before this call has been dealt with (tests, shutdown)."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._put(_Job("idle", done=done))
        return done.wait(timeout)

    # -- entry points ----------------------------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        """The enrichment store committed ``change`` (any thread): queued for the worker, never blocks."""
        if self.window_s <= 0:
            return
        self.stats["changes"] += 1
        kinds = {outcome for _record, outcome in change.records}
        reason = f"{_SINGULAR[change.kind]}-{'amended' if kinds & {'amended', 'updated'} else 'new'}"
        self._put(_Job(reason, change=change))

    def submit_lookup(self, lookup: Callable[[], Iterable[str]], reason: str) -> None:
        """:meth:`reenrich` of the passages ``lookup`` finds, both in the worker thread (returns at once)."""
        self._put(_Job(reason, lookup=lookup))

    def reenrich(self, passage_ids: Iterable[str], reason: str, *, force: bool = False) -> list[Revision]:
        """Re-enrich each closed passage (within the window) with the current data; publish and record the next
        revision of those whose result changed (of each, with ``force``); returns those revisions.
        Thread-safe, synchronous."""
        out: list[Revision] = []
        with self._lock:
            for pid in dict.fromkeys(passage_ids):
                try:
                    revision = self._reenrich_one(pid, reason, force)
                except Exception:  # one passage's failure (a damaged row) never stops the others
                    self.stats["failed"] += 1
                    log.exception("re-enriching a passage failed (%s)", reason)
                    continue
                if revision is not None:
                    out.append(revision)
        for revision in out:
            for hook in list(self.on_revision):
                try:
                    hook(revision)
                except Exception:
                    log.exception("a revision hook failed")
        return out

    # -- the worker --------------------------------------------------------------------------------------------

    def _put(self, job: _Job) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.stats["dropped"] += 1
            log.error("late data: a change was dropped (%d so far): the re-enrichment queue is full",
                      self.stats["dropped"])
            if job.done is not None:
                job.done.set()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                if job.change is not None:
                    ids = self.concerned(job.change)
                    self.stats["candidates"] += len(ids)
                    self.reenrich(ids, job.reason)
                elif job.lookup is not None:
                    self.reenrich(list(job.lookup()), job.reason)
            except Exception:
                log.exception("late data: handling a change failed")
            finally:
                if job.done is not None:
                    job.done.set()

    def concerned(self, change: Change) -> list[str]:
        """The passages closed within the window that ``change`` may link or unlink, oldest first."""
        since = self.clock() - self.window_s
        keys: set[str] = set()
        for record, _outcome in change.records:
            if isinstance(record, Declaration):
                keys |= declaration_change_keys(record)
            elif isinstance(record, Movement):
                keys |= movement_change_keys(record)
            elif isinstance(record, Product):
                keys |= product_change_keys(record)
            elif isinstance(record, Party):
                keys |= party_change_keys(record, self._party_mrns(record, since))
        return self.history.candidates(keys, since) if keys else []

    def _party_mrns(self, party: Party, since: float) -> set[str]:
        """The declarations that name ``party``: by its GLN or EORI, or by its reference among the declarations
        the window's passages were linked to."""
        mrns = {hit.mrn for kind, value in (("gln", party.ids.gln), ("eori", party.ids.eori)) if value
                for hit in self.store.find(kind, value)}
        for mrn in self.history.mrns_since(since):
            decl = self.store.declaration(mrn)
            if decl is not None and any(ref == party.party_ref for _role, ref in decl.party_roles()):
                mrns.add(mrn)
        return mrns

    def _reenrich_one(self, passage_id: str, reason: str, force: bool = False) -> Revision | None:
        closed = self.history.closed_passage(passage_id)
        if closed is None:
            return None
        passage, now = closed.passage, self.clock()
        if passage.closed_at is None or passage.closed_at < now - self.window_s:
            self.stats["outside_window"] += 1
            return None
        result = self.enricher().enrich(passage, now)
        if self.decide is not None:
            result = self.decide(passage, result, now)
        if not force and result_signature(result) == closed.signature:
            self.stats["unchanged"] += 1
            return None
        customs_id: str | None = None
        try:
            self.publisher.recall(passage, closed.first_mrns)
            # the lane's state takes the new decision only while it shows this passage (never after a restart)
            customs_id = self.publisher.publish_enriched(passage, result, lane_state=None)
        except OutboxFull:  # refused by the configured policy: counted and reported by the outbox
            return None
        revision = revision_of(customs_id) or closed.revision + 1
        record = result_view(passage, result)
        record["revision"] = revision
        self.history.record_revision(passage, record, result, revision, now, f"late:{reason}", reason)
        self.stats["revisions"] += 1
        log.info("late data (%s): passage re-enriched, revision %d published", reason, revision)
        return Revision(passage, result, revision, customs_id, record, reason)
