"""The keys that tie a closed passage to late data, and the keys each late record concerns.

A passage is indexed (:mod:`gateway.history.store`) under every key enrichment can link it through:
its SSCCs, GTINs, GSIN / GINC values (AI 402 / 401, also as consignment references), its number plates
and their OCR skeletons, its container codes, the seals and the MRNs it was linked to, and the GLN /
EORI of the parties found.  A late declaration, movement, product or party concerns the passages that
share one of its keys (:func:`declaration_change_keys` ...).  A key is ``"type:value"``; a false match
only costs a re-enrichment whose result does not change (nothing is published then).

>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, SeenIdentifier, VehicleEvidence
>>> seen = SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]), Evidence(0.0, 1.0, 3))
>>> plate = VehicleEvidence("plate", "BXY1234", "B-XY 1234", 0.9, "DE", ("front",), 0.0, 1.0, 2, ("anpr",))
>>> sorted(passage_keys(Passage("p", "l", "inbound", "closed", 0.0, 1.0, identifiers=(seen,), vehicle=(plate,))))
['plate:BXY1234', 'plate_sk:8XY1234', 'sscc:340123450000000017']
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.movement import Movement
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.enrichment.result import EnrichmentResult
from gateway.enrichment.store import declaration_keys, movement_keys
from gateway.lane.passage import Passage
from gateway.vehicle import plate_skeleton

# declaration key types a passage can be linked through (parties and GTINs link nothing on their own)
_DECLARATION_LINKING = {"mrn", "sscc", "sscc_marks", "gsin", "ginc", "ucr", "hwb", "container", "seal", "plate",
                        "plate_sk"}
_ALIAS = {"sscc_marks": "sscc"}  # an SSCC in the shipping marks links a seen SSCC


def passage_keys(passage: Passage, result: EnrichmentResult | None = None) -> set[str]:
    """Every key the passage (and, when given, its enrichment) can be found by."""
    keys: set[str] = set()
    for seen in passage.identifiers:
        ident = seen.identifier
        if ident.key_type == "sscc":
            keys.add(f"sscc:{ident.key}")
        gtin = ident.gtin or (ident.key.split(".")[0] if ident.key_type in ("gtin", "sgtin") else None)
        if gtin:
            keys.add(f"gtin:{gtin}")
        gsin, ginc = ident.value("402"), ident.value("401")
        if gsin:
            keys |= {f"gsin:{gsin}", f"ucr:{gsin}"}
        if ginc:
            keys |= {f"ginc:{ginc}", f"ucr:{ginc}", f"hwb:{ginc}"}
    for vehicle in passage.vehicle:
        if not vehicle.value:
            continue
        if vehicle.kind == "plate":
            keys |= {f"plate:{vehicle.value}", f"plate_sk:{plate_skeleton(vehicle.value)}"}
        else:
            keys.add(f"container:{vehicle.value}")
    if result is not None:
        keys |= {f"mrn:{ref.mrn}" for ref in result.declaration_refs}
        keys |= {f"mrn:{mrn}" for mrn in result.mrns}
        keys |= {f"movement:{ref}" for ref in result.movement_refs}  # a central decision per movement
        keys |= {f"seal:{link.key}" for link in result.links if link.key_type == "seal" and link.key}
        for party in result.parties:
            if party.gln:
                keys.add(f"gln:{party.gln}")
            if party.eori:
                keys.add(f"eori:{party.eori}")
    return keys


def declaration_change_keys(decl: Declaration) -> set[str]:
    """The passage keys a new or amended declaration may change the enrichment of."""
    return {f"{_ALIAS.get(kt, kt)}:{key}" for kt, key in declaration_keys(decl) if kt in _DECLARATION_LINKING}


def movement_change_keys(movement: Movement) -> set[str]:
    return {f"{kt}:{key}" for kt, key in movement_keys(movement)}


def product_change_keys(product: Product) -> set[str]:
    return {f"gtin:{product.gtin}"}


def party_change_keys(party: Party, mrns: Iterable[str] = ()) -> set[str]:
    """A party's GLN and EORI, and the MRNs of the declarations that name it (found by the caller)."""
    keys = {f"mrn:{mrn}" for mrn in mrns}
    if party.ids.gln:
        keys.add(f"gln:{party.ids.gln}")
    if party.ids.eori:
        keys.add(f"eori:{party.ids.eori}")
    return keys
