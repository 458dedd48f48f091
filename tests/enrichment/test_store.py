"""SQLite store: idempotent upserts, amendments with history, key index, WAL file, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.store import DeclarationConflict, Store
from tests.enrichment.helpers import declaration, gln, item, mrn, product, sscc


def test_idempotent_on_mrn_and_version(store: Store) -> None:
    d = Declaration.model_validate(declaration())
    assert [u.outcome for u in store.upsert_declarations([d, d])] == ["created", "unchanged"]
    changed = Declaration.model_validate(declaration(plate="OTHER"))
    with pytest.raises(DeclarationConflict):
        store.upsert_declaration(changed)
    assert store.declaration(mrn(1)) == d


def test_amendments_supersede_and_history_is_kept(store: Store) -> None:
    v1 = Declaration.model_validate(declaration(items=[item(ssccs=[sscc(1)])]))
    v3 = Declaration.model_validate(declaration(version=3, items=[item(ssccs=[sscc(3)])]))
    v2 = Declaration.model_validate(declaration(version=2, items=[item(ssccs=[sscc(2)])]))
    assert [store.upsert_declaration(d).outcome for d in (v1, v3, v2)] == ["created", "amended", "stale"]
    assert store.history(mrn(1)) == [(1, False), (2, False), (3, True)]
    assert store.declaration(mrn(1)) == v3 and store.declaration(mrn(1), 1) == v1
    assert store.find("sscc", sscc(1)) == [] and store.find("sscc", sscc(2)) == []
    assert [h.version for h in store.find("sscc", sscc(3))] == [3]
    assert store.counts()["declaration_versions"] == 3


def test_every_linking_key_is_indexed(store: Store) -> None:
    data = declaration(
        house={"ucr": {"value": "4012345GINC-1", "scheme": "GS1_GINC"},
               "transportDocumentHouse": {"type": "N730", "number": "HWB-1"},
               "passiveTransport": [{"id": "B-TR 77"}],
               "transportEquipment": [{"containerId": "CSQU3054383", "seals": ["S-1"]}]},
        items=[item(ssccs=[sscc(1)], gtins=["04012345000016"],
                    packaging=[{"type": "PX", "count": 2, "shippingMarks": f"marks {sscc(2)}"}])],
        parties={"p": {"gln": gln(1), "eori": "DE123"}})
    store.upsert_declaration(Declaration.model_validate(data))
    for key_type, key in [("sscc", sscc(1)), ("sscc_marks", sscc(2)), ("gtin", "04012345000016"),
                          ("ginc", "4012345GINC-1"), ("hwb", "HWB-1"), ("plate", "BXY1234"), ("plate", "BTR77"),
                          ("container", "CSQU3054383"), ("seal", "S-1"), ("gln", gln(1)), ("eori", "DE123"),
                          ("mrn", mrn(1))]:
        assert [h.mrn for h in store.find(key_type, key)] == [mrn(1)], key_type
    plan = store._db.execute("EXPLAIN QUERY PLAN SELECT d.id FROM decl_keys k JOIN declarations d ON d.id = k.decl_id "
                             "WHERE k.key_type = 'sscc' AND k.key = 'x'").fetchall()
    assert [row[3] for row in plan] == ["SEARCH k USING PRIMARY KEY (key_type=? AND key=?)",
                                        "SEARCH d USING INTEGER PRIMARY KEY (rowid=?)"]
    assert [h.mrn for h in store.in_window("DE004056", 0, 2e9)] == [mrn(1)]


def test_products_and_parties(store: Store) -> None:
    p = product(1, "020230")
    assert [store.upsert_product(p).outcome, store.upsert_product(p).outcome] == ["created", "unchanged"]
    assert store.upsert_product(product(1, "020220")).outcome == "updated"
    assert store.product(p.gtin) is not None and store.product(p.gtin).hs6 == "020220"  # type: ignore[union-attr]


def test_file_store_uses_wal_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "enrichment.sqlite"
    with Store(path) as s:
        s.upsert_declaration(Declaration.model_validate(declaration()))
    with Store(path) as s:
        assert s.counts()["declarations"] == 1
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_threads_share_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                store.upsert_declaration(Declaration.model_validate(declaration(n=n * 100 + i)))
                store.find("plate", "BXY1234")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and store.counts()["declarations"] == 80
    store.close()
