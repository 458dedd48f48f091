"""A closed :class:`~gateway.lane.passage.Passage` as JSON and back: what lets late data re-enrich a
passage after a restart (the history store keeps it, :mod:`gateway.history.store`).

Compact, lossless for what enrichment and publishing read (identifiers with their element strings and
evidence, the vehicle's plates and container codes, triggers); at most ``max_identifiers`` identifiers
are kept (the rest is counted in ``"dropped"``).

>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, SeenIdentifier, VehicleEvidence
>>> seen = SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]),
...                       Evidence(10.0, 12.5, reads=14, best_rssi_dbm=-48.0, sources=("rdr",), zones=("entry",)))
>>> plate = VehicleEvidence("plate", "BXY1234", "B-XY 1234", 0.93, "DE", ("front",), 10.0, 11.5, 3, ("anpr",))
>>> p = Passage("p-1", "lane1", "inbound", "closed", 9.8, 17.0, "quiet", identifiers=(seen,), vehicle=(plate,),
...             triggers=("gpi:rdr:1:entry",))
>>> decode_passage(encode_passage(p)) == p
True
"""

from __future__ import annotations

from typing import Any, cast

from gateway.identity import Identifier
from gateway.lane.passage import (
    CloseReason,
    Direction,
    Evidence,
    Passage,
    PassageState,
    SeenIdentifier,
    VehicleEvidence,
)
from gateway.reads import VehicleKind

MAX_IDENTIFIERS = 20_000  # a truck of item-level tags; beyond this the history keeps a count only


def encode_passage(passage: Passage, max_identifiers: int = MAX_IDENTIFIERS) -> dict[str, Any]:
    """The passage as plain JSON values."""
    idents = []
    for seen in passage.identifiers[:max_identifiers]:
        ident, ev = seen.identifier, seen.evidence
        idents.append([ident.key_type, ident.key, [list(e) for e in ident.elements], ident.uri,
                       ev.first_seen, ev.last_seen, ev.reads, ev.best_rssi_dbm, list(ev.carriers), list(ev.sources),
                       ev.confidence, list(ev.zones)])
    vehicle = [[v.kind, v.value, v.text, v.confidence, v.country, list(v.positions), v.first_seen, v.last_seen,
                v.reads, list(v.sources), v.error, [list(c) for c in v.candidates], v.image_ref]
               for v in passage.vehicle]
    return {"id": passage.id, "lane": passage.lane, "direction": passage.direction, "state": passage.state,
            "opened_at": passage.opened_at, "closed_at": passage.closed_at, "close_reason": passage.close_reason,
            "identifiers": idents, "triggers": list(passage.triggers), "vehicle": vehicle,
            "dropped": max(0, len(passage.identifiers) - max_identifiers)}


def decode_passage(data: dict[str, Any]) -> Passage:
    """The passage :func:`encode_passage` wrote."""
    idents = tuple(
        SeenIdentifier(Identifier(kt, key, tuple((str(a), str(v)) for a, v in elements), uri),
                       Evidence(first, last, reads, rssi, tuple(carriers), tuple(sources), confidence, tuple(zones)))
        for kt, key, elements, uri, first, last, reads, rssi, carriers, sources, confidence, zones
        in data.get("identifiers", []))
    vehicle = tuple(
        VehicleEvidence(cast(VehicleKind, kind), value, text, conf, country, tuple(positions), first, last, reads,
                        tuple(sources), error, tuple((str(c), s) for c, s in candidates), image_ref)
        for kind, value, text, conf, country, positions, first, last, reads, sources, error, candidates, image_ref
        in data.get("vehicle", []))
    return Passage(id=data["id"], lane=data["lane"], direction=cast(Direction, data["direction"]),
                   state=cast(PassageState, data["state"]), opened_at=data["opened_at"], closed_at=data["closed_at"],
                   close_reason=cast("CloseReason | None", data["close_reason"]), identifiers=idents,
                   triggers=tuple(data.get("triggers", [])), vehicle=vehicle)
