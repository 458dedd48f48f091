"""What the lane engine says besides passages: arrivals, departures and its counters.

An identifier *arrives* in a lane when it has passed the filters, reached the minimum read
count and won the cross-lane arbitration; it *departs* after ``depart_after_s`` of absence
(``reason="absent"``) or when the arbitration moves it to another lane (``reason="moved"``, and
the arrival in the new lane names ``from_lane``): EdgeX's Arrived / Moved / Departed.

>>> s = LaneStats()
>>> s.drop("below_rssi"); s.drop("below_rssi"); s.reads = 2
>>> s.as_dict()["dropped"]
{'below_rssi': 2}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from gateway.identity import Identifier
from gateway.lane.passage import PassageEvent

IdentifierEventKind = Literal["arrival", "departure"]
IdentifierEventReason = Literal["qualified", "returned", "moved", "absent"]


@dataclass(frozen=True, slots=True)
class IdentifierEvent:
    kind: IdentifierEventKind
    identifier: Identifier
    lane: str
    time: float  # host time at which it became true (a departure: last read + depart_after_s)
    reason: IdentifierEventReason
    confidence: float = 1.0  # lane-assignment confidence at that moment
    from_lane: str | None = None  # arrival after a move: the lane it left


LaneEvent = IdentifierEvent | PassageEvent


@dataclass(slots=True)
class LaneStats:
    """Counters: every read ends in exactly one of accepted / dropped[reason]; accepted reads are
    then ``pending`` (below min_reads), ``deduplicated`` (inside the dedup window) or observations."""

    reads: int = 0
    accepted: int = 0
    pending: int = 0
    deduplicated: int = 0
    observations: int = 0
    triggers: int = 0
    vehicle_reads: int = 0  # plates and container codes (ANPR / OCR)
    vehicle_waiting: int = 0  # ... read while no passage was open, in a lane that waits for a trigger
    status_events: int = 0
    arrivals: int = 0
    departures: int = 0
    moves: int = 0
    passages_opened: int = 0
    passages_closed: int = 0
    updates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reads, by reason
    ignored_triggers: dict[str, int] = field(default_factory=dict)  # triggers, by reason

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def ignore_trigger(self, reason: str) -> None:
        self.ignored_triggers[reason] = self.ignored_triggers.get(reason, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
