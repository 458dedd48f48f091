"""What the gateway is doing right now: the state behind the dashboard and the status API.

:class:`LiveState` keeps, per lane, the open passage and the last closed ones with their
enrichment summary, per source its health and read counters, and recent flags.  It also
fans events out to dashboard subscribers (Server-Sent Events).  A slow browser never slows the
pipeline: each subscriber has a bounded queue and loses its oldest entries first (the data
path to MQTT goes through the durable outbox, never through here).

A source that is not delivering carries a ``warning`` in plain words for the lane's officer
(:func:`source_problem` reads the driver's detail; the raw detail stays in ``detail`` for the
technician):

>>> view = SourceView("llrp-sim", "reader", "llrp://127.0.0.1:5084", ["lane1"], since=0.0)
>>> view.update("reconnecting", "ConnectionRefusedError: [Errno 111] Connect call failed; retry in 0.50 s",
...             1_800_000_000.0)
>>> warning = view.as_dict()["warning"]
>>> warning["text"]
'reader llrp-sim unreachable since 08:00 UTC, retrying'
>>> warning["problem"], warning["retrying"], warning["since"]
('unreachable', True, 1800000000.0)
>>> view.update("connected", "127.0.0.1:5084 LLRP 1.1", 1_800_000_060.0)
>>> view.as_dict()["warning"] is None
True
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gateway.reads import SourceStatus, health

# A driver's detail (an exception's class and text, a serial port's complaint) -> what the officer reads.
# The first pattern that matches wins; the texts come from the drivers (LLRP, serial, camera, ANPR), the
# supervisor ("driver failed: ...", "cannot open: ...") and the OS (errno names and messages).
_PROBLEM_TEXTS = (
    (r"another client is connected|ConnectionAttemptEvent status", "busy (another client is connected)"),
    (r"\bTLS\b|\bSSL\b|certificate", "TLS error"),
    (r"\b401\b|\b403\b|unauthori[sz]ed|forbidden|credential|password|authenticat", "refused the credentials"),
    (r"permission denied|Errno 13\b", "permission denied"),
    (r"refused|Errno 111\b|Connect call failed|No route to host|unreachable|Errno 11[0-3]\b|Errno 101\b|"
     r"gaierror|Name or service not known|resolve", "unreachable"),
    (r"timed? ?out|TimeoutError|no answer|Stalled|not responding|no ConnectionAttemptEvent", "not responding"),
    (r"No such file|FileNotFound|could not open port|no such device|not found", "not found"),
    (r"reset|broken pipe|connection (?:ended|lost|closed)|EOF|IncompleteRead", "disconnected"),
    (r"driver failed", "failed (driver error)"),
    (r"cannot open|not available|DriverNotAvailable", "cannot be started (check its configuration)"),
)
_PROBLEMS = tuple((re.compile(pattern, re.IGNORECASE), words) for pattern, words in _PROBLEM_TEXTS)


def source_problem(state: str, detail: str | None) -> str | None:
    """What is wrong with a source, in a few plain words (``None``: nothing, it delivers or is starting).

    >>> source_problem("reconnecting", "OSError: [Errno 113] No route to host; retry in 2.00 s")
    'unreachable'
    >>> source_problem("reconnecting", "restarting in 1.5s")
    'disconnected'
    >>> source_problem("error", "reader status 0x0504 TEMPERATURE: too hot")
    'reports an error'
    >>> source_problem("connected", "127.0.0.1:5084 LLRP 1.1") is None
    True
    """
    if state in ("connected", "starting"):
        return None
    if state == "stopped":
        return "stopped"
    text = detail or ""
    for pattern, words in _PROBLEMS:
        if pattern.search(text):
            return words
    return "reports an error" if state == "error" else "disconnected"


@dataclass
class SourceView:
    """A reader or camera as the dashboard shows it: its driver's state and its read counters.

    ``problem`` (plain words, :func:`source_problem`) and ``problem_since`` keep what went wrong and
    since when while the source is down, through its reconnect attempts (``starting``, ``reconnecting``,
    ``error`` again), until it is connected again.
    """

    id: str
    kind: str  # "reader" or "camera"
    url: str
    lanes: list[str]
    state: str = "starting"
    detail: str = ""
    since: float = field(default_factory=time.time)
    reads: int = 0
    errors: int = 0
    last_read: float | None = None
    restarts: int = 0
    problem: str | None = None
    problem_since: float | None = None

    def update(self, state: str, detail: str, when: float) -> None:
        """The driver reports ``state`` (with its ``detail``) at ``when`` (epoch seconds)."""
        if self.state != state:
            self.since = when
        self.state, self.detail = state, detail
        if state == "connected":
            self.problem = self.problem_since = None
            return
        problem = source_problem(state, detail)
        if problem is None:  # starting: a restart keeps the problem that caused it
            return
        if self.problem_since is None:
            self.problem_since = when
        # "disconnected" is what a restart notice says ("restarting in 1.5s"): it does not hide the cause
        if self.problem is None or problem != "disconnected" or state == "stopped":
            self.problem = problem

    def warning(self) -> dict[str, Any] | None:
        """The lane-level warning while the source does not deliver: ``problem`` in plain words, since when,
        whether the gateway keeps trying, and the sentence (UTC) for consumers without a clock format."""
        if self.problem is None or self.problem_since is None:
            return None
        retrying = self.state != "stopped" and not (self.state == "error" and self.problem.startswith("cannot"))
        stamp = time.strftime("%H:%M", time.gmtime(self.problem_since))
        text = f"{self.kind} {self.id} {self.problem} since {stamp} UTC" + (", retrying" if retrying else "")
        return {"problem": self.problem, "retrying": retrying, "since": self.problem_since, "text": text}

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "lanes": self.lanes, "state": self.state, "detail": self.detail,
            "since": self.since, "reads": self.reads, "errors": self.errors, "last_read": self.last_read,
            "restarts": self.restarts, "degraded": health(self.state) != "ok", "warning": self.warning(),
        }


@dataclass
class LaneView:
    id: str
    name: str | None
    current: dict[str, Any] | None = None  # the open passage, as published on the passage topic
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)  # input label -> {"active", "since"}
    signal: dict[str, Any] | None = None  # the lane signal (decisions configured): state, outcome, source ...

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "name": self.name, "current": self.current, "recent": list(self.recent),
               "triggers": self.triggers}
        if self.signal is not None:
            out["signal"] = self.signal
        return out


CLOSE = "close"  # the last message of every subscriber queue (see LiveState.close)


class LiveState:
    def __init__(self, lanes: list[tuple[str, str | None]], history: int = 500) -> None:
        self.lanes: dict[str, LaneView] = {lane_id: LaneView(lane_id, name) for lane_id, name in lanes}
        self.sources: dict[str, SourceView] = {}
        self.passages: deque[dict[str, Any]] = deque(maxlen=history)  # closed passages with enrichment
        self.flags: deque[dict[str, Any]] = deque(maxlen=200)
        self.mqtt_connected = False
        # the broker connection as the dashboard shows it: connected, and if not, why (a reason word of
        # gateway.publishing.mqtt_client.failure_reason), the failure in words and since when
        self.mqtt: dict[str, Any] = {"connected": False, "reason": None, "error": None, "since": None}
        self.started_at = time.time()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- updates ------------------------------------------------------------------------

    def set_lanes(self, lanes: list[tuple[str, str | None]]) -> None:
        """The configured lanes changed (a reload): a lane kept keeps its open and recent passages."""
        self.lanes = {lane_id: self.lanes.get(lane_id) or LaneView(lane_id, name) for lane_id, name in lanes}
        for lane_id, name in lanes:
            self.lanes[lane_id].name = name

    def add_source(self, source_id: str, kind: str, url: str, lanes: list[str]) -> SourceView:
        health = self.sources.get(source_id)
        if health is None:
            health = self.sources[source_id] = SourceView(source_id, kind, url, lanes)
        return health

    def source_status(self, status: SourceStatus) -> None:
        health = self.sources.get(status.source)
        if health is None:
            return
        health.update(status.state, status.detail, status.host_time)
        self.broadcast("source", health.as_dict())

    def trigger_states(self, states: dict[str, dict[str, tuple[bool, float]]]) -> None:
        """Each lane's presence inputs (loops, barriers, controllers): on or off, since when (the lane engine's)."""
        changed = False
        for lane_id, inputs in states.items():
            lane = self.lanes.get(lane_id)
            if lane is None:
                continue
            view = {label: {"active": active, "since": since} for label, (active, since) in sorted(inputs.items())}
            if view != lane.triggers:
                lane.triggers, changed = view, True
        if changed:
            self.broadcast("triggers", {lane_id: lane.triggers for lane_id, lane in self.lanes.items()})

    def passage_event(self, kind: str, payload: dict[str, Any]) -> None:
        lane = self.lanes.get(str(payload.get("lane")))
        if lane is not None:
            lane.current = None if kind == "end" else payload
        self.broadcast("passage", {"kind": kind, **payload})

    def passage_result(self, record: dict[str, Any]) -> None:
        """A closed passage with its enrichment (links, flags, routing)."""
        self.passages.append(record)
        lane = self.lanes.get(str(record.get("lane")))
        if lane is not None:
            lane.recent.appendleft(record)
        for flag in record.get("flags", []):
            self.flags.appendleft({"lane": record.get("lane"), "passage": record.get("id"),
                                   "time": record.get("closed_at"), "declarations": record.get("declarations", []),
                                   **flag})
        self.broadcast("result", record)

    def passage_revision(self, record: dict[str, Any]) -> None:
        """A later revision of a closed passage's record (late data): it replaces the one shown."""
        pid = record.get("id")
        for rows in (self.passages, *(lane.recent for lane in self.lanes.values())):
            for index, row in enumerate(rows):
                if row.get("id") == pid:
                    rows[index] = record
        kept = [flag for flag in self.flags if flag.get("passage") != pid]  # the revision's flags replace them
        self.flags.clear()
        self.flags.extend({"lane": record.get("lane"), "passage": pid, **flag} for flag in record.get("flags", []))
        self.flags.extend(kept)
        self.broadcast("result", record)

    def lane_signal(self, lane_id: str, signal: dict[str, Any]) -> None:
        """A lane's signal changed (``signal``: state, outcome, source, passage_id, since)."""
        lane = self.lanes.get(lane_id)
        if lane is not None:
            lane.signal = signal
        self.broadcast("signal", {"lane": lane_id, **signal})

    # -- fan-out ------------------------------------------------------------------------

    def subscribe(self, maxsize: int = 256) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._loop = asyncio.get_running_loop()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def broadcast(self, kind: str, data: dict[str, Any]) -> None:
        message = {"type": kind, "data": data, "time": time.time()}
        loop = self._loop
        if loop is None or not self._subscribers:
            return
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._deliver(message)
        else:  # called from a worker thread (a camera grabber, a test): hand over to the loop
            loop.call_soon_threadsafe(self._deliver, message)

    def close(self) -> None:
        """The service is stopping: end every event stream.  An open dashboard keeps its stream
        open forever, and the HTTP server waits for open responses before it exits."""
        self.broadcast(CLOSE, {})

    def _deliver(self, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # drop the oldest: the dashboard catches up from /api/state
            queue.put_nowait(message)

    def snapshot(self) -> dict[str, Any]:
        return {
            "lanes": [lane.as_dict() for lane in self.lanes.values()],
            "sources": [health.as_dict() for health in self.sources.values()],
            "flags": list(self.flags)[:50],
            "mqtt_connected": self.mqtt_connected,
            "mqtt": {**self.mqtt, "connected": self.mqtt_connected},
            "uptime_s": round(time.time() - self.started_at, 1),
        }
