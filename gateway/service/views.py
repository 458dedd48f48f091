"""JSON views of passages: one view for the API, the dashboard and the demo's console summary.

Keys, counts and the vehicle's plates and container codes (the officer at the lane needs the plate;
the API's reads can require a token, ``api.read_tokens``): no names or EORIs ever appear here.
:func:`passage_view` is a passage as it is (open or closed); :func:`result_view` adds what its
enrichment found, including how the passage was linked (``linked_by``: GS1 keys, plate, trailer,
container, movement, seal).

>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, SeenIdentifier
>>> sscc = SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]), Evidence(1.0, 2.0, 3))
>>> p = Passage("p-1", "L1", "inbound", "closed", 0.5, closed_at=3.0, identifiers=(sscc,))
>>> view = result_view(p, None)
>>> view["counts"], view["identifiers"][0]["key"], view["enrichment"]
({'sscc': 1}, '340123450000000017', 'failed')
>>> linked_by(["declared-sscc-list", "movement-plate", "vehicle-plate-confusable"])
['GS1 keys', 'movement (plate)', 'plate (one confusable character)']
"""

from __future__ import annotations

from typing import Any

from gateway.enrichment.result import EnrichmentResult, Flag, LaneDecision, Routing
from gateway.lane.passage import Passage, SeenIdentifier, VehicleEvidence

# how a link was made (the linking rule, ``Link.via``) -> what the dashboard says
_LINKED_BY = {"vehicle-plate": "plate", "vehicle-trailer": "trailer plate", "movement-plate": "movement (plate)",
              "vehicle-plate-country": "plate (other country)",
              "vehicle-plate-confusable": "plate (one confusable character)", "vehicle-plate-weak": "weak plate read",
              "vehicle-container": "container", "movement-container": "movement (container)", "vehicle-seal": "seal"}


def identifier_view(seen: SeenIdentifier) -> dict[str, Any]:
    ev = seen.evidence
    return {
        "key_type": seen.identifier.key_type,
        "key": seen.identifier.key,
        "reads": ev.reads,
        "best_rssi_dbm": ev.best_rssi_dbm,
        "first_seen": ev.first_seen,
        "last_seen": ev.last_seen,
        "carriers": list(ev.carriers),
        "confidence": round(ev.confidence, 3),
    }


def vehicle_view(v: VehicleEvidence) -> dict[str, Any]:
    return {"kind": v.kind, "value": v.value, "text": v.text, "confidence": v.confidence, "country": v.country,
            "positions": list(v.positions), "reads": v.reads, "error": v.error}


def flag_view(flag: Flag) -> dict[str, Any]:
    """A flag as the officer opens it: code, severity, message, the rule (``id@version``) and its evidence
    (the rule's inputs, as the enriched record on MQTT carries them), and the declaration it concerns."""
    evidence = flag.model_dump(mode="json", include={"evidence"}).get("evidence")
    return {"code": flag.code, "severity": flag.severity, "rule": str(flag.rule) if flag.rule else None,
            "message": flag.message, "evidence": evidence, "mrn": flag.mrn, "goods_item_seq": flag.goods_item_seq}


def routing_view(routing: Routing) -> dict[str, Any]:
    """An agency concerned by a goods item: why (``basis``), the documents it expects and whether they are
    there; ``audience`` (``sps``, ``cites``) when a referral goes to that agency."""
    return {"agency": routing.agency, "name": routing.name, "audience": routing.audience, "basis": routing.basis,
            "expected_docs": list(routing.expected_docs), "present": routing.present, "mrn": routing.mrn,
            "goods_item_seq": routing.goods_item_seq}


def linked_by(vias: Any) -> list[str]:
    """What made the links (``Link.via``), in words, each once: GS1 keys, or the vehicle's plate, container ..."""
    return sorted({_LINKED_BY.get(str(via), "GS1 keys") for via in vias if via})


def passage_view(passage: Passage, limit: int = 500) -> dict[str, Any]:
    """A passage with its identifiers (at most ``limit``) and the counts per key type."""
    return {
        "id": passage.id,
        "lane": passage.lane,
        "direction": passage.direction,
        "state": passage.state,
        "opened_at": passage.opened_at,
        "closed_at": passage.closed_at,
        "close_reason": passage.close_reason,
        "counts": passage.counts(),
        "identifiers": [identifier_view(seen) for seen in passage.identifiers[:limit]],
        "truncated": len(passage.identifiers) > limit,
        "vehicle": [vehicle_view(v) for v in passage.vehicle],
        "triggers": list(passage.triggers),
    }


def lane_decision_view(decision: LaneDecision) -> dict[str, Any]:
    """A lane decision as the API and the dashboard show it (shared JSON conventions)."""
    return {"outcome": decision.outcome, "signal": decision.signal, "source": decision.source,
            "derived_from": [{"kind": b.kind, "ref": b.ref, "outcome": b.outcome} for b in decision.derived_from],
            "central": [{"decisionId": c.decision_id, "outcome": c.outcome, "agency": c.agency,
                         "issuedAt": c.issued_at} for c in decision.central]}


def result_view(passage: Passage, result: EnrichmentResult | None, *, lane_decision: LaneDecision | None = None,
                revision: int | None = None) -> dict[str, Any]:
    """A closed passage with what the dashboard shows of its enrichment (``None``: enrichment failed):
    the declarations' MRNs, the flags (code, severity, rule, evidence), the agency routing and referrals
    (SPS, CITES) and each key's match; with decisions configured, its ``lane_decision``; ``revision`` of its
    enriched record (1 for the first)."""
    view = passage_view(passage)
    if lane_decision is None and result is not None:
        lane_decision = result.lane_decision
    if lane_decision is not None:
        view["lane_decision"] = lane_decision_view(lane_decision)
    if revision is not None:
        view["revision"] = revision
    if result is None:
        view.update(declarations=[], flags=[], routing=[], referrals=[], decision=None, enrichment="failed")
        return view
    view["declarations"] = [ref.mrn for ref in result.declaration_refs]
    view["decision"] = result.decision  # the local one (flags, routing): proceed / go_to_bay
    view["flags"] = [flag_view(f) for f in result.flags]
    view["routing"] = [routing_view(r) for r in result.routing]
    # what went to an agency (SPS: veterinary / phytosanitary, CITES: protected species) besides customs
    view["referrals"] = [routing_view(r) for r in result.routing if r.audience is not None]
    view["matches"] = {m.key: m.status for m in result.identifiers}
    view["linked_by"] = linked_by(link.via for link in result.links)
    return view
