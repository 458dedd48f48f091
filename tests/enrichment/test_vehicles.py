"""Matching by vehicle: plates (exact + country, one OCR-confusable character), trailers, containers and
movements, weak plate reads, and the vehicle flags (NO_DECLARATION, PLATE_LINK_UNCERTAIN,
TRANSPORT_MISMATCH, CONTAINER_NOT_SEEN, CONTAINER_NOT_DECLARED)."""

from __future__ import annotations

import sqlite3
from typing import Any

from gateway.enrichment.enricher import Enricher
from gateway.enrichment.movement import Movement
from gateway.enrichment.result import EnrichmentResult
from gateway.enrichment.store import Store
from gateway.storage.schemas import PLATE_SKELETON_SQL
from gateway.vehicle import plate_skeleton
from tests.enrichment.helpers import ETA, LANE_TIME, OFFICE, decl, ident, mrn, passage, sscc, vehicle_ev


def movement(ref: str = "GMRA00002KW2", plate: str | None = "B-MV 5005", **extra: Any) -> Movement:
    data: dict[str, Any] = {"movementRef": {"id": ref}, "customsOfficeOfFirstEntry": OFFICE, "eta": ETA,
                            "declarations": [mrn(5), mrn(6)], **extra}
    if plate is not None:
        data["vehicle"] = {"plate": plate, "nationality": "DE"}
    return Movement.model_validate(data)


def links(r: EnrichmentResult) -> list[tuple[str, str | None, str | None]]:
    return sorted((li.mrn, li.key_type, li.via) for li in r.links)


def test_exact_plate_and_country_link_the_vehicle_and_its_trailer(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(n=1, plate="B-XY 1234", house={"passiveTransport": [{"id": "B-XZ 77"}]},
                                  activeTransport={"mode": "3", "id": "B-XY 1234", "nationality": "DE", "eta": ETA}))
    r = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "bxy-1234", country="DE"),
                                         vehicle_ev("plate", "B XZ 77", position="trailer")]), LANE_TIME)
    assert links(r) == [(mrn(1), "plate", "vehicle-plate"), (mrn(1), "plate", "vehicle-trailer")]
    assert [(d.mrn, d.vehicle_via) for d in r.declaration_refs] == [(mrn(1), "vehicle-plate")]
    assert "NO_DECLARATION" not in r.flag_codes() and "PLATE_LINK_UNCERTAIN" not in r.flag_codes()
    # the same plate from another country: a weak link, said so
    r = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "BXY1234", country="PL")]), LANE_TIME)
    assert links(r) == [(mrn(1), "plate", "vehicle-plate-country")]
    [flag] = [f for f in r.flags if f.code == "PLATE_LINK_UNCERTAIN"]
    assert flag.severity == "medium" and flag.evidence["reason"] == "country_differs" and flag.evidence["only_link"]


def test_one_confusable_character_links_weakly_with_a_flag(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(n=1, plate="B-XY 1234"))
    r = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "8XY1234")]), LANE_TIME)  # B read as 8
    assert links(r) == [(mrn(1), "plate", "vehicle-plate-confusable")]
    [flag] = [f for f in r.flags if f.code == "PLATE_LINK_UNCERTAIN"]
    assert flag.evidence == {"seen": "8XY1234", "declared": "BXY1234", "reason": "ocr_confusable",
                             "confusable_characters": 1, "role": "vehicle", "movement": None, "only_link": True}
    assert next(li.confidence for li in r.links) == 0.4
    for far in ("8XY1Z34", "BXY1235", "BXY123"):  # two confusables, a real difference, a missing character
        assert enricher.enrich(passage(vehicle=[vehicle_ev("plate", far)]), LANE_TIME).links == []


def test_a_weak_plate_links_nothing_alone_but_agrees_with_a_gs1_link(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(n=1, plate="B-XY 1234"))
    weak = vehicle_ev("plate", "BXY1234", confidence=0.35)
    r = enricher.enrich(passage(vehicle=[weak]), LANE_TIME)
    assert r.links == [] and r.flag_codes() == ["NO_DECLARATION"]
    assert next(f for f in r.flags if f.code == "NO_DECLARATION").evidence["weak_plates"] == ["BXY1234"]
    r = enricher.enrich(passage(ident(("00", sscc(1))), vehicle=[weak]), LANE_TIME)
    assert (mrn(1), "plate", "vehicle-plate-weak") in links(r) and "TRANSPORT_MISMATCH" not in r.flag_codes()


