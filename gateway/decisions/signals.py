"""Lane signals: what each lane's sign, traffic light or PLC shows, as a clock-free state machine.

:class:`SignalMachine` keeps one :class:`LaneSignal` per lane and returns the changes; the service hands each
change to every :class:`LaneSignalSink` (the retained MQTT topic of :class:`MqttSignalSink`; an LLRP GPO
output plugs in the same way).  The rules:

* every lane starts at rest: ``stop``;
* a closed passage's lane decision is shown at once, except a ``default`` one (no central outcome yet):
  the lane shows ``stop`` for up to ``wait_s`` after the close, then the default, unless a central
  decision came first;
* a signal returns to rest when the vehicle has left: its lane's loop released after the close (shown at
  least ``hold_after_exit_s``, so that a sign never flashes), or the next vehicle entered the lane; else
  ``rest_timeout_s`` after it was set;
* a decision about a passage whose vehicle has left (the next one entered, or the signal rested) changes
  nothing at the lane.

>>> from gateway.enrichment.result import LaneDecision
>>> m = SignalMachine(["L1"], wait_s=10.0, rest_timeout_s=60.0)
>>> [(s.lane, s.state, s.source) for s in m.start(0.0)]
[('L1', 'stop', 'rest')]
>>> m.vehicle_entered("L1", "p-1", 1.0)
[]
>>> release = LaneDecision(outcome="release", signal="proceed", source="central")
>>> [(s.state, s.outcome, s.passage_id) for s in m.decided("L1", "p-1", release, now=5.0, closed_at=5.0)]
[('proceed', 'release', 'p-1')]
>>> m.shows("L1", "p-1"), [s.state for s in m.tick(64.0)], [s.state for s in m.tick(65.0)]
(True, [], ['stop'])
>>> m.shows("L1", "p-1")
False

No central outcome: stop while waiting, then the default:

>>> default = LaneDecision(outcome="documentary-check", signal="inspection", source="default")
>>> [(s.state, s.source) for s in m.decided("L1", "p-2", default, now=70.0, closed_at=70.0)]
[('stop', 'rest')]
>>> [(s.state, s.source) for s in m.tick(80.0)]
[('inspection', 'default')]

The vehicle drives off the exit loop: back to rest, once the signal was shown ``hold_after_exit_s`` (5 s):

>>> m.vehicle_left("L1", 81.0), [s.state for s in m.tick(84.0)], [s.state for s in m.tick(85.0)]
([], [], ['stop'])
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from gateway.config.decisions import Outcome, SignalState
from gateway.config.mqtt import MqttConfig
from gateway.enrichment.result import LaneDecision

log = logging.getLogger(__name__)

SignalSource = Literal["central", "local", "default", "rest"]
REST: SignalState = "stop"
#: what a sign or light does for each state (a hint: a sink maps states to its outputs as it sees fit)
PATTERNS: dict[str, str] = {"stop": "red", "proceed": "green", "inspection": "amber-flashing",
                            "hold": "red-flashing", "refuse": "red-flashing"}


class LaneSignalSink(Protocol):
    """Something that shows a lane's signal: the retained MQTT topic, an LLRP reader's GPOs, a PLC.

    Called from the gateway's loop for every change of a lane (never blocking: hand slow I/O to a thread)."""

    def signal(self, lane: str, state: SignalState, pattern_hint: str = "", detail: LaneSignal | None = None
               ) -> None: ...


@dataclass(frozen=True, slots=True)
class LaneSignal:
    lane: str
    state: SignalState
    outcome: Outcome | None
    source: SignalSource
    passage_id: str | None
    since: float

    @classmethod
    def at_rest(cls, lane: str, since: float) -> LaneSignal:
        """The lane's rest state: ``stop``, no outcome, no passage."""
        return cls(lane, REST, None, "rest", None, since)

    def as_json(self) -> dict[str, Any]:
        """The lane view's ``signal`` (shared JSON conventions of the API and the dashboard)."""
        return {"state": self.state, "outcome": self.outcome, "source": self.source, "passage_id": self.passage_id,
                "since": self.since}


class SignalPayload(BaseModel):
    """``{base}/ops/{site}/{gw}/lane/{lane}/signal`` (retained): what the lane shows now."""

    model_config = ConfigDict(frozen=True, alias_generator=lambda n: "".join(
        w if i == 0 else w.capitalize() for i, w in enumerate(n.split("_"))), populate_by_name=True)

    lane: str
    state: SignalState = Field(description="stop (the rest state, and the Last Will), proceed, inspection, hold, "
                               "refuse")
    pattern: str = Field(description="a hint for signs and lights: red, green, amber-flashing, red-flashing")
    outcome: Outcome | None = Field(None, description="the lane decision's outcome (null at rest)")
    source: SignalSource = Field(description="central, local (a flag raised it), default (no central outcome), "
                                 "rest")
    passage_id: str | None = Field(None, description="the passage the signal is for (null at rest)")
    since: float = Field(description="epoch seconds the lane shows this")
    reason: Literal["decision", "rest", "start", "gateway-offline", "lane-removed"] = Field(
        "decision", description="why: a decision, back to rest, the gateway's start, the Last Will, or the lane "
                                "left the configuration (a reload; its sign is left at stop)")

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")


