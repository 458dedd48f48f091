"""The store's fast paths answer exactly what the one-key-at-a-time code answers.

``Store.find_many`` (a passage's SSCCs in one query) must equal ``find`` key by key, amendments
included; the parsed-product cache must never serve a record that changed, even when another process
(``border-gateway import``) changed it behind the gateway's back.
"""

from __future__ import annotations

from pathlib import Path

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.keys import gs1_ok
from gateway.enrichment.store import Store
from tests.enrichment.helpers import bad, declaration, gtin, item, product, sscc


def test_find_many_equals_find_for_every_key(store: Store) -> None:
    shared = sscc(99)  # declared by two declarations: two hits, in decl_id order
    for n in range(1, 4):
        store.upsert_declaration(Declaration.model_validate(declaration(n, [item(ssccs=[sscc(n), shared])])))
    store.upsert_declaration(Declaration.model_validate(  # an amendment: the old version's keys are gone
        declaration(2, [item(ssccs=[sscc(20)])], version=2)))
    keys = [sscc(n) for n in (1, 2, 3, 20, 50)] + [shared, shared, bad(sscc(1))]
    many = store.find_many("sscc", keys)
    assert many == {key: store.find("sscc", key) for key in keys if store.find("sscc", key)}
    assert [h.decl_id for h in many[shared]] == sorted(h.decl_id for h in many[shared]) and len(many[shared]) == 2
    assert sscc(2) not in many and sscc(50) not in many
    assert store.find_many("sscc", []) == {}
    assert len(store.find_many("sscc", [sscc(1)] * 1200 + [sscc(n) for n in range(1000, 1600)])) == 1  # chunked


def test_product_cache_follows_every_change(tmp_path: Path) -> None:
    path = tmp_path / "enrichment.sqlite"
    with Store(path) as gateway_store:
        gateway_store.upsert_product(product(1, "020230"))
        first = gateway_store.product(gtin(1))
        assert first is not None and first.hs6 == "020230"
        assert gateway_store.product(gtin(1)) is first  # parsed once
        gateway_store.upsert_product(product(1, "020220"))  # through this store (the API)
        assert gateway_store.product(gtin(1)).hs6 == "020220"  # type: ignore[union-attr]
        with Store(path) as importer:  # another process: `border-gateway import products`
            importer.upsert_product(product(1, "020110"))
        assert gateway_store.product(gtin(1)).hs6 == "020110"  # type: ignore[union-attr]
        assert gateway_store.product(gtin(2)) is None


def test_cached_check_digit_test_still_tells_good_from_bad() -> None:
    for n in range(50):
        key = sscc(n)
        assert gs1_ok(key) and not gs1_ok(bad(key)) and gs1_ok(key)
