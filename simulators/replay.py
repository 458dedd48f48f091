"""The scripted tag world's reads as the RFID drivers deliver them, for a replay through the lane engine.

:func:`world_reads` turns a :class:`~simulators.tag_world.TagWorld`'s read attempts into the normalised
:class:`~gateway.reads.Read` objects a reader's driver would yield, on host time ``t0 + virtual time``,
through the drivers' own EPC normaliser (:mod:`drivers.rfid`); :func:`gateway.lane.replay.replay` then
feeds them to an engine.  The offline demo summary, the lane tests and the lane benchmark use it.

>>> world = TagWorld([TagTrack("rdr", 1, "3074257bf7194e4000001a85", 0.0, 1.0, 0.5, -45.0, 20.0)], seed=1)
>>> reads = world_reads(world, t0=1000.0)
>>> reads[0].source, reads[0].channel, reads[0].identifier.key, reads[0].host_time >= 1000.0
('rdr', '1', '80614141123458.6789', True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from drivers.rfid import rfid_read
from gateway.reads import Read
from simulators.tag_world import SimRead, TagTrack, TagWorld

__all__ = ["TagTrack", "TagWorld", "sim_to_read", "world_reads"]


def sim_to_read(sim: SimRead, t0: float) -> Read:
    """One simulated read attempt as a driver delivers it, with its PC word (a decode failure is kept in
    ``error``)."""
    return rfid_read(sim.reader, str(sim.antenna), sim.epc_hex, round(t0 + sim.time, 6), pc=sim.pc,
                     source_time=sim.time, rssi_dbm=sim.rssi_dbm, frequency_khz=sim.frequency_khz,
                     phase_deg=sim.phase_deg, seq=sim.seq)


def world_reads(world: TagWorld, t0: float = 0.0, t1: float | None = None, start: float = 0.0,
                readers: Sequence[str] | None = None) -> list[Read]:
    """All reads of ``readers`` (default: every reader) in ``[start, t1)`` virtual seconds, time-ordered."""
    end = world.duration if t1 is None else t1
    sims: list[SimRead] = []
    for reader in readers if readers is not None else world.readers:
        sims += world.reads_between(reader, start, end if end is not None else math.inf)
    sims.sort(key=lambda r: (r.time, r.reader, r.seq))
    return [sim_to_read(sim, t0) for sim in sims]
