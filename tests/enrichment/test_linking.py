"""Every linking rule, with the rule id and confidence it records; ETA window and office scoping."""

from __future__ import annotations

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.linking import VehicleObservation
from gateway.enrichment.result import EnrichmentResult
from gateway.enrichment.store import Store
from tests.enrichment.helpers import (
    LANE_TIME,
    decl,
    declaration,
    gsin,
    gtin,
    ident,
    item,
    mrn,
    passage,
    product,
    sscc,
)


def _links(result: EnrichmentResult, key: str) -> list[tuple[str, int | None, str | None, float | None]]:
    return [(link.mrn, link.goods_item_seq, link.via, link.confidence) for link in result.links if link.key == key]


def test_declared_sscc_list(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl())
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2)))), LANE_TIME)
    assert _links(r, sscc(1)) == [(mrn(1), 1, "declared-sscc-list", 1.0)]
    assert {(m.key, m.status) for m in r.identifiers} == {(sscc(1), "expected_seen"), (sscc(2), "expected_seen")}
    assert r.items[0].status == "expected_seen" and r.flags == []


def test_sscc_from_shipping_marks_with_check_digit(store: Store, enricher: Enricher) -> None:
    marks = f"SSCC (00){sscc(7)} / 34012345000000009{(int(sscc(8)[-1]) + 1) % 10}"  # second: bad check digit
    store.upsert_declaration(decl(items=[item(packaging=[{"type": "PX", "count": 1, "shippingMarks": marks}])]))
    r = enricher.enrich(passage(ident(("00", sscc(7)))), LANE_TIME)
    assert _links(r, sscc(7)) == [(mrn(1), 1, "shipping-marks-sscc", 0.9)]
    assert not r.has_flag("SSCC_NOT_DECLARED")


def test_gsin_to_house_ucr(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(house={"ucr": {"value": gsin(5), "scheme": "GS1_GSIN"}}, items=[item()]))
    r = enricher.enrich(passage(ident(("00", sscc(99)), ("402", gsin(5)))), LANE_TIME)
    link = [li for li in r.links if li.key == gsin(5)]
    assert [(li.mrn, li.house_ucr, li.via, li.confidence) for li in link] == [(mrn(1), gsin(5), "ucr-gsin", 1.0)]
    assert r.declaration_refs[0].mrn == mrn(1)


def test_ginc_to_ucr_then_house_transport_document(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(n=1, house={"ucr": {"value": "4012345GINC-A", "scheme": "GS1_GINC"}}))
    hwb = {"transportDocumentHouse": {"type": "N730", "number": "4012345HWB-9"}}
    store.upsert_declaration(decl(n=2, plate="X", house=hwb))
    r = enricher.enrich(passage(ident(("401", "4012345GINC-A"))), LANE_TIME)
    assert _links(r, "4012345GINC-A") == [(mrn(1), None, "ucr-ginc", 1.0)]
    r = enricher.enrich(passage(ident(("401", "4012345HWB-9"))), LANE_TIME)
    assert _links(r, "4012345HWB-9") == [(mrn(2), None, "house-transport-document", 0.9)]


def test_gtin_levels_declared_hs6_heading_chapter(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(1, "020230", ssccs=[sscc(1)], gtins=[gtin(1)])]))
    store.upsert_products([product(1, "020230"), product(2, "020230"), product(3, "020220"),
                           product(4, "021011"), product(5, "870899", "Car parts")])
    idents = [ident(("00", sscc(1)))] + [ident(("01", gtin(n)), ("21", "S1")) for n in range(1, 6)]
    r = enricher.enrich(passage(*idents), LANE_TIME)
    got = {li.key: (li.via, li.confidence) for li in r.links if li.key_type == "gtin"}
    assert got == {gtin(1): ("declared-gtin-list", 0.95), gtin(2): ("gtin-hs6", 0.8),
                   gtin(3): ("gtin-hs-heading", 0.5), gtin(4): ("gtin-hs-chapter", 0.3)}
    unexpected = [m.key for m in r.identifiers if m.status == "seen_unexpected"]
    assert unexpected == [f"{gtin(5)}.S1"]


