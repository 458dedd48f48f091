"""Drive a lane engine from the scripted tag world (tests, the demo and the benchmark).

:func:`world_reads` turns a :class:`~simulators.tag_world.TagWorld`'s reads into normalised
:class:`~gateway.reads.Read` objects on host time ``t0 + virtual time``, decoding each EPC
once (by default with :mod:`gateway.gs1.epc`; tests may pass a table).  :func:`replay` feeds
events in time order and ticks the engine on a fixed grid, like the service's periodic tick.

>>> from simulators.tag_world import TagTrack, TagWorld
>>> from gateway.identity import Identifier
>>> table = {"3074257bf7194e4000001a85": Identifier.from_elements([("01", "80614141123458"), ("21", "6789")])}
>>> world = TagWorld([TagTrack("rdr", 1, "3074257bf7194e4000001a85", 0.0, 1.0, 0.5, -45.0, 20.0)], seed=1)
>>> reads = world_reads(world, t0=1000.0, decode=table.__getitem__)
>>> reads[0].source, reads[0].channel, reads[0].identifier.key, reads[0].host_time >= 1000.0
('rdr', '1', '80614141123458.6789', True)
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from gateway.identity import Identifier
from gateway.lane.engine import LaneEngine
from gateway.lane.events import LaneEvent
from gateway.lane.triggers import Trigger
from gateway.reads import Read, SourceStatus, VehicleRead
from simulators.tag_world import SimRead, TagWorld

Decoder = Callable[[str], Identifier]
EngineInput = Read | Trigger | SourceStatus | VehicleRead


def gs1_epc_decoder() -> Decoder:
    """EPC hex -> Identifier with the project's EPC codec (raises its typed errors)."""
    from gateway.gs1.epc import decode

    def _decode(epc_hex: str) -> Identifier:
        return decode(epc_hex).to_identifier()

    return _decode


def sim_to_read(sim: SimRead, t0: float, decode: Decoder) -> Read:
    """One simulated read as the drivers would deliver it (a decode failure is kept in ``error``)."""
    identifier, error = _safe(decode)(sim.epc_hex)
    return _to_read(sim, t0, identifier, error)


def _to_read(sim: SimRead, t0: float, identifier: Identifier | None, error: str | None) -> Read:
    return Read(source=sim.reader, channel=str(sim.antenna), carrier="rfid", raw=sim.epc_hex,
                host_time=round(t0 + sim.time, 6), source_time=sim.time, rssi_dbm=sim.rssi_dbm,
                identifier=identifier, error=error, pc=sim.pc, frequency_khz=sim.frequency_khz,
                phase_deg=sim.phase_deg, seq=sim.seq)


def world_reads(world: TagWorld, t0: float = 0.0, t1: float | None = None, start: float = 0.0,
                readers: Sequence[str] | None = None, decode: Decoder | None = None) -> list[Read]:
    """All reads of ``readers`` (default: every reader) in ``[start, t1)`` virtual seconds, time-ordered."""
    cached = lru_cache(maxsize=None)(_safe(decode or gs1_epc_decoder()))
    end = world.duration if t1 is None else t1
    sims: list[SimRead] = []
    for reader in readers if readers is not None else world.readers:
        sims += world.reads_between(reader, start, end if end is not None else math.inf)
    sims.sort(key=lambda r: (r.time, r.reader, r.seq))
    return [_to_read(sim, t0, *cached(sim.epc_hex)) for sim in sims]


def _safe(decode: Decoder) -> Callable[[str], tuple[Identifier | None, str | None]]:
    def run(epc_hex: str) -> tuple[Identifier | None, str | None]:
        try:
            return decode(epc_hex), None
        except Exception as exc:
            return None, f"{type(exc).__name__}: {exc}"

    return run


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