def payload(signal: LaneSignal, reason: str = "decision") -> SignalPayload:
    return SignalPayload(lane=signal.lane, state=signal.state, pattern=PATTERNS[signal.state],
                         outcome=signal.outcome, source=signal.source, passage_id=signal.passage_id,
                         since=signal.since, reason=reason)


@dataclass
class _Lane:
    shown: LaneSignal
    open_passage: str | None = None  # the vehicle in the lane now
    pending: tuple[str, LaneDecision, float] | None = None  # (passage, default decision, due)
    leave_at: float | None = None  # the vehicle left: rest at this time (the signal held long enough)


class SignalMachine:
    """Each lane's signal; no clock, no I/O: every method takes ``now`` and returns the changes."""

    def __init__(self, lanes: Iterable[str], *, wait_s: float, rest_timeout_s: float,
                 hold_after_exit_s: float = 5.0) -> None:
        self.wait_s, self.rest_timeout_s, self.hold_after_exit_s = wait_s, rest_timeout_s, hold_after_exit_s
        self._lanes: dict[str, _Lane] = {lane: _Lane(LaneSignal.at_rest(lane, 0.0))
                                         for lane in lanes}

    def start(self, now: float) -> list[LaneSignal]:
        """Every lane at rest (start-up)."""
        for lane in self._lanes.values():
            lane.shown, lane.pending = replace(lane.shown, state=REST, outcome=None, source="rest", passage_id=None,
                                               since=now), None
        return [lane.shown for lane in self._lanes.values()]

    def set_lanes(self, lanes: Iterable[str], now: float) -> list[LaneSignal]:
        """A reload: new lanes start at rest, removed ones are forgotten."""
        wanted = list(lanes)
        self._lanes = {lane: self._lanes.get(lane) or _Lane(LaneSignal.at_rest(lane, now))
                       for lane in wanted}
        return []

    @property
    def lanes(self) -> dict[str, LaneSignal]:
        return {lane: state.shown for lane, state in self._lanes.items()}

    def current(self, lane: str) -> LaneSignal | None:
        state = self._lanes.get(lane)
        return state.shown if state is not None else None

    def shows(self, lane: str, passage_id: str) -> bool:
        """True while the lane's signal concerns this passage (its vehicle is still at the lane)."""
        state = self._lanes.get(lane)
        return state is not None and state.shown.passage_id == passage_id and (
            state.open_passage is None or state.open_passage == passage_id)

    def vehicle_entered(self, lane: str, passage_id: str, now: float) -> list[LaneSignal]:
        """A passage opened: the previous vehicle has left, the lane goes back to rest."""
        state = self._lanes.get(lane)
        if state is None:
            return []
        state.open_passage, state.pending = passage_id, None
        return self._rest(state, now)

    def vehicle_left(self, lane: str, now: float) -> list[LaneSignal]:
        """A loop of ``lane`` was released while no passage is open there: the decided vehicle drove off.  The
        lane rests once its signal was shown ``hold_after_exit_s`` (at the next :meth:`tick`); a default still
        waited for is dropped (the vehicle is gone)."""
        state = self._lanes.get(lane)
        if state is None or state.open_passage is not None:
            return []
        if state.shown.passage_id is None and state.pending is None:
            return []  # at rest already
        state.leave_at = max(now, state.shown.since + self.hold_after_exit_s)
        return self.tick(now)

    def decided(self, lane: str, passage_id: str, decision: LaneDecision, *, now: float,
                closed_at: float | None = None) -> list[LaneSignal]:
        """A lane decision for a passage of ``lane`` (at its close, or later): shown while its vehicle is there."""
        state = self._lanes.get(lane)
        if state is None:
            return []
        if state.open_passage not in (None, passage_id):
            return []  # the next vehicle is in the lane: this one has left
        if closed_at is None and state.shown.passage_id != passage_id:
            return []  # a late decision: another passage's signal is shown, or the lane rested already
        state.open_passage = None
        if decision.source == "default":
            due = (closed_at if closed_at is not None else now) + self.wait_s
            if now < due:
                state.pending = (passage_id, decision, due)
                return self._show(state, LaneSignal(lane, REST, None, "rest", passage_id, now))
        state.pending = None
        return self._show(state, LaneSignal(lane, decision.signal, decision.outcome, decision.source, passage_id, now))

    def tick(self, now: float) -> list[LaneSignal]:
        """Waits that ended (the default is shown) and signals that timed out (back to rest)."""
        out: list[LaneSignal] = []
        for lane, state in self._lanes.items():
            if state.leave_at is not None and now >= state.leave_at:
                state.pending = None
                out += self._rest(state, now)
            elif state.pending is not None and now >= state.pending[2]:
                passage_id, decision, _due = state.pending
                state.pending = None
                out += self._show(state, LaneSignal(lane, decision.signal, decision.outcome, decision.source,
                                                    passage_id, now))
            elif (state.pending is None and state.shown.passage_id is not None
                  and now - state.shown.since >= self.rest_timeout_s):
                out += self._rest(state, now)
        return out

    def _rest(self, state: _Lane, now: float) -> list[LaneSignal]:
        if state.shown.state == REST and state.shown.passage_id is None:
            return []
        return self._show(state, LaneSignal.at_rest(state.shown.lane, now))

    @staticmethod
    def _show(state: _Lane, signal: LaneSignal) -> list[LaneSignal]:
        old = state.shown
        state.shown, state.leave_at = signal, None
        if (old.state, old.outcome, old.source, old.passage_id) == (signal.state, signal.outcome, signal.source,
                                                                    signal.passage_id):
            return []
        return [signal]


