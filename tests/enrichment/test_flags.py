"""A scenario for every flag: it fires with its rule id/version and evidence, and stays quiet when clean."""

from __future__ import annotations

import pytest

from gateway.enrichment.enricher import Enricher
from gateway.enrichment.party import Party
from gateway.enrichment.result import Flag
from gateway.enrichment.rules import load_rules
from gateway.enrichment.store import Store
from tests.enrichment.helpers import (
    LANE_TIME,
    bad,
    decl,
    gln,
    gtin,
    ident,
    item,
    mrn,
    passage,
    product,
    sscc,
)


def only(flags: list[Flag], code: str) -> list[Flag]:
    out = [f for f in flags if f.code == code]
    rule = load_rules().rule(code)
    for f in out:
        assert (f.rule.id, f.rule.version) == (rule.id, rule.version)
        assert set(f.model_dump(mode="json")) >= {"code", "severity", "rule", "evidence"}
    return out


def test_clean_passage_raises_nothing(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1), sscc(2)], gtins=[gtin(1)])]))
    store.upsert_product(product(1, "020230"))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2))),
                                ident(("01", gtin(1)), ("17", "260101"), ("10", "LOT7"))), LANE_TIME)
    assert r.flags == []
    assert [(p.gtin, p.hs6_master, p.hs6_declared, p.expiry, p.batch) for p in r.products] == [
        (gtin(1), "020230", "020230", "2026-01-01", "LOT7")]


def test_no_declaration(enricher: Enricher) -> None:
    r = enricher.enrich(passage(triggers=["plate:B-ND 4004"]), LANE_TIME)
    [f] = only(r.flags, "NO_DECLARATION")
    assert f.severity == "high"
    # a loop saw a vehicle nothing could identify: undeclared as far as anyone can tell (issue 17)
    [f] = enricher.enrich(passage(), LANE_TIME).flags
    assert f.code == "NO_DECLARATION" and f.message == "nothing identified the vehicle"


def test_sscc_not_declared_medium_when_vehicle_is_declared(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl())
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2))), ident(("00", sscc(3)))), LANE_TIME)
    [f] = only(r.flags, "SSCC_NOT_DECLARED")
    assert (f.severity, f.evidence["sscc"], f.evidence["declarations"]) == ("medium", sscc(3), [mrn(1)])


def test_gtin_undeclared(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)])]))
    store.upsert_product(product(5, "870899", "Brake pads for cars"))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("01", gtin(5))), ident(("01", gtin(6)))), LANE_TIME)
    flags = only(r.flags, "GTIN_UNDECLARED")
    assert [(f.evidence["gtin"], f.severity) for f in flags] == [(gtin(5), "medium"), (gtin(6), "low")]


@pytest.mark.parametrize(("master", "severity"), [("020220", "low"), ("021011", "medium"), ("160250", "high")])
def test_hs_mismatch_severity_by_distance(store: Store, enricher: Enricher, master: str, severity: str) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)], gtins=[gtin(1)])]))
    store.upsert_product(product(1, master))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("01", gtin(1)))), LANE_TIME)
    [f] = only(r.flags, "HS_MISMATCH")
    assert (f.severity, f.evidence["hs6_master"], f.evidence["hs6_declared"]) == (severity, master, "020230")
    assert (f.mrn, f.goods_item_seq) == (mrn(1), 1)


def test_origin_mismatch_from_master_and_ai_422(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)], gtins=[gtin(1), gtin(2)], originCountry="AR")]))
    store.upsert_products([product(1, "020230", countryOfOrigin=["076"]),
                           product(2, "020230", countryOfOrigin=["032"])])
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("01", gtin(1))),
                                ident(("01", gtin(2)), ("422", "076"))), LANE_TIME)
    flags = only(r.flags, "ORIGIN_MISMATCH")
    assert [(f.evidence["gtin"], f.evidence["origin_seen"], f.evidence["source"]) for f in flags] == [
        (gtin(1), ["BR"], "product master"), (gtin(2), ["BR"], "AI 422")]


def test_count_mismatch_short_and_surplus(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1), sscc(2)])]))
    [short] = only(enricher.enrich(passage(ident(("00", sscc(1)))), LANE_TIME).flags, "COUNT_MISMATCH")
    assert (short.severity, short.evidence["ssccs_seen"], short.evidence["unit_loads_declared"]) == ("medium", 1, 2)
    r = enricher.enrich(passage(*(ident(("00", sscc(n))) for n in (1, 2, 3))), LANE_TIME)
    [surplus] = only(r.flags, "COUNT_MISMATCH")
    assert surplus.severity == "high"


