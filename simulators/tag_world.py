"""A scripted tag world on a virtual clock, shared by every reader simulator.

Tags are not "present" or "absent": each :class:`TagTrack` gives one tag an RSSI curve on
one antenna of one reader over time (a bell around the moment the truck is nearest), and a
read attempt rate.  Read attempts sit on a fixed time grid per track and each attempt's
noise comes from a seed derived from (world seed, track, attempt index), so the reads in
``[t0, t1)`` are the same however the caller slices time: a simulator can poll every 5 ms
or every second and the tests still see identical reads.

>>> world = TagWorld([TagTrack("reader-1", 1, "3074257bf7194e4000001a85", 0.0, 2.0,
...                            peak_time=1.0, peak_rssi=-45.0, rate_hz=50.0)], seed=7)
>>> reads = world.reads_between("reader-1", 0.0, 2.0)
>>> 0 < len(reads) <= 100 and all(r.rssi_dbm >= world.sensitivity_dbm for r in reads)
True
>>> reads == world.reads_between("reader-1", 0.0, 1.0) + world.reads_between("reader-1", 1.0, 2.0)
True

With ``repeat_s`` the scenario plays again and again (same reads, shifted in time):

>>> world.repeat_s = 10.0
>>> again = world.reads_between("reader-1", 10.0, 12.0)
>>> [round(r.time - 10.0, 9) for r in again] == [round(r.time, 9) for r in reads]
True
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class TagTrack:
    """One tag seen by one antenna of one reader between ``t_start`` and ``t_end``."""

    reader: str
    antenna: int
    epc_hex: str
    t_start: float
    t_end: float
    peak_time: float
    peak_rssi: float
    rate_hz: float = 40.0  # read attempts per second while in the field
    width_s: float | None = None  # bell width (seconds); default: a quarter of the stay
    pc: int | None = None  # PC word; default from the EPC length

    @property
    def pc_word(self) -> int:
        if self.pc is not None:
            return self.pc
        words = len(self.epc_hex) // 4
        return (words & 0x1F) << 11

    def rssi_at(self, t: float) -> float:
        width = self.width_s or max((self.t_end - self.t_start) / 4.0, 0.05)
        return self.peak_rssi - 20.0 * ((t - self.peak_time) / width) ** 2


@dataclass(frozen=True, slots=True)
class SimRead:
    reader: str
    antenna: int
    epc_hex: str
    pc: int
    time: float  # virtual seconds since scenario start
    rssi_dbm: float
    seq: int  # per-world sequence number of the attempt grid (stable across slicing)
    frequency_khz: int
    phase_deg: float


@dataclass
class TagWorld:
    tracks: Sequence[TagTrack]
    seed: int = 0
    sensitivity_dbm: float = -80.0
    noise_db: float = 2.0
    duration: float | None = None  # scenario length; ``None`` = end of the last track
    name: str = "scenario"
    repeat_s: float | None = None  # play the scenario again every ``repeat_s`` seconds (the demo)
    _by_reader: dict[str, list[tuple[int, TagTrack]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_reader = {}
        for index, track in enumerate(self.tracks):
            self._by_reader.setdefault(track.reader, []).append((index, track))
        if self.duration is None:
            self.duration = max((t.t_end for t in self.tracks), default=0.0)

    @property
    def readers(self) -> list[str]:
        return sorted(self._by_reader)

    def reads_between(
        self, reader: str, t0: float, t1: float, antennas: Iterable[int] | None = None
    ) -> list[SimRead]:
        """Reads of ``reader`` with ``t0 <= time < t1``, in time order."""
        if self.repeat_s:
            return self._repeated(reader, t0, t1, antennas)
        return self._reads(reader, t0, t1, antennas)

    def _repeated(self, reader: str, t0: float, t1: float, antennas: Iterable[int] | None) -> list[SimRead]:
        period = float(self.repeat_s or 0.0)
        out: list[SimRead] = []
        # Nothing happens before the scenario starts: a simulator whose clock starts in the future
        # (the demo aligns all of them on one t0) asks for negative times, which are not cycle -1.
        cycle = math.floor(max(t0, 0.0) / period)
        while cycle * period < t1:
            base = cycle * period
            for read in self._reads(reader, max(t0, base) - base, min(t1, base + period) - base, antennas):
                # Each cycle is a new pass of the same trucks: shift the time, keep seq unique.
                out.append(SimRead(read.reader, read.antenna, read.epc_hex, read.pc, read.time + base,
                                   read.rssi_dbm, read.seq + (cycle << 48), read.frequency_khz, read.phase_deg))
            cycle += 1
        return out

    def _reads(
        self, reader: str, t0: float, t1: float, antennas: Iterable[int] | None = None
    ) -> list[SimRead]:
        wanted = set(antennas) if antennas is not None else None
        out: list[SimRead] = []
        for index, track in self._by_reader.get(reader, ()):
            if wanted is not None and track.antenna not in wanted:
                continue
            lo, hi = max(t0, track.t_start), min(t1, track.t_end)
            if lo >= hi:
                continue
            step = 1.0 / track.rate_hz
            first = math.ceil((lo - track.t_start) / step - 1e-9)
            attempt = first
            while True:
                t = track.t_start + attempt * step
                if t >= hi:
                    break
                read = self._attempt(index, track, attempt, t)
                if read is not None:
                    out.append(read)
                attempt += 1
        out.sort(key=lambda r: (r.time, r.seq))
        return out

    def _attempt(self, index: int, track: TagTrack, attempt: int, t: float) -> SimRead | None:
        digest = hashlib.blake2b(
            struct.pack("<qqq", self.seed, index, attempt), digest_size=16
        ).digest()
        u1, u2, u3, u4 = struct.unpack("<IIII", digest)
        noise = (u1 / 2**32 - 0.5) * 2.0 * self.noise_db
        rssi = round(track.rssi_at(t) + noise, 1)
        if rssi < self.sensitivity_dbm:
            return None
        # Weak tags answer less often: probability rises linearly over 15 dB above sensitivity.
        p = min(1.0, (rssi - self.sensitivity_dbm) / 15.0 + 0.2)
        if u2 / 2**32 >= p:
            return None
        channel = u3 % 4  # ETSI EN 302 208 upper band: 865.7/866.3/866.9/867.5 MHz
        return SimRead(
            reader=track.reader,
            antenna=track.antenna,
            epc_hex=track.epc_hex,
            pc=track.pc_word,
            time=t,
            rssi_dbm=rssi,
            seq=(index << 32) | attempt,
            frequency_khz=865_700 + 600 * channel,
            phase_deg=round((u4 / 2**32) * 360.0, 1),
        )

    # -- building scenarios ------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path, seed: int | None = None) -> TagWorld:
        """Load a scenario YAML (see ``config/scenarios/`` for the format)."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(data, seed=seed, name=Path(path).stem)

    @classmethod
    def from_dict(cls, data: dict[str, Any], seed: int | None = None, name: str = "scenario") -> TagWorld:
        tracks: list[TagTrack] = []
        for truck in data.get("trucks", []):
            tracks += truck_passage(
                reader=truck["reader"],
                antennas=truck.get("antennas", [1, 2]),
                epcs=truck["epcs"],
                start=float(truck["start"]),
                dwell=float(truck.get("dwell", 4.0)),
                peak_rssi=float(truck.get("peak_rssi", -45.0)),
                rate_hz=float(truck.get("rate_hz", 40.0)),
                reverse=bool(truck.get("reverse", False)),
            )
            for cross in truck.get("cross_reads", []):
                tracks += truck_passage(
                    reader=cross["reader"],
                    antennas=cross.get("antennas", [1]),
                    epcs=truck["epcs"][: int(cross.get("count", len(truck["epcs"])))],
                    start=float(truck["start"]),
                    dwell=float(truck.get("dwell", 4.0)),
                    peak_rssi=float(cross.get("peak_rssi", -72.0)),
                    rate_hz=float(cross.get("rate_hz", 10.0)),
                )
        for raw in data.get("tracks", []):
            tracks.append(TagTrack(**raw))
        return cls(
            tracks,
            seed=int(data.get("seed", 0) if seed is None else seed),
            duration=data.get("duration"),
            name=name,
            repeat_s=data.get("repeat_s"),
        )

    @classmethod
    def steady(cls, reader: str, tags: int, rate: float, duration: float = 3600.0,
               antennas: Sequence[int] = (1,), seed: int = 0) -> TagWorld:
        """``tags`` tags always in the field, read ``rate`` times per second in total."""
        per_tag = rate / max(tags, 1) / len(antennas)
        tracks = [
            TagTrack(reader, antenna, synthetic_sgtin96(i), 0.0, duration,
                     peak_time=duration / 2, peak_rssi=-40.0, rate_hz=per_tag, width_s=1e9)
            for i in range(tags)
            for antenna in antennas
        ]
        world = cls(tracks, seed=seed, duration=duration, name=f"steady-{tags}x{rate:g}")
        world.noise_db = 0.0
        return world