class MqttSignalSink:
    """The retained lane-signal topics, one small MQTT connection per lane.

    MQTT allows one Last Will per connection, so each lane has its own (client id ``{client_id}-signal-{lane}``)
    whose Will is that lane's retained ``stop`` (``reason: gateway-offline``, no Will Delay): when the gateway dies
    or loses the broker, every lane shows stop.  On each (re)connect the connection publishes the lane's current signal
    (its "birth"), so a signal set while the broker was away is on the broker as soon as it is back.
    """

    def __init__(self, mqtt: MqttConfig, *, base_client_id: str, topic: Callable[[str], str],
                 lanes: Iterable[str]) -> None:
        from gateway.publishing.mqtt_client import MqttLink, Will

        # no Will Delay: a lane whose gateway is gone shows stop at once (a short reconnect flashes stop: safe)
        self.mqtt, self.topic = mqtt.model_copy(update={"will_delay_s": 0}), topic
        self.base_client_id = base_client_id
        self._lock = threading.Lock()
        self._current: dict[str, bytes] = {}
        self._links: dict[str, MqttLink] = {}
        self._started = False
        self._link_type, self._will_type = MqttLink, Will
        for lane in lanes:
            self._add(lane)

    def _add(self, lane: str) -> None:
        will = self._will_type(self.topic(lane), _rest_body(lane, "gateway-offline", 0.0), qos=1, retain=True)
        self._current[lane] = _rest_body(lane, "start", 0.0)
        link = self._link_type(self.mqtt, f"{self.base_client_id}-signal-{lane}", will=will,
                               birth=self._birth(lane))
        self._links[lane] = link

    def _birth(self, lane: str) -> Callable[[], tuple[str, bytes]]:
        """What a lane's connection publishes on each (re)connect: the lane's current signal, retained."""
        def birth() -> tuple[str, bytes]:
            # no self._lock here: the link calls this under its own state lock, which publish() takes inside
            # self._lock (one lock order); reading one dict entry is atomic
            return self.topic(lane), self._current[lane]
        return birth

    def start(self) -> None:
        with self._lock:
            self._started = True
            links = list(self._links.values())
        for link in links:
            link.start()

    def set_lanes(self, lanes: Iterable[str]) -> None:
        """A reload: a new lane gets its connection (at rest, started now if the sink runs); a removed lane's
        sign is set to ``stop`` (reason ``lane-removed``, retained) and its connection closed, off this thread."""
        wanted = list(lanes)
        with self._lock:
            gone = {lane: self._links.pop(lane) for lane in list(self._links) if lane not in wanted}
            new = [lane for lane in wanted if lane not in self._links]
            for lane in new:
                self._add(lane)
            start = [self._links[lane] for lane in new] if self._started else []
        for link in start:
            link.start()
        for lane, link in gone.items():
            threading.Thread(target=link.stop, args=(_rest_body(lane, "lane-removed", _now()),),
                             name=f"lane-signal-stop-{lane}", daemon=True).start()

    def stop(self) -> None:
        """Disconnect cleanly: the Will is not sent, so each lane is set to stop first."""
        with self._lock:
            links = dict(self._links)
            self._started = False
        for lane, link in links.items():
            try:
                link.stop(_rest_body(lane, "gateway-offline", _now()))
            except Exception:
                log.exception("lane signal: could not stop the connection of a lane")

    def publish(self, signal: LaneSignal, reason: str = "decision") -> None:
        body = payload(signal, reason).to_json()
        with self._lock:  # held while handing to paho: two changes of a lane reach the broker in their order
            self._current[signal.lane] = body
            link = self._links.get(signal.lane)
            if link is not None:  # not connected: the birth after the next CONNACK carries the state set above
                link.publish_state(self.topic(signal.lane), body, {"content_type": "application/json"})

    def signal(self, lane: str, state: SignalState, pattern_hint: str = "", detail: LaneSignal | None = None
               ) -> None:  # LaneSignalSink
        self.publish(detail if detail is not None else LaneSignal(lane, state, None, "rest", None, _now()),
                     "decision" if detail is not None and detail.passage_id is not None else "rest")

    @property
    def connected(self) -> bool:
        return all(link.connected.is_set() for link in self._links.values())


def _rest_body(lane: str, reason: str, since: float) -> bytes:
    """The retained payload of ``lane`` at rest (the start, the Last Will, a clean stop, a removed lane)."""
    return payload(LaneSignal.at_rest(lane, since), reason).to_json()


def _now() -> float:
    import time

    return time.time()
