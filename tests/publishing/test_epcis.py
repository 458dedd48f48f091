"""EPCIS 2.0 events: valid against the official JSON Schema (with format checking) and hashed per CBV 2.0.

The hash is checked against the independent ``epcis-event-hash-generator`` implementation (test
dependency only) using its bundled, versioned 2.0.0 JSON-LD context, so nothing goes to the network.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource

from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier
from gateway.publishing.epcis import EPCIS_CONTEXT, EpcisContext, build_events
from gateway.publishing.event_hash import UnhashableEvent, event_hash, prehash
from tests.support.fuzz import FUZZ_EXAMPLES

# epcis_event_hash_generator (test-only, third party) loads its bundled contexts with the deprecated
# importlib.resources.open_text; that warning is theirs, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:open_text is deprecated:DeprecationWarning:epcis_event_hash_generator")

SCHEMAS = Path(__file__).parent.parent / "fixtures" / "publishing" / "epcis-json-schema"
BASE = "https://gs1.github.io/EPCIS/JSON-Schema/"
# The reference document of the research notes (section 4.2) and its verified hash.
REFERENCE_EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2025-03-01T10:15:00.250Z",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["https://id.gs1.org/00/340123450000000017", "https://id.gs1.org/00/340123450000000024"],
    "action": "OBSERVE",
    "bizStep": "arriving",
    "disposition": "in_transit",
    "readPoint": {"id": "https://id.gs1.org/414/4012345000009/254/LANE03"},
    "bizLocation": {"id": "https://id.gs1.org/414/4012345000009"},
    "bizTransactionList": [{"type": "bol", "bizTransaction": "https://id.gs1.org/402/40123451234567894"}],
}
REFERENCE_HASH = "ni:///sha-256;2f119c32895e5473cb87e78c47bb1b2a9b9109776b45faa849b15047c988ffed?ver=CBV2.0"


def _validator() -> Draft7Validator:
    resources = []
    for path in SCHEMAS.rglob("*.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        uri = BASE + path.relative_to(SCHEMAS).as_posix()
        resources.append((uri, Resource.from_contents(contents)))
    registry: Registry = Registry().with_resources(resources)  # type: ignore[type-arg]
    root = json.loads((SCHEMAS / "EPCIS-JSON-Schema-root.json").read_text(encoding="utf-8"))
    root["$id"] = BASE + "EPCIS-JSON-Schema-root.json"
    return Draft7Validator(root, registry=registry, format_checker=FormatChecker())


VALIDATOR = _validator()


def assert_valid(document: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def reference_hash(event: dict[str, Any]) -> str:
    from epcis_event_hash_generator import hash_generator, json_to_py

    doc = {"@context": [EPCIS_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2025-03-01T10:15:02.000Z", "epcisBody": {"eventList": [copy.deepcopy(event)]}}
    events = json_to_py.event_list_from_epcis_document_json(doc)
    hashes: list[str] = hash_generator.epcis_hashes_from_events(events)
    return hashes[0]


def _seen(*elements: tuple[str, str], reads: int = 3) -> SeenIdentifier:
    return SeenIdentifier(Identifier.from_elements(list(elements)), Evidence(1.0, 2.0, reads))


CTX = EpcisContext(lane="LANE03", read_point_gln="4012345000009", timezone="Europe/Berlin",
                   vocabulary="https://example.org/bx/voc/")


def _passage(*seen: SeenIdentifier, direction: str = "inbound") -> Passage:
    return Passage(id="p-42", lane="LANE03", direction=direction, state="closed",  # type: ignore[arg-type]
                   opened_at=1_740_824_090.0, closed_at=1_740_824_100.25, close_reason="quiet",
                   identifiers=tuple(seen))


PALLET = _passage(
    _seen(("00", "340123450000000017")),
    _seen(("01", "09506000134352"), ("21", "32a%b")),
    _seen(("01", "09506000134352"), ("21", "33")),
    _seen(("01", "04012345000016"), ("10", "LOT 7")),
    _seen(("402", "40123451234567894")),
    _seen(("414", "4012345000009"), ("254", "MARKER")),  # a lane marker: not an object
)


def test_reference_event_hash_matches_the_verified_value() -> None:
    assert event_hash(REFERENCE_EVENT) == REFERENCE_HASH
    assert reference_hash(REFERENCE_EVENT) == REFERENCE_HASH


def test_reference_document_is_valid_and_bare_cbv_value_is_not() -> None:
    doc = {"@context": [EPCIS_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2025-03-01T10:15:02.000Z", "epcisBody": {"eventList": [REFERENCE_EVENT]}}
    assert_valid(doc)
    bad = copy.deepcopy(doc)
    bad["epcisBody"]["eventList"][0]["bizStep"] = "releasing"  # not CBV, not a URI: the format checker catches it
    assert list(VALIDATOR.iter_errors(bad))
    bad = copy.deepcopy(doc)
    bad["epcisBody"]["eventList"][0]["eventTime"] = "2025-03-01 10:15"
    assert list(VALIDATOR.iter_errors(bad))


def test_pallet_passage_gives_object_and_aggregation_events() -> None:
    events = build_events(PALLET, CTX, mrns=["25DE000000000123A1"])
    obj, agg = events.object_event, events.aggregation_event
    assert obj["epcList"] == ["https://id.gs1.org/00/340123450000000017",
                              "https://id.gs1.org/01/09506000134352/21/32a%25b",
                              "https://id.gs1.org/01/09506000134352/21/33"]
    assert obj["quantityList"] == [{"epcClass": "https://id.gs1.org/01/04012345000016/10/LOT%207", "quantity": 1}]
    assert obj["action"] == "OBSERVE" and obj["bizStep"] == "arriving" and obj["disposition"] == "in_transit"
    assert obj["eventTimeZoneOffset"] == "+01:00"
    assert obj["bizTransactionList"] == [
        {"type": "bol", "bizTransaction": "https://id.gs1.org/402/40123451234567894"},
        {"type": "https://example.org/bx/voc/BTT-entrySummaryDeclaration",
         "bizTransaction": "urn:bx:mrn:25DE000000000123A1"},
    ]
    assert agg is not None and agg["parentID"] == "https://id.gs1.org/00/340123450000000017"
    assert agg["childEPCs"] == obj["epcList"][1:]
    assert events.event_hash == obj["eventID"]
    assert_valid(events.document())
    for event in events.events:
        assert event["eventID"] == event_hash(event) == reference_hash(event)


def test_outbound_departs_and_two_pallets_give_no_aggregation() -> None:
    p = _passage(_seen(("00", "340123450000000017")), _seen(("00", "340123450000000024")),
                 _seen(("01", "09506000134352"), ("21", "1")), direction="outbound")
    events = build_events(p, CTX)
    assert events.object_event["bizStep"] == "departing"
    assert events.aggregation_event is None
    assert_valid(events.document())


@pytest.mark.parametrize("step", ["inspecting", "sampling", "holding"])
def test_secondary_bay_steps_validate(step: str) -> None:
    events = build_events(PALLET, CTX, biz_step=step, disposition="conformant")  # type: ignore[arg-type]
    assert events.object_event["bizStep"] == step and events.object_event["disposition"] == "conformant"
    assert_valid(events.document())
    assert events.event_hash == reference_hash(events.object_event)


def test_no_read_point_gln_omits_locations_and_still_validates() -> None:
    events = build_events(PALLET, EpcisContext(lane="LANE03"))
    assert "readPoint" not in events.object_event
    assert_valid(events.document())


def test_passage_without_objects_is_refused() -> None:
    with pytest.raises(ValueError, match="p-42"):
        build_events(_passage(_seen(("414", "4012345000009"))), CTX)


def test_event_id_and_record_time_do_not_change_the_hash_but_fields_do() -> None:
    base = event_hash(REFERENCE_EVENT)
    assert event_hash({**REFERENCE_EVENT, "eventID": "x", "recordTime": "2030-01-01T00:00:00Z"}) == base
    assert event_hash({**REFERENCE_EVENT, "bizStep": "departing"}) != base
    # Same instant in another zone and precision hashes the same.
    assert event_hash({**REFERENCE_EVENT, "eventTime": "2025-03-01T11:15:00.25+01:00"}) == base


def test_user_extensions_are_refused_rather_than_guessed() -> None:
    with pytest.raises(UnhashableEvent, match="bx:lane"):
        prehash({**REFERENCE_EVENT, "bx:lane": "LANE03"})
    with pytest.raises(UnhashableEvent):
        prehash({**REFERENCE_EVENT, "readPoint": {"id": "x", "bx:extra": 1}})


_serial = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._%!'()*+,:;=/?&\"",
                  min_size=1, max_size=20)


@pytest.mark.fuzz
@settings(max_examples=min(FUZZ_EXAMPLES, 300))  # the reference implementation runs JSON-LD: slow
@given(serials=st.lists(_serial, min_size=1, max_size=4, unique=True), qty=st.integers(1, 5),
       ms=st.integers(0, 999), step=st.sampled_from(["arriving", "departing", "inspecting", "holding"]))
def test_hash_agrees_with_reference_implementation(serials: list[str], qty: int, ms: int, step: str) -> None:
    seen = [_seen(("01", "09506000134352"), ("21", s)) for s in serials]
    seen += [_seen(("01", "04012345000016"), ("10", f"L{i}")) for i in range(qty)]
    p = Passage(id="p", lane="L1", direction="inbound", state="closed", opened_at=0.0,
                closed_at=1_740_824_100 + ms / 1000, identifiers=tuple(seen))
    events = build_events(p, CTX, biz_step=step)  # type: ignore[arg-type]
    assert events.event_hash == reference_hash(events.object_event)


def test_serialised_gtin_read_with_its_batch_is_named_by_its_serial_only() -> None:
    """A DataMatrix or an SGTIN+ tag carries batch and serial; the instance in epcList is the
    constrained canonical Digital Link (no batch), else the reference hash differs from ours
    (found by the end-to-end test, tests/e2e)."""
    p = _passage(_seen(("00", "340123450000001014")), _seen(("01", "04012345000016"), ("10", "A1"), ("21", "9001")),
                 _seen(("01", "04012345000047"), ("10", "B47")))
    events = build_events(p, CTX)
    assert events.object_event["epcList"] == ["https://id.gs1.org/00/340123450000001014",
                                              "https://id.gs1.org/01/04012345000016/21/9001"]
    assert events.object_event["quantityList"] == [{"epcClass": "https://id.gs1.org/01/04012345000047/10/B47",
                                                    "quantity": 1}]
    assert events.aggregation_event is not None
    for event in events.events:
        assert event["eventID"] == reference_hash(event)