def test_count_not_compared_for_cartons(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)], packaging=[{"type": "CT", "count": 40}])]))
    assert only(enricher.enrich(passage(ident(("00", sscc(1)))), LANE_TIME).flags, "COUNT_MISMATCH") == []


@pytest.mark.parametrize(("elements", "expiry"), [
    ((("17", "250200"),), "2025-02-28"),                 # day 00 = last day of February
    ((("17", "250228"),), "2025-02-28"),
    ((("7003", "2503010959"),), "2025-03-01T09:59:00+00:00"),
])
def test_expired(store: Store, enricher: Enricher, elements: tuple[tuple[str, str], ...], expiry: str) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)], gtins=[gtin(1)])]))
    store.upsert_product(product(1, "020230"))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("01", gtin(1)), *elements)), LANE_TIME)
    [f] = only(r.flags, "EXPIRED")
    assert (f.evidence["expiry"], f.severity) == (expiry, "high")  # chapter 02: food


@pytest.mark.parametrize("elements", [(("17", "250300"),), (("17", "250301"),), (("7003", "2503011001"),)])
def test_not_expired(store: Store, enricher: Enricher, elements: tuple[tuple[str, str], ...]) -> None:
    r = enricher.enrich(passage(ident(("01", gtin(1)), *elements)), LANE_TIME)
    assert only(r.flags, "EXPIRED") == []


def test_expired_non_food_is_medium(enricher: Enricher) -> None:
    r = enricher.enrich(passage(ident(("01", gtin(1)), ("17", "240101"))), LANE_TIME)
    assert only(r.flags, "EXPIRED")[0].severity == "medium"


def test_recalled_by_batch_and_whole_gtin(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(ssccs=[sscc(1)], gtins=[gtin(1), gtin(2)])]))
    store.upsert_products([product(1, "020230", recalls=[{"id": "RASFF-1", "batches": ["LOT9"]}]),
                           product(2, "020230", recalls=[{"id": "SG-2"}])])
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("01", gtin(1)), ("10", "LOT9"), ("21", "1")),
                                ident(("01", gtin(1)), ("10", "LOT7"), ("21", "2")), ident(("01", gtin(2)))), LANE_TIME)
    flags = only(r.flags, "RECALLED")
    assert [(f.evidence["gtin"], f.evidence["batch"], f.evidence["recalls"]) for f in flags] == [
        (gtin(1), "LOT9", ["RASFF-1"]), (gtin(2), None, ["SG-2"])]


def test_key_checkdigit_invalid(enricher: Enricher) -> None:
    r = enricher.enrich(passage(ident(("00", bad(sscc(1)))), ident(("01", bad(gtin(1)))),
                                ident(("414", bad(gln(1)))), ident(("8003", "0" + bad(gln(2)) + "77"))), LANE_TIME)
    flags = only(r.flags, "KEY_CHECKDIGIT_INVALID")
    assert sorted(f.evidence["key_type"] for f in flags) == ["gln", "grai", "gtin", "sscc"]
    assert all(f.severity == "low" for f in flags)
    assert not any(f.code == "SSCC_NOT_DECLARED" for f in r.flags)  # a bad SSCC is not an SSCC


def test_dg_undeclared_from_master_and_ai_4321(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(1, "380891", "Insecticide spray cans", ssccs=[sscc(1)], gtins=[gtin(1)]),
                                         item(2, "380891", "Insecticide refills", ssccs=[sscc(2)])]))
    store.upsert_product(product(1, "380891", dangerousGoods={"unNumbers": ["1950"]}))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2)), ("4321", "1")), ident(("01", gtin(1)))),
                        LANE_TIME)
    flags = only(r.flags, "DG_UNDECLARED")
    assert [(f.goods_item_seq, f.severity) for f in flags] == [(1, "high"), (2, "high")]


def test_dg_declared_is_quiet(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(items=[item(1, "380891", "Insecticide spray cans", ssccs=[sscc(1)], gtins=[gtin(1)],
                                              unNumbers=["1950"])]))
    store.upsert_product(product(1, "380891", dangerousGoods={"unNumbers": ["1950"]}))
    r = enricher.enrich(passage(ident(("00", sscc(1)), ("4321", "1")), ident(("01", gtin(1)))), LANE_TIME)
    assert only(r.flags, "DG_UNDECLARED") == []


