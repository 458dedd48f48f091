"""A passage: one vehicle's session in one lane, and the identifiers it carried.

This is the contract between the lane engine (which builds passages), enrichment (which
matches a closed passage to declarations) and publishing (which turns it into EPCIS and
MQTT messages).  It is plain data; the engine that fills it lives in :mod:`gateway.lane`.

>>> from gateway.identity import Identifier
>>> seen = SeenIdentifier(Identifier.from_elements([("00", "106141411234567897")]),
...                       Evidence(10.0, 12.5, reads=14, best_rssi_dbm=-48.0))
>>> p = Passage(id="p-1", lane="lane1", direction="inbound", state="closed", opened_at=9.8,
...             closed_at=17.0, close_reason="quiet", identifiers=(seen,))
>>> sorted(p.by_type()), p.counts(), p.count("sscc")
(['sscc'], {'sscc': 1}, 1)

Trade items are also summarised per GTIN, whatever carried them (SGTIN tags, GTIN + serial or
batch barcodes, the content GTIN and count on an SSCC label):

>>> item = SeenIdentifier(Identifier.from_elements([("01", "09506000134352"), ("21", "7")]),
...                       Evidence(10.0, 11.0, reads=3))
>>> label = SeenIdentifier(Identifier.from_elements([("00", "106141411234567897"), ("02", "09506000134352"),
...                                                  ("37", "40"), ("10", "L1")]), Evidence(10.0, 11.0, reads=1))
>>> g = Passage("p-2", "lane1", "inbound", "open", 9.0, identifiers=(item, label)).gtins()["09506000134352"]
>>> g.serials, g.batches, g.items, g.quantity
(('7',), ('L1',), 1, 40)

Number plates and container codes read by ANPR / OCR cameras are the vehicle's own evidence, one
:class:`VehicleEvidence` per distinct value (a front and a rear camera reading the same plate give one,
with both positions).  A passage with neither identifiers nor vehicle evidence (a loop saw a vehicle,
nothing could be read) is a normal passage:

>>> plate = VehicleEvidence("plate", "BXY1234", "B-XY 1234", 0.93, "DE", ("front", "rear"), 10.0, 11.5, 3,
...                         ("anpr-front", "anpr-rear"))
>>> p = Passage("p-3", "lane1", "inbound", "closed", 9.0, 14.0, "trigger", vehicle=(plate,),
...             triggers=("gpi:rdr:1:entry", "gpi:rdr:2:exit"))
>>> [v.value for v in p.plates()], p.containers(), p.empty
(['BXY1234'], [], False)
>>> Passage("p-4", "lane1", "unknown", "closed", 9.0, 14.0, "quiet", triggers=("gpi:rdr:1:entry",)).empty
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.identity import Identifier
from gateway.reads import VehicleKind

Direction = Literal["inbound", "outbound", "unknown"]
PassageState = Literal["open", "closed"]
# lane_removed: the lane left the configuration while the passage was open (a configuration reload);
# restart: the gateway was killed while the passage was open and closed it at its next start-up
CloseReason = Literal["quiet", "trigger", "max_duration", "shutdown", "lane_removed", "restart"]
PassageEventKind = Literal["new", "update", "end"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an identifier is in a passage: when and how strongly it was seen."""

    first_seen: float  # host UTC epoch seconds
    last_seen: float
    reads: int
    best_rssi_dbm: float | None = None
    carriers: tuple[str, ...] = ("rfid",)  # "rfid", "barcode"
    sources: tuple[str, ...] = ()  # reader / camera ids
    confidence: float = 1.0  # lane-assignment confidence from cross-lane arbitration, 0..1
    zones: tuple[str, ...] = ()  # zones of this lane that saw it ("entry", "portal", "exit")


