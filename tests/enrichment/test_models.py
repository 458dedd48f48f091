"""Models reject unknown fields and bad keys with field paths; committed JSON Schemas match the models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from gateway.enrichment import schemas
from gateway.enrichment.declaration import Declaration
from gateway.enrichment.importer import validation_errors
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.enrichment.rules import DATA
from tests.enrichment.helpers import bad, declaration, deep, gln, gsin, gtin, item, sscc

ROOT = Path(__file__).resolve().parents[2]


def paths(model: type, data: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)  # type: ignore[attr-defined]
    return [p for p, _ in validation_errors(info.value)]


def test_declaration_round_trip() -> None:
    d = Declaration.model_validate(declaration(house={"ucr": {"value": gsin(1), "scheme": "GS1_GSIN"}}))
    again = Declaration.model_validate_json(d.model_dump_json(by_alias=True))
    assert again == d and d.mrn == "25DE00000000000001" and d.eta is not None


@pytest.mark.parametrize(("patch", "path"), [
    (lambda d: d["houseConsignments"][0]["goodsItems"][0]["gs1"]["ssccs"].append(bad(sscc(5))),
     "houseConsignments[0].goodsItems[0].gs1.ssccs[2]"),
    (lambda d: d["houseConsignments"][0]["goodsItems"][0].update(hs6="2023"), "houseConsignments[0].goodsItems[0].hs6"),
    (lambda d: d["houseConsignments"][0]["goodsItems"][0].update(color="red"),
     "houseConsignments[0].goodsItems[0].color"),
    (lambda d: d.update(unknownTopLevel=1), "unknownTopLevel"),
    (lambda d: d["declarationRef"].update(mrn="25DE123"), "declarationRef.mrn"),
    (lambda d: d["houseConsignments"][0].update(ucr={"value": bad(gsin(1)), "scheme": "GS1_GSIN"}),
     "houseConsignments[0].ucr"),
    (lambda d: d["houseConsignments"][0].update(transportEquipment=[{"containerId": "CSQU3054384"}]),
     "houseConsignments[0].transportEquipment[0].containerId"),
    (lambda d: d["activeTransport"].update(eta="2025-03-01T10:30:00"), "activeTransport.eta"),  # no offset
    (lambda d: d["houseConsignments"][0]["goodsItems"].append(item(1)), "houseConsignments[0].goodsItems"),
    (lambda d: d["houseConsignments"][0]["goodsItems"][0]["gs1"]["gtins"].append({"gtin": bad(gtin(1))}),
     "houseConsignments[0].goodsItems[0].gs1.gtins[0].gtin"),
    (lambda d: d["houseConsignments"][0].update(parties={"shipper": "p"}), "houseConsignments[0].parties"),
])
def test_invalid_declaration_paths(patch, path: str) -> None:  # type: ignore[no-untyped-def]
    data = deep(declaration())
    patch(data)
    assert path in paths(Declaration, data)


def test_product_and_party_validation() -> None:
    assert Product.model_validate({"gtin": "4012345000016"}).gtin == gtin(1)  # GTIN-13 padded
    assert paths(Product, {"gtin": bad(gtin(1))}) == ["gtin"]
    assert paths(Product, {"gtin": gtin(1), "countryOfOrigin": ["XX"]}) == ["countryOfOrigin[0]"]
    assert paths(Product, {"gtin": gtin(1), "importClassifications": [{"type": "HS6", "value": "0202"}]}) == [
        "importClassifications[0]"]
    assert paths(Party, {"partyRef": "p", "ids": {"gln": bad(gln(1)), "lei": "5493001KJTIIGC8Y1R13"}}) == [
        "ids.gln", "ids.lei"]
    assert paths(Party, {"partyRef": "p", "typeOfPerson": 4}) == ["typeOfPerson"]


def test_committed_schemas_match_models() -> None:
    for name in schemas.MODELS:
        committed = (schemas.SCHEMA_DIR / name).read_text(encoding="utf-8")
        assert committed == schemas.render(name), f"{name} is stale: run python -m gateway.enrichment.schemas"


def test_demo_data_validates_against_exported_schemas() -> None:
    for name, schema_file in (("declarations", "declaration.v1.json"), ("products", "product.v1.json"),
                              ("parties", "party.v1.json")):
        schema = json.loads((schemas.SCHEMA_DIR / schema_file).read_text())
        for record in json.loads((ROOT / "config" / "demo-data" / f"{name}.json").read_text()):
            jsonschema.validate(record, schema)


def test_config_data_files_are_the_builtin_defaults() -> None:
    for name in ("flag_rules.yaml", "agency_routing.yaml"):
        assert (ROOT / "config" / name).read_text() == (DATA / name).read_text(), name
