"""The demo data raise exactly the flags the demo shows; the clean truck raises none."""

from __future__ import annotations

from pathlib import Path

from gateway.config.enrichment import EnrichmentConfig
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.importer import import_file
from gateway.enrichment.store import Store
from tests.enrichment.helpers import LANE_TIME, ident, passage

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo-data"


def _enricher() -> Enricher:
    store = Store(":memory:")
    for what in ("parties", "products", "declarations"):
        assert not import_file(store, what, DEMO / f"{what}.json").errors
    return Enricher(store, EnrichmentConfig(border_office="DE004056"))


def test_demo_trucks() -> None:
    e = _enricher()
    clean = e.enrich(passage(ident(("00", "340123450000001014")), ident(("00", "340123450000001021")),
                             ident(("01", "04012345000016"), ("10", "A1"), ("17", "250400")),
                             triggers=["plate:B-CL 1001"]), LANE_TIME)
    assert clean.flags == [] and [d.mrn for d in clean.declaration_refs] == ["25DE0040560000001A"]
    meat = e.enrich(passage(ident(("00", "340123450000002011")), ident(("00", "340123450000002028")),
                            ident(("01", "04012345000023"), ("10", "LOT7"), ("17", "250200"), ("21", "1001")),
                            triggers=["plate:B-MT 2002"]), LANE_TIME)
    assert meat.flag_codes() == ["EXPIRED", "SPS_DOC_MISSING"]
    grocery = e.enrich(passage(ident(("00", "340123450000003018")), ident(("00", "340123450000003025")),
                               ident(("01", "04012345000047")), triggers=["plate:B-GR 3003"]), LANE_TIME)
    assert grocery.flag_codes() == ["COUNT_MISMATCH", "HS_MISMATCH", "SSCC_NOT_DECLARED"]
    assert any(p.natural_person for p in grocery.parties)
    ghost = e.enrich(passage(ident(("00", "340123450000004015")), triggers=["plate:B-ND 4004"]), LANE_TIME)
    assert ghost.flag_codes() == ["NO_DECLARATION", "SSCC_NOT_DECLARED"]
