"""Direction of a passage: from the order of entry/exit triggers, else from antenna order.

*Triggers* (GPI light barriers, entry/exit cameras) win when both kinds fired: entry before
exit is the lane's forward direction.  Otherwise each identifier votes from the zones that saw
it: it keeps, per zone, the first and last read and the RSSI-weighted mean time (the peak of
its RSSI bell, where the slope turns).  Forward means the lowest zone (entry < portal < exit)
was both entered *and* left before the highest one; the reverse order votes backward; mixed
orders (a truck that pulls in and backs out the way it came) vote "inconsistent".  A direction
needs ``agreement`` of all votes; no votes at all means no evidence.

Forward is ``inbound`` unless the lane's ``default_direction`` is ``outbound``.

While a passage is open its tracks are still growing, and an order read off them is a guess: a tag
seen at the entry and the portal antennas at once, or only at the entry so far, says nothing yet.  So
an open passage's direction is ``unknown`` until the evidence decides it (``final=False``): both
barriers fired, or identifiers whose vote is *settled*: they were seen in two zones and have left the
zone they were seen in first (no read there since ``left_before``, the engine's ``depart_after_s``
ago).  The lane's default is a fallback for the closed passage only.

>>> moving = {"entry": ZoneTrack(0.0, 4.0, 1.0, 2.0), "exit": ZoneTrack(1.3, 5.3, 1.0, 3.3)}
>>> vote(moving, left_before=3.0), vote(moving, left_before=4.0)  # still at the entry / left it
(None, 1)
>>> decide([], [], "inbound", 0.6, final=False), decide(["entry"], [], "inbound", 0.6, final=False)
('unknown', 'unknown')
>>> decide(["entry", "exit"], [], "inbound", 0.6, final=False), decide([], [1], "inbound", 0.6, final=False)
('inbound', 'inbound')

>>> entry, exit_ = ZoneTrack(0.0, 4.0, 1.0, 2.0), ZoneTrack(1.3, 5.3, 1.0, 3.3)
>>> vote({"entry": entry, "exit": exit_}), vote({"exit": entry, "entry": exit_})
(1, -1)
>>> vote({"entry": ZoneTrack(0.0, 9.0, 1.0, 4.5), "exit": ZoneTrack(1.3, 7.7, 1.0, 4.5)})
0
>>> decide(["entry", "exit"], [], "unknown", 0.6), decide([], [1, 1, 0], "unknown", 0.6)
('inbound', 'inbound')
>>> decide([], [1, -1], "inbound", 0.6), decide([], [], "inbound", 0.6), decide(["exit", "entry"], [], "outbound", 0.6)
('unknown', 'inbound', 'inbound')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.lane.passage import Direction

_ORDER = {"entry": 0, "portal": 1, "exit": 2}


@dataclass(slots=True)
class ZoneTrack:
    """One identifier in one zone: first/last read and the RSSI-power-weighted time sums."""

    first: float
    last: float
    weight: float  # sum of read powers (mW); barcode reads weigh the camera equivalent
    weighted_time: float  # sum of power * time

    def add(self, t: float, power: float) -> None:
        if t < self.first:
            self.first = t
        elif t > self.last:
            self.last = t
        self.weight += power
        self.weighted_time += power * t

    @property
    def peak(self) -> float:
        return self.weighted_time / self.weight if self.weight > 0 else (self.first + self.last) / 2


def vote(zones: Mapping[str, ZoneTrack], left_before: float | None = None) -> int | None:
    """+1 forward, -1 backward, 0 inconsistent, ``None`` when only one zone saw it.

    With ``left_before`` (an open passage) only a settled order counts: forward once the lowest zone
    has had no read since ``left_before``, backward once the highest one has; otherwise ``None``.
    """
    seen = sorted(zones, key=_ORDER.__getitem__)
    if len(seen) < 2:
        return None
    a, c = zones[seen[0]], zones[seen[-1]]
    signs = {_sign(c.first - a.first), _sign(c.last - a.last)}
    if signs == {1}:
        sense = 1
    elif signs == {-1}:
        sense = -1
    elif 0 in signs and len(signs) == 2:  # one edge tied (coarse reads): let the RSSI peak decide
        sense = _sign(c.peak - a.peak)
    else:
        sense = 0
    if left_before is None:
        return sense
    left_first = a if sense > 0 else c  # the zone the order says the identifier left first
    return sense if sense and left_first.last <= left_before else None


def trigger_sense(roles: Sequence[str]) -> int | None:
    """+1 if the first of entry/exit was followed by the other one, -1 the other way round."""
    barriers = [role for role in roles if role in ("entry", "exit")]
    if not barriers:
        return None
    first = barriers[0]
    if any(role != first for role in barriers[1:]):
        return 1 if first == "entry" else -1
    return None


def decide(roles: Sequence[str], votes: Sequence[int], lane_default: Direction, agreement: float,
           final: bool = True) -> Direction:
    """The direction from the barriers' order, else the votes; with neither, the lane's default for a
    closed passage (``final``) and ``unknown`` for an open one."""
    sense = trigger_sense(roles)
    if sense is None and votes:
        forward = sum(1 for v in votes if v > 0)
        backward = sum(1 for v in votes if v < 0)
        if forward >= agreement * len(votes):
            sense = 1
        elif backward >= agreement * len(votes):
            sense = -1
        else:
            return "unknown"
    if sense is None:
        return lane_default if final else "unknown"
    forward_is: Direction = "outbound" if lane_default == "outbound" else "inbound"
    if sense > 0:
        return forward_is
    return "inbound" if forward_is == "outbound" else "outbound"


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)