def test_sps_doc_missing(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(docs=()))
    r = enricher.enrich(passage(ident(("00", sscc(1))), ident(("00", sscc(2)))), LANE_TIME)
    [f] = only(r.flags, "SPS_DOC_MISSING")
    assert (f.severity, f.evidence["agency"], f.evidence["expected_docs"]) == ("high", "VET", ["N853"])
    vet = [x for x in r.routing if x.agency == "VET"]
    assert [(x.present, x.audience, x.basis) for x in vet] == [(False, "sps", "HS chapter 02")]


def test_cites_candidate_needs_keyword(store: Store, enricher: Enricher) -> None:
    store.upsert_declaration(decl(n=1, docs=(), items=[item(1, "420321", "Handbags of python reptile leather",
                                                           ssccs=[sscc(1)])]))
    store.upsert_declaration(decl(n=2, plate="P2", docs=(), items=[item(1, "420321", "Leather handbags of cowhide",
                                                                       ssccs=[sscc(2)])]))
    [f] = only(enricher.enrich(passage(ident(("00", sscc(1)))), LANE_TIME).flags, "CITES_CANDIDATE")
    assert sorted(f.evidence["keywords"]) == ["python", "reptile"] and f.severity == "medium"
    assert only(enricher.enrich(passage(ident(("00", sscc(2)))), LANE_TIME).flags, "CITES_CANDIDATE") == []


@pytest.mark.parametrize(("description", "fires"), [
    ("General cargo", True), ("FAK", True), ("parts", True), ("Gifts.", True), ("Beef", True),
    ("Frozen boneless beef cuts", False), ("Spare parts for tractors", False)])
def test_vague_description(store: Store, enricher: Enricher, description: str, fires: bool) -> None:
    store.upsert_declaration(decl(items=[item(1, "020230", description, ssccs=[sscc(1)])]))
    flags = only(enricher.enrich(passage(ident(("00", sscc(1)))), LANE_TIME).flags, "VAGUE_DESCRIPTION")
    assert bool(flags) is fires


def test_party_id_invalid(store: Store, enricher: Enricher) -> None:
    parties = {"p-bad-eori": {"eori": "123", "name": "A"}, "p-bad-gln": {"gln": bad(gln(1))},
               "p-conflict": {"gln": gln(2), "eori": "DE111"}, "p-good": {"eori": "DE123456789012345"},
               "p-inactive": {"gln": gln(3)}}
    house = {"parties": {"consignor": "p-bad-eori", "consignee": "p-bad-gln", "buyer": "p-conflict",
                         "seller": "p-good", "notify": "p-inactive"}}
    store.upsert_declaration(decl(parties=parties, house=house, items=[item(ssccs=[sscc(1)])]))
    store.upsert_parties([
        Party.model_validate({"partyRef": "m-1", "ids": {"gln": gln(2), "eori": "DE222"}}),
        Party.model_validate({"partyRef": "m-2", "ids": {"gln": gln(3)}, "verification": {"glnActive": False}})])
    flags = only(enricher.enrich(passage(ident(("00", sscc(1)))), LANE_TIME).flags, "PARTY_ID_INVALID")
    got = {f.evidence["party_ref"]: f.evidence["problems"] for f in flags}
    assert got == {"p-bad-eori": ["EORI format"], "p-bad-gln": ["GLN check digit"],
                   "p-conflict": ["GLN/EORI cross-reference conflict"], "p-inactive": ["GLN inactive"]}


def test_custom_rule_file_changes_thresholds(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from gateway.config.enrichment import EnrichmentConfig
    from gateway.enrichment.rules import DATA

    data = yaml.safe_load((DATA / "flag_rules.yaml").read_text())
    data["rules"]["VAGUE_DESCRIPTION"]["min_words"] = 6
    data["rules"]["VAGUE_DESCRIPTION"]["version"] = "2"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    store.upsert_declaration(decl(items=[item(1, "020230", "Frozen boneless beef cuts", ssccs=[sscc(1)])]))
    r = Enricher(store, EnrichmentConfig(rules=path)).enrich(passage(ident(("00", sscc(1)))), LANE_TIME)
    [f] = [f for f in r.flags if f.code == "VAGUE_DESCRIPTION"]
    assert f.rule.version == "2" and f.evidence["min_words"] == 6
