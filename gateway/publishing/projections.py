"""Audience projections of one enriched record, decided by a field-classification table.

MQTT has no field-level authorisation, so confidentiality comes from audience-partitioned topics
carrying different projections of the same :class:`~gateway.publishing.payloads.EnrichedData`:

* ``customs``: everything;
* ``sps`` / ``cites``: HS, description, quantities, weights, SSCC list, seals, document
  references -- no values, no rule logic (flags, link confidence, how a link was made), natural
  persons masked;
* ``ops``: the passage summary and the proceed / go-to-bay decision.

Number plates are personal data: customs receive them (the passage's ``vehicle`` block, the plate
links), the ops audience a masked plate (``B*****4``: enough to tell trucks apart at the lane), the
agencies none (a link made by a plate is dropped from their ``links``; container codes stay, as
transport equipment).

:data:`CLASSIFICATION` maps each field path of the record to the audiences that receive it; a
field missing from the table is an error (at run time and in the tests), so a new field is never
published by accident.

>>> from gateway.publishing.payloads import Party
>>> CLASSIFICATION["products.value"], CLASSIFICATION["parties.name"]["sps"]
({'customs': 'keep'}, 'mask_natural_person')
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from gateway.publishing.payloads import Audience, EnrichedData

Treatment = Literal["keep", "mask_natural_person", "mask_plate"]
AUDIENCES: tuple[Audience, ...] = ("customs", "sps", "cites", "ops")

_ALL: dict[str, Treatment] = {a: "keep" for a in AUDIENCES}
_CUSTOMS: dict[str, Treatment] = {"customs": "keep"}
_AGENCIES: dict[str, Treatment] = {"customs": "keep", "sps": "keep", "cites": "keep"}
_AGENCIES_MASKED: dict[str, Treatment] = {"customs": "keep", "sps": "mask_natural_person",
                                         "cites": "mask_natural_person"}
_CUSTOMS_OPS: dict[str, Treatment] = {"customs": "keep", "ops": "keep"}
_PLATE: dict[str, Treatment] = {"customs": "keep", "ops": "mask_plate"}
# links made by a plate (``keyType`` plate) go to customs only; the rest of ``links`` as classified
_CUSTOMS_ONLY_LINK_KEYS = frozenset({"plate"})
# field path (dots; list items share their list's path) -> audience -> treatment
CLASSIFICATION: dict[str, dict[str, Treatment]] = {
    "audience": _ALL,
    "revision": _ALL,
    "observation": _ALL,
    "observation.eventHash": _ALL,
    "observation.epcis": _CUSTOMS,  # carries every EPC and the MRN transaction
    "passage": _ALL,
    "passage.id": _ALL,
    "passage.lane": _ALL,
    "passage.direction": _ALL,
    "passage.state": _ALL,
    "passage.openedAt": _ALL,
    "passage.closedAt": _ALL,
    "passage.closeReason": _CUSTOMS_OPS,
    "passage.counts": _ALL,
    "passage.triggers": _CUSTOMS_OPS,
    "passage.vehicle": _CUSTOMS_OPS,  # plates: personal data (masked for ops, never to the agencies)
    "passage.vehicle.kind": _CUSTOMS_OPS,
    "passage.vehicle.value": _PLATE,
    "passage.vehicle.text": _CUSTOMS,
    "passage.vehicle.confidence": _CUSTOMS_OPS,
    "passage.vehicle.country": _CUSTOMS,
    "passage.vehicle.positions": _CUSTOMS_OPS,
    "passage.vehicle.reads": _CUSTOMS_OPS,
    "passage.vehicle.sources": _CUSTOMS,
    "passage.vehicle.error": _CUSTOMS_OPS,
    "passage.vehicle.candidates": _CUSTOMS,
    "passage.vehicle.imageRef": _CUSTOMS,
    "decision": _CUSTOMS_OPS,
    "laneDecision": _CUSTOMS_OPS,
    "laneDecision.outcome": _CUSTOMS_OPS,
    "laneDecision.signal": _CUSTOMS_OPS,
    "laneDecision.source": _CUSTOMS_OPS,
    "laneDecision.derivedFrom": _CUSTOMS,  # flag codes: law-enforcement sensitive, like the flags
    "laneDecision.derivedFrom.kind": _CUSTOMS,
    "laneDecision.derivedFrom.ref": _CUSTOMS,
    "laneDecision.derivedFrom.outcome": _CUSTOMS,
    "laneDecision.central": _CUSTOMS,
    "laneDecision.central.decisionId": _CUSTOMS,
    "laneDecision.central.outcome": _CUSTOMS,
    "laneDecision.central.agency": _CUSTOMS,
    "laneDecision.central.issuedAt": _CUSTOMS,
    "laneDecision.central.subject": _CUSTOMS,
    "links": _AGENCIES,
    "links.mrn": _AGENCIES,  # a document reference
    "links.houseUcr": _AGENCIES,
    "links.goodsItemSeq": _AGENCIES,
    "links.key": _AGENCIES,  # the SSCC list
    "links.keyType": _AGENCIES,
    "links.via": _CUSTOMS,  # matching logic
    "links.confidence": _CUSTOMS,  # link confidences are customs-only
    "links.documents": _AGENCIES,
    "links.documents.type": _AGENCIES,
    "links.documents.reference": _AGENCIES,
    "links.seals": _AGENCIES,
    "products": _AGENCIES,
    "products.gtin": _AGENCIES,
    "products.description": _AGENCIES,
    "products.hs6Master": _AGENCIES,
    "products.hs6Declared": _AGENCIES,
    "products.cn8": _AGENCIES,
    "products.origin": _AGENCIES,
    "products.quantity": _AGENCIES,
    "products.unit": _AGENCIES,
    "products.grossMassKg": _AGENCIES,
    "products.netMassKg": _AGENCIES,
    "products.value": _CUSTOMS,  # values never leave customs
    "products.currency": _CUSTOMS,
    "parties": _AGENCIES,
    "parties.role": _AGENCIES,
    "parties.naturalPerson": _AGENCIES,
    "parties.name": _AGENCIES_MASKED,
    "parties.eori": _AGENCIES_MASKED,
    "parties.gln": _AGENCIES_MASKED,
    "parties.country": _AGENCIES,
    "parties.aeo": _CUSTOMS,  # risk-relevant status
    "flags": _CUSTOMS,  # risk flags and rule ids are customs-only
    "flags.code": _CUSTOMS,
    "flags.severity": _CUSTOMS,
    "flags.message": _CUSTOMS,
    "flags.rule": _CUSTOMS,
    "flags.evidence": _CUSTOMS,
    "routing": _AGENCIES,
    "routing.agency": _AGENCIES,
    "routing.basis": _AGENCIES,
    "routing.expectedDocs": _AGENCIES,
    "routing.present": _AGENCIES,
    "provenance": _ALL,
    "provenance.gatewayId": _ALL,
    "provenance.software": _ALL,
    "provenance.rulesVersion": _CUSTOMS,
    "provenance.masterData": _CUSTOMS,
}
# Values inside these fields are opaque (free-form dicts): classified as a whole.
OPAQUE = frozenset({"observation.epcis", "passage.counts", "flags.evidence", "provenance.masterData",
                    "passage.vehicle.candidates"})


def mask_plate(value: str) -> str:
    """A plate as the ops audience sees it: its first and last characters, the rest starred.

    >>> mask_plate("BXY1234"), mask_plate("AB")
    ('B*****4', '**')
    """
    return value[0] + "*" * (len(value) - 2) + value[-1] if len(value) > 2 else "*" * len(value)


# Audiences that keep every field unchanged (customs).
_KEEPS_EVERYTHING = frozenset(a for a in AUDIENCES if all(rule.get(a) == "keep" for rule in CLASSIFICATION.values()))


class UnclassifiedField(KeyError):
    """A payload field has no entry in :data:`CLASSIFICATION`: refuse to publish it anywhere."""


def _project(value: Any, path: str, audience: Audience, masked: bool) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        natural = bool(value.get("naturalPerson")) if path == "parties" else masked
        for key, item in value.items():
            child = _child(path, key)
            rule = CLASSIFICATION.get(child)
            if rule is None:
                raise UnclassifiedField(child)
            treatment = rule.get(audience)
            if treatment is None:
                continue
            if treatment == "mask_natural_person" and natural:
                continue  # natural persons: no name or ids outside customs
            if treatment == "mask_plate":
                out[key] = mask_plate(str(item)) if value.get("kind") == "plate" else item
                continue
            if child in OPAQUE or not isinstance(item, (dict, list)):
                out[key] = item
            else:
                out[key] = _project(item, child, audience, natural)
        return out
    if isinstance(value, list):
        if path == "links" and audience != "customs":
            value = [item for item in value if not (isinstance(item, dict)
                                                    and item.get("keyType") in _CUSTOMS_ONLY_LINK_KEYS)]
        return [_project(item, path, audience, masked) for item in value]
    return value


@lru_cache(maxsize=1024)
def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def project_passage(summary: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """A passage summary (wire form) as ``audience`` may see it: the ops lifecycle messages use the same
    classification as the ``passage`` block of the enriched record (plates masked for ops)."""
    if audience == "customs" or "vehicle" not in summary:
        return summary
    projected: dict[str, Any] = _project(summary, "passage", audience, False)
    return projected


def project(record: EnrichedData | dict[str, Any], audience: Audience) -> dict[str, Any]:
    """The wire form (camelCase JSON object) of ``record`` for ``audience``.

    ``record`` may already be in wire form (the composer builds it as a dict); it is not modified.
    """
    if isinstance(record, EnrichedData):
        full = record.model_dump(mode="json", by_alias=True, exclude_none=True)
    else:
        full = dict(record)
    full["audience"] = audience
    if audience in _KEEPS_EVERYTHING and isinstance(record, dict):
        # Customs sees every classified field.  The composer builds the record only from the enrichment's
        # serialised fields (its own ones are excluded) and fixed keys, all classified (a test enforces it),
        # so walking the record again would only cost time.
        return full
    projected: dict[str, Any] = _project(full, "", audience, False)
    return projected
