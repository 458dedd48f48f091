"""Direction of a passage: from the order of entry/exit triggers, else from antenna order.

*Triggers* (GPI light barriers, entry/exit cameras) win when both kinds fired: entry before
exit is the lane's forward direction.  Otherwise each identifier votes from the zones that saw
it: it keeps, per zone, the first and last read and the RSSI-weighted mean time (the peak of
its RSSI bell, where the slope turns).  Forward means the lowest zone (entry < portal < exit)
was both entered *and* left before the highest one; the reverse order votes backward; mixed
orders (a truck that pulls in and backs out the way it came) vote "inconsistent".  A direction
needs ``agreement`` of all votes; no votes at all means no evidence.

Forward is ``inbound`` unless the lane's ``default_direction`` is ``outbound``.

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


def vote(zones: Mapping[str, ZoneTrack]) -> int | None:
    """+1 forward, -1 backward, 0 inconsistent, ``None`` when only one zone saw it."""
    seen = sorted(zones, key=_ORDER.__getitem__)
    if len(seen) < 2:
        return None
    a, c = zones[seen[0]], zones[seen[-1]]
    signs = {_sign(c.first - a.first), _sign(c.last - a.last)}
    if signs == {1}:
        return 1
    if signs == {-1}:
        return -1
    if 0 in signs and len(signs) == 2:  # one edge tied (coarse reads): let the RSSI peak decide
        return _sign(c.peak - a.peak) or 0
    return 0


def trigger_sense(roles: Sequence[str]) -> int | None:
    """+1 if the first of entry/exit was followed by the other one, -1 the other way round."""
    barriers = [role for role in roles if role in ("entry", "exit")]
    if not barriers:
        return None
    first = barriers[0]
    if any(role != first for role in barriers[1:]):
        return 1 if first == "entry" else -1
    return None


def decide(roles: Sequence[str], votes: Sequence[int], lane_default: Direction, agreement: float) -> Direction:
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
        return lane_default
    forward_is: Direction = "outbound" if lane_default == "outbound" else "inbound"
    if sense > 0:
        return forward_is
    return "inbound" if forward_is == "outbound" else "outbound"


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)
