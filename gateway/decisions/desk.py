"""The lane side of decisions: a closed passage's lane decision, late decisions, the lane signals.

:class:`DecisionDesk` runs in the gateway's loop (no threads, no clock: ``now`` comes in).  It is called

* when a passage opens (:meth:`~DecisionDesk.passage_opened`: the previous vehicle has left, its lane rests);
* when a passage closes (:meth:`~DecisionDesk.passage_closed`): the central decisions about the passage, its
  declarations and movements, from the store, combined with its flags by the policy; the result carries the
  :class:`~gateway.enrichment.result.LaneDecision` and the lane signal follows;
* when a decision was stored (:meth:`~DecisionDesk.decision_received`): the recently closed passages it
  concerns (within ``decisions.late_window_s``) are decided again; each whose lane decision changed comes
  back as a :class:`Redecided` for the gateway to publish as the next revision of its enriched record;
* on every tick (:meth:`~DecisionDesk.tick`): waits that ended, signals back to rest.

Recently closed passages live behind :class:`ClosedPassageIndex` (here :class:`RecentPassages`, bounded, in
memory); those it no longer holds are the passage history's (:mod:`gateway.history`).  Observers of
:attr:`~DecisionDesk.on_signal` see every change of a lane's signal, e.g. for the history store.

>>> from gateway.config.decisions import DecisionsConfig
>>> from gateway.decisions.model import Decision
>>> from gateway.decisions.store import DecisionStore
>>> from gateway.lane.passage import Passage
>>> store = DecisionStore(":memory:")
>>> desk = DecisionDesk(DecisionsConfig(), store, ["L1"])
>>> _ = desk.start(0.0)
>>> p = Passage("p-1", "L1", "inbound", "closed", 0.5, closed_at=3.0)
>>> r = desk.passage_closed(p, None, now=3.0)
>>> r.decision.source, desk.signals.current("L1").state
('default', 'stop')
>>> d = Decision.model_validate({"decisionId": "D-9", "outcome": "release", "agency": "CUSTOMS",
...     "issuedAt": "2025-03-01T10:00:00Z", "passageId": "p-1"})
>>> store.put(d)
'stored'
>>> [(x.entry.passage.id, x.decision.outcome, x.at_lane) for x in desk.decision_received(d, now=10.0)]
[('p-1', 'release', True)]
>>> desk.signals.current("L1").state
'proceed'
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from gateway.config.decisions import DecisionsConfig
from gateway.decisions.model import Decision
from gateway.decisions.policy import decide_result, subjects
from gateway.decisions.signals import PATTERNS, LaneSignal, LaneSignalSink, SignalMachine
from gateway.decisions.store import DecisionStore
from gateway.enrichment.result import EnrichmentResult, LaneDecision
from gateway.lane.passage import Passage

log = logging.getLogger(__name__)

Subject = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ClosedPassage:
    """A closed passage as the late-decision path needs it."""

    passage: Passage
    result: EnrichmentResult | None  # its enrichment, without the lane decision (None: enrichment failed)
    subjects: tuple[Subject, ...]  # the passage, its declarations (MRNs), its movements
    closed_at: float
    decision: LaneDecision

    @property
    def lane(self) -> str:
        return self.passage.lane


class ClosedPassageIndex(Protocol):
    """Recently closed passages by subject (a persistent passage store can implement it)."""

    def add(self, entry: ClosedPassage) -> None: ...

    def concerning(self, subject: Subject, since: float) -> list[ClosedPassage]: ...

    def update(self, entry: ClosedPassage) -> None: ...

    def get(self, passage_id: str) -> ClosedPassage | None: ...


class RecentPassages:
    """:class:`ClosedPassageIndex` in memory: the last ``limit`` closed passages (oldest dropped first).

    >>> from gateway.lane.passage import Passage
    >>> idx = RecentPassages(limit=1)
    >>> ld = LaneDecision(outcome="hold", signal="hold", source="default")
    >>> for i in (1, 2):
    ...     idx.add(ClosedPassage(Passage(f"p-{i}", "L1", "inbound", "closed", 0.0), None, (("mrn", "M"),), i, ld))
    >>> [e.passage.id for e in idx.concerning(("mrn", "M"), since=0.0)], len(idx)
    (['p-2'], 1)
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, ClosedPassage] = OrderedDict()
        self._by_subject: dict[Subject, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: ClosedPassage) -> None:
        pid = entry.passage.id
        if pid in self._entries:
            self._drop(pid)
        self._entries[pid] = entry
        for subject in entry.subjects:
            self._by_subject.setdefault(subject, set()).add(pid)
        while len(self._entries) > self.limit:
            self._drop(next(iter(self._entries)))

    def update(self, entry: ClosedPassage) -> None:
        if entry.passage.id in self._entries:
            self._entries[entry.passage.id] = entry

    def get(self, passage_id: str) -> ClosedPassage | None:
        return self._entries.get(passage_id)

    def concerning(self, subject: Subject, since: float) -> list[ClosedPassage]:
        ids = self._by_subject.get(subject, ())
        return sorted((e for e in (self._entries[i] for i in ids) if e.closed_at >= since),
                      key=lambda e: (e.closed_at, e.passage.id))

    def _drop(self, pid: str) -> None:
        entry = self._entries.pop(pid)
        for subject in entry.subjects:
            ids = self._by_subject.get(subject)
            if ids is not None:
                ids.discard(pid)
                if not ids:
                    del self._by_subject[subject]


@dataclass(frozen=True, slots=True)
class Closed:
    """What :meth:`DecisionDesk.passage_closed` decided: the result to publish (with its lane decision)."""

    result: EnrichmentResult | None
    decision: LaneDecision


