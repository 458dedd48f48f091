"""Lane signals on LLRP general-purpose outputs: a lane's state becomes levels on its readers' GPO ports.

The site configuration maps, per lane, each signal state (``stop``, ``proceed``, ``inspection``, ``hold``,
``refuse``) to the outputs it drives (``lanes[].gpo``).  :func:`plan` is the pure part: the writes one
state needs, ``(reader, port, high, delay)``.  Every port the lane names anywhere is written in every
state: the state's steady outputs get their ``value``, a pulse gets ``value`` then the opposite after
``pulse_ms`` (a barrier's "open" contact), and every other port of the lane goes to the opposite of its
``value`` (off), so that the outputs never keep a previous state's lamp on.

>>> from gateway.config import parse_config
>>> site = parse_config({"site": "s", "gateway": "g", "lanes": [{"id": "l1",
...     "readers": [{"id": "r", "url": "llrp://10.0.0.5"}],
...     "gpo": {"stop": [{"reader": "r", "port": 1}],
...             "proceed": [{"reader": "r", "port": 2},
...                         {"reader": "r", "port": 3, "pattern": "pulse", "pulse_ms": 800}]}}]})
>>> for w in plan(site.lane("l1"), "proceed"):
...     print(w)
GpoWrite(reader='r', port=1, high=False, delay_s=0.0)
GpoWrite(reader='r', port=2, high=True, delay_s=0.0)
GpoWrite(reader='r', port=3, high=True, delay_s=0.0)
GpoWrite(reader='r', port=3, high=False, delay_s=0.8)
>>> [(w.port, w.high) for w in plan(site.lane("l1"), "inspection")]  # not mapped: everything off
[(1, False), (2, False), (3, False)]

:class:`GpoSignalSink` is the I/O shell, a ``LaneSignalSink`` (``signal(lane, state)``, callable from any
thread): it hands the writes to each reader's :class:`~drivers.llrp.gpo.GpoOutputs`, which the running
LLRP client writes with SET_READER_CONFIG / GPOWriteData (again after every reconnect), runs the delayed
writes on timers (a newer state cancels them), and puts a lane back to ``stop`` after
``gpo_rest_after_s`` when nothing replaced its state.  :meth:`GpoSignalSink.start` sets every lane to rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers.llrp.gpo import GpoOutputs, outputs_for
from gateway.config.site import REST_STATE, SIGNAL_STATES, LaneConfig, SignalState, SiteConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GpoWrite:
    """Set output ``port`` of ``reader`` to ``high``, ``delay_s`` after the state was entered."""

    reader: str
    port: int
    high: bool
    delay_s: float = 0.0


def plan(lane: LaneConfig, state: SignalState) -> list[GpoWrite]:
    """The writes that show ``state`` on ``lane``'s outputs (see the module docstring); pure."""
    now = {(w.reader, w.port): w.high for w in _all_off(lane)}
    later: list[GpoWrite] = []
    for out in lane.gpo.get(state, []):
        key = (out.reader, out.port)
        now[key] = out.value
        if out.pattern == "pulse":
            later.append(GpoWrite(out.reader, out.port, not out.value, out.pulse_ms / 1000.0))
    return [GpoWrite(r, p, high) for (r, p), high in sorted(now.items())] + later


def _all_off(lane: LaneConfig) -> list[GpoWrite]:
    """Every output of ``lane`` off (the opposite of its ``value``): a lane removed by a reload."""
    off: dict[tuple[str, int], bool] = {}
    for outputs in lane.gpo.values():
        for out in outputs:
            off.setdefault((out.reader, out.port), not out.value)
    return [GpoWrite(r, p, high) for (r, p), high in sorted(off.items())]


class GpoSignalSink:
    """Lane signal states on reader outputs (a ``LaneSignalSink``; thread-safe)."""

    def __init__(self, config: SiteConfig, outputs: Callable[[str], GpoOutputs] = outputs_for) -> None:
        self._lanes = {lane.id: lane for lane in config.lanes}
        self._outputs = outputs
        self._lock = threading.RLock()  # a timer's action runs under it: a newer state cannot slip in
        self._generation: dict[str, int] = dict.fromkeys(self._lanes, 0)
        self._timers: dict[str, list[threading.Timer]] = {lane: [] for lane in self._lanes}
        self.states: dict[str, SignalState] = {}  # lane -> the state its outputs show
        self._closed = False

    def reconfigure(self, config: SiteConfig) -> None:
        """A configuration reload: a removed lane's outputs go off, a lane whose mapping changed (or a new
        lane) turns off the ports it no longer uses and shows its current state (a new one rests) with the
        new mapping; the other lanes are untouched."""
        with self._lock:
            old, self._lanes = self._lanes, {lane.id: lane for lane in config.lanes}
            for lane_id, lane in old.items():
                if lane_id not in self._lanes:
                    for timer in self._timers.pop(lane_id, []):
                        timer.cancel()
                    self._generation.pop(lane_id, None)
                    self.states.pop(lane_id, None)
                    self._apply(_all_off(lane))
            for lane_id, lane in self._lanes.items():
                self._generation.setdefault(lane_id, 0)
                self._timers.setdefault(lane_id, [])
                before = old.get(lane_id)
                if before is None or before.gpo != lane.gpo or before.gpo_rest_after_s != lane.gpo_rest_after_s:
                    if before is not None:  # ports the lane no longer uses go off
                        kept = {(w.reader, w.port) for w in _all_off(lane)}
                        self._apply([w for w in _all_off(before) if (w.reader, w.port) not in kept])
                    self.signal(lane_id, self.states.get(lane_id, REST_STATE))

    def start(self) -> None:
        """Every lane starts at rest (``stop``), whatever the outputs showed before."""
        for lane in self._lanes:
            self.signal(lane, REST_STATE)

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            for timers in self._timers.values():
                for timer in timers:
                    timer.cancel()
                timers.clear()

    def signal(self, lane: str, state: str, pattern_hint: str = "", detail: object = None) -> None:
        if state not in SIGNAL_STATES:
            raise ValueError(f"unknown lane signal state {state!r} (known: {', '.join(SIGNAL_STATES)})")
        config = self._lanes.get(lane)
        if config is None:
            log.warning("lane signal for a lane that is not configured: ignored")
            return
        with self._lock:
            if self._closed:
                return
            self._generation[lane] += 1
            generation = self._generation[lane]
            for timer in self._timers[lane]:
                timer.cancel()
            self._timers[lane] = []
            self.states[lane] = state
            writes = plan(config, state)
            self._apply([w for w in writes if w.delay_s <= 0])
            for w in writes:
                if w.delay_s > 0:
                    self._later(lane, generation, w.delay_s, lambda w=w: self._apply([w]))  # type: ignore[misc]
            rest_after = config.gpo_rest_after_s
            if state != REST_STATE and rest_after is not None:
                self._later(lane, generation, rest_after, lambda: self.signal(lane, REST_STATE))

    def _later(self, lane: str, generation: int, delay_s: float, action: Callable[[], None]) -> None:
        def fire() -> None:
            with self._lock:
                if self._generation.get(lane) == generation and not self._closed:
                    action()

        timer = threading.Timer(delay_s, fire)
        timer.daemon = True
        self._timers[lane].append(timer)
        timer.start()

    def _apply(self, writes: list[GpoWrite]) -> None:
        by_reader: dict[str, dict[int, bool]] = {}
        for w in writes:
            by_reader.setdefault(w.reader, {})[w.port] = w.high
        for reader, levels in by_reader.items():
            self._outputs(reader).set(levels)
