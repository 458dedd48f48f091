"""The HTTP API under the probes of issue #22 (item 1, 2), over a real socket: every one gets a 4xx with the
field path or the reason, never a 500, and the valid records sent beside a bad one are kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import parse_config
from gateway.enrichment.store import Store
from gateway.service.api import ApiContext, create_app
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics
from tests.enrichment.helpers import declaration, gtin, mrn
from tests.service.helpers import serve_in_thread

TOKEN = "hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
TOO_BIG = 2**63  # one past SQLite's largest INTEGER


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    config = parse_config({"site": "s1", "gateway": "gw1", "lanes": [{"id": "lane1"}],
                           "api": {"tokens": [TOKEN], "max_body_bytes": 1_000_000}})
    store = Store.for_storage_dir(tmp_path)
    ctx = ApiContext(config=config, live=LiveState([("lane1", None)]), metrics=Metrics(), store=store)
    try:
        with serve_in_thread(create_app(ctx)) as base, httpx.Client(base_url=base, timeout=10) as http:
            yield http
    finally:
        store.close()


def _paths(res: httpx.Response) -> set[str]:
    return {problem["path"] for problem in res.json()["detail"]}


def test_integers_the_store_cannot_keep_are_422_with_their_path(api: httpx.Client) -> None:
    big = declaration(n=1, version=1)
    big["declarationRef"]["version"] = TOO_BIG
    res = api.post("/api/declarations", json=big, headers=AUTH)
    assert res.status_code == 422 and _paths(res) == {"body.declarationRef.version"}
    assert "9223372036854775807" in res.text
    res = api.get(f"/api/declarations/{mrn(1)}", params={"version": str(TOO_BIG)})
    assert res.status_code == 422 and _paths(res) == {"query.version"}
    # a bulk: the bad record is reported by row, both good ones stored
    res = api.post("/api/declarations/bulk", json=[declaration(n=1), big | {"declarationRef": {
        "mrn": mrn(2), "version": TOO_BIG}}, declaration(n=3)], headers=AUTH)
    assert res.status_code == 200
    report = res.json()
    assert report["outcomes"] == {"created": 2}
    assert [(e["row"], e["path"]) for e in report["errors"]] == [(2, "declarationRef.version")]
    assert api.get(f"/api/declarations/{mrn(3)}").status_code == 200


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_non_finite_numbers_are_refused_like_nan(api: httpx.Client, number: str) -> None:
    body = json.dumps(declaration(n=5)).replace('"seq": 1,', f'"seq": 1, "grossMassKg": {number},')
    res = api.post("/api/declarations", content=body, headers=JSON)
    assert res.status_code == 422, res.text
    assert _paths(res) == {"body.houseConsignments[0].goodsItems[0].grossMassKg"}
    product = f'{{"gtin": "{gtin(1)}", "grossWeightKg": {number}}}'
    res = api.post("/api/products", content=product, headers=JSON)
    assert res.status_code == 422 and _paths(res) == {"body.grossWeightKg"}
    res = api.post("/api/products/import", content=f"[{product}]", headers=JSON)
    assert res.status_code == 200 and [(e["row"], e["path"]) for e in res.json()["errors"]] == [(1, "grossWeightKg")]
    assert api.get(f"/api/products/{gtin(1)}").status_code == 404  # refused, not stored without the field


@pytest.mark.parametrize("endpoint", ["/api/products/import", "/api/products", "/api/declarations",
                                      "/api/declarations/bulk"])
def test_json_nested_1000_deep_is_422_before_parsing(api: httpx.Client, endpoint: str) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    res = api.post(endpoint, content=deep, headers=JSON)
    assert res.status_code == 422
    assert res.json()["detail"] == [{"loc": ["body"], "path": "body", "msg": "JSON nested deeper than 64 levels",
                                     "type": "json_too_deep"}]
    inside = b'[{"gtin": "' + gtin(1).encode() + b'", "regulatoryTags": ' + b"[" * 100 + b"]" * 100 + b"}]"
    assert api.post(endpoint, content=inside, headers=JSON).status_code == 422


def test_import_bodies_the_parser_refuses_are_422_with_the_reason(api: httpx.Client) -> None:
    huge_field = "gtin,description\n" + gtin(1) + "," + "x" * 131_073 + "\n"
    res = api.post("/api/products/import", content=huge_field, headers={**AUTH, "Content-Type": "text/csv"})
    assert res.status_code == 422 and "CSV line 2" in res.text and "field larger than field limit" in res.text
    conflicting = f"gtin,hierarchy,hierarchy.childGtins\n{gtin(1)},x,{gtin(2)}\n"
    res = api.post("/api/products/import", content=conflicting, headers={**AUTH, "Content-Type": "text/csv"})
    assert res.status_code == 422 and "conflicts with column" in res.text
    far_index = f"gtin,importClassifications.100000000.value\n{gtin(1)},020230\n"
    res = api.post("/api/products/import", content=far_index, headers={**AUTH, "Content-Type": "text/csv"})
    assert res.status_code == 422 and "list index" in res.text
    digits = '{"gtin": "' + gtin(1) + '", "grossWeightKg": ' + "9" * 5000 + "}"
    res = api.post("/api/products/import", content=digits, headers=JSON)
    assert res.status_code == 422 and "more than 4300 digits" in res.text
    res = api.post("/api/products", content=digits, headers=JSON)
    assert res.status_code in (400, 422)  # FastAPI's own parser: a 4xx, never a 500


def test_schema_names_never_reach_the_file_system(api: httpx.Client) -> None:
    assert api.get("/api/schemas/" + "a" * 300 + ".json").status_code == 404
    assert api.get("/api/schemas/declaration.v1.json").json()["title"].startswith("bx.declaration.v1")
    assert api.get("/api/schemas/intake-answer.v1.json").status_code == 200


def test_the_service_still_answers_after_the_probes(api: httpx.Client) -> None:
    for endpoint in ("/api/products/import", "/api/declarations"):
        api.post(endpoint, content=b"[" * 5000, headers=JSON)
    api.get("/api/schemas/" + "b" * 5000)
    res = api.post("/api/declarations", json=declaration(n=9), headers=AUTH)
    assert res.status_code == 201
    detail: Any = api.get(f"/api/declarations/{mrn(9)}").json()
    assert detail["declarationRef"]["version"] == 1
