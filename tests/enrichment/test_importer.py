"""File intake: JSON, JSON Lines and CSV with bad rows reported by row and field path; exit status."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from gateway.enrichment.importer import import_file, run_from_cli
from gateway.enrichment.store import Store
from tests.enrichment.helpers import bad, declaration, gtin, mrn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "enrichment"
ROOT = Path(__file__).resolve().parents[2]


def _args(what: str, file: Path, db: Path) -> argparse.Namespace:
    return argparse.Namespace(what=what, file=str(file), db=str(db), config=None)


def test_products_csv_with_bad_rows(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = run_from_cli(_args("products", FIXTURES / "products_bad_rows.csv", tmp_path / "db.sqlite"), out, err)
    assert rc == 1
    lines = err.getvalue().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "row 2: gtin: Value error, GTIN '04012345000017': bad check digit",
        "row 4: importClassifications[0]: Value error, HS6 classification must have 6 digits, got '0202'",
        "row 5: countryOfOrigin[1]: Value error, 'XX' is not an ISO 3166-1 alpha-2 or numeric country code",
    ]
    assert out.getvalue().startswith("products: 2 created, 3 failed")
    with Store(tmp_path / "db.sqlite") as s:
        p = s.product(gtin(2))
        assert p is not None and p.hs6 == "020230" and p.country_of_origin == ["BR", "AR"]


def test_declarations_json_list_bad_rows_and_idempotent_rerun(tmp_path: Path) -> None:
    good, amended = declaration(n=1), declaration(n=1, version=2, plate="NEW")
    broken = declaration(n=2)
    broken["houseConsignments"][0]["goodsItems"][0]["gs1"]["ssccs"][0] = bad("340123450000000017")
    conflict = declaration(n=1, plate="DIFFERENT")  # version 1 again, other content
    path = tmp_path / "decls.json"
    path.write_text(json.dumps([good, broken, amended, "not an object", conflict]))
    with Store(tmp_path / "db.sqlite") as store:
        report = import_file(store, "declarations", path)
        assert dict(report.outcomes) == {"created": 1, "amended": 1}
        assert [(e.row, e.path) for e in report.errors] == [
            (2, "houseConsignments[0].goodsItems[0].gs1.ssccs[0]"), (4, "(root)"), (5, "declarationRef.version")]
        again = import_file(store, "declarations", path)
        assert dict(again.outcomes) == {"unchanged": 2}
        assert store.history(mrn(1)) == [(1, False), (2, True)]


def test_json_lines_and_parties_ok(tmp_path: Path) -> None:
    path = tmp_path / "parties.jsonl"
    path.write_text('{"partyRef": "a", "ids": {"eori": "DE1"}}\n{"partyRef": "b", "typeOfPerson": 1}\n')
    out = io.StringIO()
    assert run_from_cli(_args("parties", path, tmp_path / "db.sqlite"), out, io.StringIO()) == 0
    assert out.getvalue().startswith("parties: 2 created, 0 failed")


def test_unreadable_file(tmp_path: Path) -> None:
    err = io.StringIO()
    assert run_from_cli(_args("products", tmp_path / "missing.json", tmp_path / "db.sqlite"), io.StringIO(), err) == 1
    assert "row 0: (file)" in err.getvalue()


def test_cli_entry_point_imports_demo_data(tmp_path: Path) -> None:
    from gateway.cli.import_cmd import handle

    for what in ("parties", "products", "declarations", "movements"):
        args = _args(what, ROOT / "config" / "demo-data" / f"{what}.json", tmp_path / "db.sqlite")
        assert handle(args) == 0
    with Store(tmp_path / "db.sqlite") as s:
        assert s.counts() | {"keys": 0} == {"declarations": 5, "declaration_versions": 5, "products": 4,
                                            "parties": 4, "movements": 1, "keys": 0}