def test_vehicle_plate_container_seal(store: Store, enricher: Enricher) -> None:
    eq = {"transportEquipment": [{"containerId": "CSQU3054383", "seals": ["TR1234567"]}]}
    store.upsert_declaration(decl(n=1, plate="B-XY 1234"))
    store.upsert_declaration(decl(n=2, plate="OTHER", house=eq))
    r = enricher.enrich(passage(triggers=["plate:bxy1234"]), LANE_TIME)
    assert [(d.mrn, d.vehicle_via) for d in r.declaration_refs] == [(mrn(1), "vehicle-plate")]
    r = enricher.enrich(passage(triggers=["container:CSQU 305438 3"]), LANE_TIME)
    assert [(d.mrn, d.vehicle_via) for d in r.declaration_refs] == [(mrn(2), "vehicle-container")]
    r = enricher.enrich(passage(), LANE_TIME, vehicle=VehicleObservation(seals=("tr1234567",)))
    assert [(d.mrn, d.vehicle_via) for d in r.declaration_refs] == [(mrn(2), "vehicle-seal")]
    # expected & missing: the plate linked declaration 1, whose two SSCCs were not seen
    r = enricher.enrich(passage(triggers=["plate:B-XY 1234"]), LANE_TIME)
    assert sorted(m.key for m in r.identifiers if m.status == "expected_missing") == [sscc(1), sscc(2)]
    assert r.items[0].status == "expected_missing"


def test_recycled_sscc_outside_eta_window_does_not_link(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(eta="2025-01-15T08:00:00Z"))  # same SSCCs, six weeks earlier
    r = enricher.enrich(passage(ident(("00", sscc(1)))), LANE_TIME)
    assert r.links == [] and r.declaration_refs == []
    assert r.flag_codes() == ["NO_DECLARATION", "SSCC_NOT_DECLARED"]
    flag = next(f for f in r.flags if f.code == "SSCC_NOT_DECLARED")
    assert flag.severity == "high" and flag.evidence["declared_elsewhere"] == [mrn(1)]


def test_eta_window_edges_and_office(store: Store, enricher: Enricher) -> None:
    # default window: arrive up to 24 h before or 48 h after the ETA
    store.upsert_declaration(decl(n=1, eta="2025-03-02T09:59:00Z", items=[item(ssccs=[sscc(1)])]))
    store.upsert_declaration(decl(n=2, eta="2025-03-02T10:01:00Z", items=[item(ssccs=[sscc(2)])]))
    store.upsert_declaration(decl(n=3, eta="2025-02-27T10:00:00Z", items=[item(ssccs=[sscc(3)])]))
    store.upsert_declaration(decl(n=4, office="PL301010", items=[item(ssccs=[sscc(4)])]))
    r = enricher.enrich(passage(*(ident(("00", sscc(n))) for n in (1, 2, 3, 4))), LANE_TIME)
    assert [d.mrn for d in r.declaration_refs] == [mrn(1), mrn(3)]
    assert sorted(f.evidence["sscc"] for f in r.flags if f.code == "SSCC_NOT_DECLARED") == [sscc(2), sscc(4)]


def test_amendment_supersedes_for_matching(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)])]))
    v2 = Declaration.model_validate(declaration(version=2, items=[item(ssccs=[sscc(2)])]))
    assert store.upsert_declaration(v2).outcome == "amended"
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2)))), LANE_TIME)
    assert [(d.mrn, d.version) for d in r.declaration_refs] == [(mrn(1), 2)]
    assert [f.evidence["sscc"] for f in r.flags if f.code == "SSCC_NOT_DECLARED"] == [sscc(1)]


def test_grai_is_not_goods(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)])]))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("8003", "04012345000009123"))), LANE_TIME)
    assert [(m.key_type, m.status) for m in r.identifiers if m.key_type == "grai"] == [("grai", "seen_not_goods")]
    assert r.flags == []


def test_deterministic(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl())
    p = passage(ident(("00", sscc(1))), ident(("00", sscc(9))))
    assert enricher.enrich(p, LANE_TIME) == enricher.enrich(p, LANE_TIME)
