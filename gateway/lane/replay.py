"""Drive a lane engine from recorded or scripted events, on their own clock (tests, the demo, benchmarks).

:func:`replay` feeds events in time order and ticks the engine on a fixed grid, like the service's
periodic tick; :func:`merge` interleaves time-ordered streams (RFID reads, camera reads, triggers).
The simulators' scripted tag world becomes such a stream with :func:`simulators.replay.world_reads`.

>>> from gateway.config import parse_config
>>> from gateway.identity import Identifier
>>> from gateway.lane.engine import LaneEngine
>>> engine = LaneEngine.from_site(parse_config({"site": "bx", "gateway": "gw", "lanes": [{"id": "lane1",
...     "readers": [{"id": "rdr", "url": "llrp://127.0.0.1", "antennas": {1: {"zone": "portal"}}}]}]}))
>>> sscc = Identifier.from_elements([("00", "106141411234567897")])
>>> reads = [Read("rdr", "1", "rfid", "31..", 100.0 + i * 0.1, identifier=sscc) for i in range(5)]
>>> [(e.kind, e.passage.close_reason) for e in replay(engine, reads, until=120.0) if isinstance(e, PassageEvent)]
[('new', None), ('end', 'quiet')]
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from gateway.lane.engine import LaneEngine
from gateway.lane.events import LaneEvent
from gateway.lane.passage import PassageEvent
from gateway.lane.triggers import Trigger
from gateway.reads import Read, SourceStatus, VehicleRead

EngineInput = Read | Trigger | SourceStatus | VehicleRead

__all__ = ["EngineInput", "PassageEvent", "merge", "replay"]


def _time(event: EngineInput) -> float:
    return event.host_time


def merge(*streams: Iterable[EngineInput]) -> list[EngineInput]:
    """Merge time-ordered event streams into one (stable for equal times)."""
    return list(heapq.merge(*streams, key=_time))


def replay(engine: LaneEngine, events: Iterable[EngineInput], until: float, tick_every: float = 0.25,
           start: float | None = None) -> list[LaneEvent]:
    """Feed ``events`` (time-ordered) and tick every ``tick_every`` host seconds up to ``until``."""
    out: list[LaneEvent] = []
    items = list(events)
    if start is None:
        start = items[0].host_time if items else until
    next_tick = start
    for event in items:
        while next_tick <= event.host_time:
            out += engine.tick(next_tick)
            next_tick += tick_every
        out += engine.feed(event)
    while next_tick <= until:
        out += engine.tick(next_tick)
        next_tick += tick_every
    return out
