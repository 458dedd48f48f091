"""Declarations, products and parties over HTTP: idempotency, amendments, 409, 422 field paths, imports."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.config import parse_config
from gateway.enrichment.store import Store
from gateway.service.api import ApiContext, create_app
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "demo-data"
TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((DEMO / f"{name}.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = parse_config({"site": "s1", "gateway": "gw1", "lanes": [{"id": "lane1"}],
                           "api": {"tokens": [TOKEN], "max_body_bytes": 200_000}})
    store = Store.for_storage_dir(tmp_path)
    ctx = ApiContext(config=config, live=LiveState([("lane1", None)]), metrics=Metrics(), store=store)
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        yield c
    store.close()


def test_declaration_create_is_idempotent_and_amendable(client: TestClient) -> None:
    decl = _load("declarations")[0]
    mrn = decl["declarationRef"]["mrn"]
    assert client.post("/api/declarations", json=decl).status_code == 401
    first = client.post("/api/declarations", json=decl, headers=AUTH)
    assert first.status_code == 201 and first.json()["outcome"] == "created"
    again = client.post("/api/declarations", json=decl, headers=AUTH)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    changed = copy.deepcopy(decl)
    changed["houseConsignments"][0]["goodsItems"][0]["description"] = "Fresh apples, Gala"
    conflict = client.post("/api/declarations", json=changed, headers=AUTH)
    assert conflict.status_code == 409
    changed["declarationRef"]["version"] = 2
    amended = client.put(f"/api/declarations/{mrn}", json=changed, headers=AUTH)
    assert amended.status_code == 200
    got = client.get(f"/api/declarations/{mrn}").json()
    assert got["declarationRef"]["version"] == 2
    assert got["history"] == [{"version": 1, "current": False}, {"version": 2, "current": True}]
    assert client.get(f"/api/declarations/{mrn}", params={"version": 1}).json()["declarationRef"]["version"] == 1
    assert mrn in client.get("/api/declarations").json()["items"]
    assert client.get("/api/declarations/26XX0000000000000X").status_code == 404


def test_invalid_declaration_gets_422_with_camel_case_paths(client: TestClient) -> None:
    decl = copy.deepcopy(_load("declarations")[0])
    decl["houseConsignments"][0]["goodsItems"][0]["hs6"] = "08081"
    decl["declarationRef"]["mrnn"] = "typo"
    res = client.post("/api/declarations", json=decl, headers=AUTH)
    assert res.status_code == 422
    paths = {p["path"] for p in res.json()["detail"]}
    assert "body.houseConsignments[0].goodsItems[0].hs6" in paths
    assert "body.declarationRef.mrnn" in paths


def test_amend_with_other_mrn_is_422(client: TestClient) -> None:
    decl = _load("declarations")[0]
    res = client.put("/api/declarations/25DE0040560000009Z", json=decl, headers=AUTH)
    assert res.status_code == 422 and res.json()["detail"][0]["path"] == "body.declarationRef.mrn"


def test_bulk_and_imports_report_per_row(client: TestClient) -> None:
    decls = _load("declarations")
    bad = copy.deepcopy(decls[0])
    bad["declarationRef"]["mrn"] = "not-an-mrn"
    report = client.post("/api/declarations/bulk", json=[*decls, bad], headers=AUTH).json()
    assert report["outcomes"] == {"created": len(decls)} and report["failed_rows"] == 1
    assert report["errors"][0]["row"] == len(decls) + 1
    assert report["errors"][0]["path"] == "declarationRef.mrn"
    products = client.post("/api/products/import", content=json.dumps(_load("products")),
                           headers={**AUTH, "Content-Type": "application/json"}).json()
    assert products["failed_rows"] == 0 and products["outcomes"]["created"] == len(_load("products"))
    gtin = _load("products")[0]["gtin"]
    assert client.get(f"/api/products/{gtin}").json()["gtin"] == gtin
    csv_body = "partyRef,name,personType,ids.gln\np-csv-1,ACME Logistics GmbH,legal,4012345000108\np-csv-2,,legal,12\n"
    parties = client.post("/api/parties/import", content=csv_body, headers={**AUTH, "Content-Type": "text/csv"})
    assert parties.status_code == 200, parties.text
    body = parties.json()
    assert body["failed_rows"] >= 1 and any(e["row"] == 2 for e in body["errors"])
    garbage = client.post("/api/products/import", content="{not json",
                          headers={**AUTH, "Content-Type": "application/json"})
    assert garbage.status_code == 422


def test_product_and_party_create(client: TestClient) -> None:
    product = _load("products")[0]
    assert client.post("/api/products", json=product, headers=AUTH).status_code == 201
    assert client.post("/api/products", json=product, headers=AUTH).status_code == 200
    party = _load("parties")[0]
    assert client.post("/api/parties", json=party, headers=AUTH).status_code == 201
    assert client.get(f"/api/parties/{party['partyRef']}").status_code == 200
    bad = {**product, "gtin": "04012345000017"}
    res = client.post("/api/products", json=bad, headers=AUTH)
    assert res.status_code == 422 and res.json()["detail"][0]["path"] == "body.gtin"
