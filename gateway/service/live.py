"""What the gateway is doing right now: the state behind the dashboard and the status API.

:class:`LiveState` keeps, per lane, the open passage and the last closed ones with their
enrichment summary, per source its health and read counters, and recent flags.  It also
fans events out to dashboard subscribers (Server-Sent Events).  A slow browser never slows the
pipeline: each subscriber has a bounded queue and loses its oldest entries first (the data
path to MQTT goes through the durable outbox, never through here).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gateway.reads import SourceStatus, health


@dataclass
class SourceView:
    """A reader or camera as the dashboard shows it: its driver's state and its read counters."""

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "lanes": self.lanes, "state": self.state, "detail": self.detail,
            "since": self.since, "reads": self.reads, "errors": self.errors, "last_read": self.last_read,
            "restarts": self.restarts, "degraded": health(self.state) != "ok",
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
        if health.state != status.state:
            health.since = status.host_time
        health.state, health.detail = status.state, status.detail
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
            self.flags.appendleft({"lane": record.get("lane"), "passage": record.get("id"), **flag})
        self.broadcast("result", record)

    def passage_revised(self, record: dict[str, Any]) -> None:
        """A closed passage decided again (a late decision): its record replaced where it is shown."""
        pid = record.get("id")
        for records in (self.passages, *(lane.recent for lane in self.lanes.values())):
            for i, old in enumerate(records):
                if old.get("id") == pid:
                    records[i] = record
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
            "uptime_s": round(time.time() - self.started_at, 1),
        }