def truck_passage(
    reader: str,
    antennas: Sequence[int],
    epcs: Sequence[str],
    start: float,
    dwell: float = 4.0,
    peak_rssi: float = -45.0,
    rate_hz: float = 40.0,
    reverse: bool = False,
) -> list[TagTrack]:
    """A truck driving past ``antennas`` in order (or reversed): each antenna sees every tag
    for ``dwell`` seconds, peaking in the middle, the next antenna a third of a dwell later."""
    order = list(reversed(antennas)) if reverse else list(antennas)
    tracks: list[TagTrack] = []
    rng = random.Random(f"{reader}:{start}")
    for step, antenna in enumerate(order):
        t_start = start + step * dwell / 3.0
        for epc in epcs:
            jitter = rng.uniform(-0.2, 0.2) * dwell
            tracks.append(
                TagTrack(reader, antenna, epc.lower(), t_start, t_start + dwell,
                         peak_time=t_start + dwell / 2 + jitter / 4,
                         peak_rssi=peak_rssi + rng.uniform(-4.0, 2.0), rate_hz=rate_hz)
            )
    return tracks


def synthetic_sgtin96(index: int, company_prefix: int = 952_012, item: int = 12_345,
                      filter_value: int = 1) -> str:
    """An SGTIN-96 hex for load worlds (partition 6: a 6-digit company prefix in 20 bits,
    indicator + item reference in 24 bits), serial = ``index``.  Real scenarios name their
    EPCs explicitly."""
    # partition 6: company prefix 20 bits (6 digits), item reference 24 bits (7 digits)
    value = (0x30 << 88) | (filter_value << 85) | (6 << 82) | (company_prefix << 62)
    value |= item << 38 | (index & ((1 << 38) - 1))
    return f"{value:024x}"