def test_transport_mismatch_when_gs1_keys_link_a_declaration_of_another_vehicle(store: Store,
                                                                                enricher: Enricher) -> None:
    store.upsert_declaration(decl(n=1, plate="B-XY 1234"))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2))),
                                vehicle=[vehicle_ev("plate", "M-ZZ 999")]), LANE_TIME)
    [flag] = [f for f in r.flags if f.code == "TRANSPORT_MISMATCH"]
    assert flag.mrn == mrn(1) and flag.severity == "medium"
    assert flag.evidence == {"declared": ["BXY1234"], "seen": ["MZZ999"], "linked_via": ["declared-sscc-list"]}
    same = enricher.enrich(passage(ident(("00", sscc(1))), vehicle=[vehicle_ev("plate", "B-XY 1234")]), LANE_TIME)
    assert "TRANSPORT_MISMATCH" not in same.flag_codes()


def test_a_movement_links_every_declaration_of_the_crossing(store: Store, enricher: Enricher) -> None:
    store.upsert_declarations([decl(n=5, plate="OTHER 1"), decl(n=6, plate="OTHER 2")])
    store.upsert_movement(movement())
    r = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "B MV 5005")]), LANE_TIME)
    assert links(r) == [(mrn(5), "plate", "movement-plate"), (mrn(6), "plate", "movement-plate")]
    assert "NO_DECLARATION" not in r.flag_codes()
    assert "TRANSPORT_MISMATCH" not in r.flag_codes()  # linked through the vehicle: no mismatch to tell
    # an unaccompanied container movement, by its container
    store.upsert_movement(movement("GMRC1", plate=None, kind="unaccompanied_container", containers=["MWCU6059784"]))
    r = enricher.enrich(passage(vehicle=[vehicle_ev("container", "MWCU 605978 4", position="container")]), LANE_TIME)
    assert {(m, v) for m, _k, v in links(r)} == {(mrn(5), "movement-container"), (mrn(6), "movement-container")}


def test_container_flags_and_bad_check_digits(store: Store, enricher: Enricher) -> None:
    eq = {"transportEquipment": [{"containerId": "CSQU3054383"}, {"containerId": "MWCU6059784"}]}
    store.upsert_declaration(decl(n=1, plate="B-XY 1234", house=eq))
    r = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "BXY1234"), vehicle_ev("container", "CSQU3054383"),
                                         vehicle_ev("container", "TGHU1234567"),  # not declared
                                         vehicle_ev("container", "MWCU6059785")]), LANE_TIME)  # bad check digit
    assert sorted((f.code, f.evidence.get("container")) for f in r.flags if "CONTAINER" in f.code) == [
        ("CONTAINER_NOT_DECLARED", "TGHU1234567"), ("CONTAINER_NOT_SEEN", "MWCU6059784")]
    assert next(f for f in r.flags if f.code == "CONTAINER_NOT_SEEN").evidence["unreadable"] == ["MWCU6059785"]
    assert (mrn(1), "container", "vehicle-container") in links(r)
    # no OCR reading at all: nothing to say about containers
    r = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "BXY1234")]), LANE_TIME)
    assert not [code for code in r.flag_codes() if "CONTAINER" in code]


def test_no_declaration_for_an_unknown_plate_and_for_a_vehicle_nothing_identified(store: Store,
                                                                                  enricher: Enricher) -> None:
    [flag] = enricher.enrich(passage(vehicle=[vehicle_ev("plate", "XX-NEW 1")]), LANE_TIME).flags
    assert flag.code == "NO_DECLARATION" and flag.evidence["plates"] == ["XXNEW1"] and flag.severity == "high"


def test_the_sql_skeleton_of_the_migration_is_the_python_one() -> None:
    db = sqlite3.connect(":memory:")
    for key in ("BXY1234", "ODQ0IZSBG", "AB-CD", "8XY1Z34"):
        [(sql,)] = db.execute(f"SELECT {PLATE_SKELETON_SQL.format('?')}", (key,)).fetchall()
        assert sql == plate_skeleton(key)
