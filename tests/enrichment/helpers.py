"""Builders for enrichment scenarios: keys with valid check digits, declarations, passages."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from typing import Any

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.product import Product
from gateway.gs1.check_digit import with_check_digit
from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier, VehicleEvidence
from gateway.vehicle import vehicle_read

OFFICE = "DE004056"
ETA = "2025-03-01T10:30:00Z"
LANE_TIME = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC).timestamp()


ck = with_check_digit


def sscc(n: int) -> str:
    return ck(f"34012345{n:09d}")


def gtin(n: int) -> str:
    return ck(f"04012345{n:05d}")


def gln(n: int) -> str:
    return ck(f"4012345{n:05d}")


def gsin(n: int) -> str:
    return ck(f"4012345{n:09d}")


def bad(key: str) -> str:
    """The same key with a wrong check digit."""
    return key[:-1] + str((int(key[-1]) + 1) % 10)


def mrn(n: int) -> str:
    return f"25DE{n:014d}"


def item(seq: int = 1, hs6: str = "020230", description: str = "Frozen boneless beef cuts", *,
         ssccs: Sequence[str] = (), gtins: Sequence[str] = (), packaging: Sequence[dict[str, Any]] | None = None,
         **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": seq, "description": description, "hs6": hs6,
                           "gs1": {"ssccs": list(ssccs), "gtins": [{"gtin": g} for g in gtins]}}
    out["packaging"] = list(packaging) if packaging is not None else [{"type": "PX", "count": len(ssccs)}]
    out.update(extra)
    return out


def declaration(n: int = 1, items: Sequence[dict[str, Any]] | None = None, *, version: int = 1,
                plate: str = "B-XY 1234",
                eta: str = ETA, office: str = OFFICE, docs: Sequence[tuple[str, str]] = (("N853", "CHEDP.1"),),
                house: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"supportingDocuments": [{"type": t, "ref": r} for t, r in docs],
                         "goodsItems": list(items) if items is not None else [item(ssccs=[sscc(1), sscc(2)])]}
    h.update(house or {})
    out: dict[str, Any] = {
        "declarationRef": {"mrn": mrn(n), "version": version}, "customsOfficeOfFirstEntry": office,
        "activeTransport": {"mode": "3", "id": plate, "eta": eta}, "houseConsignments": [h]}
    out.update(extra)
    return out


def decl(**kwargs: Any) -> Declaration:
    return Declaration.model_validate(declaration(**kwargs))


def product(n: int, hs6: str, description: str = "Beef striploin, frozen", **extra: Any) -> Product:
    data: dict[str, Any] = {"gtin": gtin(n), "description": description,
                            "importClassifications": [{"type": "HS6", "value": hs6, "hsEdition": "HS2022"}]}
    data.update(extra)
    return Product.model_validate(data)


def ident(*elements: tuple[str, str]) -> Identifier:
    return Identifier.from_elements(list(elements))


def vehicle_ev(kind: str, text: str, confidence: float | None = 0.9, country: str | None = None,
               position: str = "front", at: float = LANE_TIME) -> VehicleEvidence:
    """A plate or container code as the lane engine puts it on a passage (normalised by gateway.vehicle)."""
    read = vehicle_read("anpr", at - 3, kind, text, confidence=confidence, country=country,  # type: ignore[arg-type]
                        position=position)  # type: ignore[arg-type]
    return VehicleEvidence(read.kind, read.value, read.text, read.confidence, read.country, (position,), at - 3,
                           at - 2, 2, ("anpr",), read.error)


def passage(*idents: Identifier, at: float = LANE_TIME, triggers: Sequence[str] = (), pid: str = "p-1",
            vehicle: Sequence[VehicleEvidence] = ()) -> Passage:
    """``triggers`` written ``plate:B-XY 1234`` or ``container:CSQU3054383`` become vehicle evidence."""
    seen = tuple(SeenIdentifier(i, Evidence(at - 5, at - 1, reads=3)) for i in idents)
    evidence = list(vehicle)
    labels = []
    for trigger in triggers:
        kind, _, value = trigger.partition(":")
        if kind in ("plate", "container"):
            evidence.append(vehicle_ev(kind, value, at=at, position="front" if kind == "plate" else "container"))
        else:
            labels.append(trigger)
    return Passage(id=pid, lane="lane1", direction="inbound", state="closed", opened_at=at - 10, closed_at=at,
                   close_reason="quiet", identifiers=seen, triggers=tuple(labels), vehicle=tuple(evidence))


def deep(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)