@dataclass(frozen=True, slots=True)
class SeenIdentifier:
    identifier: Identifier
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class VehicleEvidence:
    """One number plate or container code seen on the vehicle (see :class:`gateway.reads.VehicleRead`).

    ``value`` is the comparison key (:mod:`gateway.vehicle`), ``text`` what the camera printed with its
    best confidence; ``confidence`` is the best of the reads (0..1, ``None`` when no camera said);
    ``country`` the camera's, else the lane's ``plate_country``; ``positions`` where on the vehicle it
    was read (``front``, ``rear``, ``trailer``, ``container``); ``error`` keeps why a container code
    cannot be a key (a wrong ISO 6346 check digit): such evidence is published, never linked.
    ``candidates`` are the cameras' other readings of the same plate.  A plate is personal data: it
    never appears in topic names or log lines.
    """

    kind: VehicleKind
    value: str
    text: str
    confidence: float | None
    country: str | None
    positions: tuple[str, ...]
    first_seen: float
    last_seen: float
    reads: int
    sources: tuple[str, ...]
    error: str | None = None
    candidates: tuple[tuple[str, float | None], ...] = ()
    image_ref: str | None = None

    @property
    def usable(self) -> bool:
        return bool(self.value) and self.error is None


@dataclass(frozen=True, slots=True)
class Passage:
    id: str  # stable: the same passage keeps its id across new/update/end
    lane: str
    direction: Direction
    state: PassageState
    opened_at: float
    closed_at: float | None = None
    close_reason: CloseReason | None = None
    identifiers: tuple[SeenIdentifier, ...] = ()
    triggers: tuple[str, ...] = field(default=())  # e.g. "gpi:rdr1:1", "camera:cam1:entry"
    vehicle: tuple[VehicleEvidence, ...] = ()  # plates and container codes, in the order first seen

    def plates(self) -> list[VehicleEvidence]:
        return [v for v in self.vehicle if v.kind == "plate"]

    def containers(self) -> list[VehicleEvidence]:
        return [v for v in self.vehicle if v.kind == "container"]

    @property
    def empty(self) -> bool:
        """Nothing identified: no GS1 identifier, no plate, no container code (a presence only)."""
        return not self.identifiers and not self.vehicle

    def by_type(self) -> dict[str, list[SeenIdentifier]]:
        """Distinct identifiers grouped by key type (``sscc``, ``sgtin``, ``gtin``, ``grai`` ...)."""
        groups: dict[str, list[SeenIdentifier]] = {}
        for seen in self.identifiers:
            groups.setdefault(seen.identifier.key_type, []).append(seen)
        return groups

    def counts(self) -> dict[str, int]:
        """Distinct identifiers per key type, in the order the types were first seen: what the passage
        summary on MQTT, the lane state and the dashboard show."""
        counts: dict[str, int] = {}
        for seen in self.identifiers:
            key_type = seen.identifier.key_type
            counts[key_type] = counts.get(key_type, 0) + 1
        return counts

    def count(self, key_type: str) -> int:
        return self.counts().get(key_type, 0)

    def gtins(self) -> dict[str, GtinGroup]:
        """Trade items per GTIN: serials (SGTIN), batches (AI 10), item identifiers and stated counts."""
        acc: dict[str, tuple[set[str], set[str], list[int], list[int]]] = {}
        for seen in self.identifiers:
            ident = seen.identifier
            gtin = ident.gtin
            if gtin is None:
                continue
            serials, batches, items, quantity = acc.setdefault(gtin, (set(), set(), [0], [0]))
            if ident.key_type == "sgtin":
                serials.add(ident.key.partition(".")[2])
            if ident.key_type in ("sgtin", "gtin"):
                items[0] += 1
            batch = ident.value("10")
            if batch is not None:
                batches.add(batch)
            for ai in ("37", "30"):  # count of trade items on a logistics unit / variable count
                stated = ident.value(ai)
                if stated is not None and stated.isdigit():
                    quantity[0] += int(stated)
        return {
            gtin: GtinGroup(gtin, tuple(sorted(s)), tuple(sorted(b)), i[0], q[0] or None)
            for gtin, (s, b, i, q) in sorted(acc.items())
        }


@dataclass(frozen=True, slots=True)
class GtinGroup:
    """One GTIN in a passage: ``items`` counts item-level identifiers (SGTINs, GTIN labels);
    ``quantity`` sums the counts stated on labels (AI 37 / 30), ``None`` when none stated one."""

    gtin: str
    serials: tuple[str, ...]
    batches: tuple[str, ...]
    items: int
    quantity: int | None


@dataclass(frozen=True, slots=True)
class PassageEvent:
    """Lifecycle event: ``new`` when opened, ``update`` (rate-limited) while open, ``end`` once."""

    kind: PassageEventKind
    passage: Passage
    time: float