@dataclass(frozen=True, slots=True)
class Redecided:
    """A closed passage decided again after a late decision: publish ``result`` as its next revision."""

    entry: ClosedPassage
    result: EnrichmentResult | None
    decision: LaneDecision
    at_lane: bool  # the vehicle is still at the lane: its signal changed too


class DecisionDesk:
    def __init__(self, config: DecisionsConfig, store: DecisionStore, lanes: Iterable[str],
                 index: ClosedPassageIndex | None = None) -> None:
        self.config, self.store = config, store
        self.policy = config.policy
        self.signals = SignalMachine(lanes, wait_s=config.policy.wait_s, rest_timeout_s=config.signals.rest_timeout_s,
                                     hold_after_exit_s=config.signals.hold_after_exit_s)
        self.index: ClosedPassageIndex = index if index is not None else RecentPassages(config.recent_passages)
        self.sinks: list[LaneSignalSink] = []
        # every change of a lane's signal (the history store, the dashboard): called in the loop, must not block
        self.on_signal: list[Callable[[LaneSignal], None]] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, now: float) -> list[LaneSignal]:
        """Every lane at rest (``stop``)."""
        return self._emit(self.signals.start(now))

    def set_lanes(self, lanes: Iterable[str], now: float) -> None:
        """A reload: the signal machine and every sink that keeps something per lane (``set_lanes``) follow."""
        wanted = list(lanes)
        self.signals.set_lanes(wanted, now)
        for sink in self.sinks:
            follow = getattr(sink, "set_lanes", None)
            if follow is not None:
                try:
                    follow(wanted)
                except Exception:  # one sink failing must not keep the reload from the others
                    log.exception("lane signal sink %s could not follow the new lanes", type(sink).__name__)

    def tick(self, now: float) -> list[LaneSignal]:
        return self._emit(self.signals.tick(now))

    # -- passages ---------------------------------------------------------------------------------

    def passage_opened(self, lane: str, passage_id: str, now: float) -> list[LaneSignal]:
        return self._emit(self.signals.vehicle_entered(lane, passage_id, now))

    def vehicle_left(self, lane: str, now: float) -> list[LaneSignal]:
        """A loop of the lane released with no passage open: the decided vehicle drove off (rests soon)."""
        return self._emit(self.signals.vehicle_left(lane, now))

    def passage_closed(self, passage: Passage, result: EnrichmentResult | None, *, now: float) -> Closed:
        """The lane decision of a passage that just closed; the lane signal shows it."""
        subs = tuple(subjects(passage.id, result))
        decision = decide_result(self.policy, self.store.for_subjects(subs), result, now=now)
        closed_at = passage.closed_at if passage.closed_at is not None else now
        entry = ClosedPassage(passage, result, subs, closed_at, decision)
        self.index.add(entry)
        self._emit(self.signals.decided(passage.lane, passage.id, decision, now=now, closed_at=closed_at))
        return Closed(_with(result, decision), decision)

    def decision_received(self, decision: Decision, *, now: float) -> list[Redecided]:
        """A stored decision: the closed passages it concerns (within the late window) decided again."""
        out: list[Redecided] = []
        for entry in self.index.concerning(decision.subject, since=now - self.config.late_window_s):
            central = self.store.for_subjects(entry.subjects)
            new = decide_result(self.policy, central, entry.result, now=now)
            if new == entry.decision:
                continue
            updated = replace(entry, decision=new)
            self.index.update(updated)
            at_lane = self.signals.shows(entry.lane, entry.passage.id)
            if at_lane:
                self._emit(self.signals.decided(entry.lane, entry.passage.id, new, now=now))
            out.append(Redecided(updated, _with(entry.result, new), new, at_lane))
        return out

    def late_result(self, passage: Passage, result: EnrichmentResult, now: float) -> EnrichmentResult:
        """The lane decision of a closed passage enriched again (late data, :mod:`gateway.history.late`): its
        central outcomes and its new flags.  Any thread: no signal is emitted here (the gateway's loop shows a
        revision's decision at the lane through :meth:`revised`); the index keeps the new result."""
        subs = tuple(subjects(passage.id, result))
        decision = decide_result(self.policy, self.store.for_subjects(subs), result, now=now)
        closed_at = passage.closed_at if passage.closed_at is not None else now
        self.index.update(ClosedPassage(passage, result, subs, closed_at, decision))
        out = _with(result, decision)
        assert out is not None
        return out

    def revised(self, lane: str, passage_id: str, decision: LaneDecision, *, now: float) -> list[LaneSignal]:
        """A later revision's lane decision: the lane shows it while the vehicle is still there."""
        if not self.signals.shows(lane, passage_id):
            return []
        return self._emit(self.signals.decided(lane, passage_id, decision, now=now))

    def indexed(self, passage_id: str) -> bool:
        """Whether the late-decision path knows this passage (closed since the start, within the index)."""
        return self.index.get(passage_id) is not None

    # -- output -----------------------------------------------------------------------------------

    def _emit(self, changes: list[LaneSignal]) -> list[LaneSignal]:
        for change in changes:
            for sink in self.sinks:
                try:
                    sink.signal(change.lane, change.state, PATTERNS[change.state], change)
                except Exception:  # one sink failing (a reader away) must not keep the others from the change
                    log.exception("lane signal sink %s failed", type(sink).__name__)
            for observer in self.on_signal:
                try:
                    observer(change)
                except Exception:
                    log.exception("lane signal observer failed")
        return changes


def _with(result: EnrichmentResult | None, decision: LaneDecision) -> EnrichmentResult | None:
    return None if result is None else result.model_copy(update={"lane_decision": decision})
