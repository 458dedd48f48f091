"""The history store on its own (bounds, retention, keys) and late data over HTTP without a broker:
movements and product master data stored after the close, the window's configuration."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import ConfigError, load_config, parse_config
from gateway.enrichment.declaration import Declaration
from gateway.enrichment.party import Party
from gateway.enrichment.result import EnrichmentResult, Flag
from gateway.enrichment.store import Change
from gateway.history.store import HistoryStore
from gateway.lane.passage import Passage
from gateway.service.api import create_app
from gateway.service.wiring import build
from gateway.storage.retention import DAY_S, purge
from tests.enrichment.helpers import OFFICE, declaration, item, mrn, sscc, vehicle_ev
from tests.enrichment.test_vehicles import movement
from tests.history.test_history_api import TOKEN, pass_truck, site, stop
from tests.history.test_late_data import iso
from tests.service.helpers import serve_in_thread


def closed(pid: str, at: float) -> Passage:
    return Passage(pid, "lane1", "inbound", "closed", at - 5, at, "quiet")


def record(pid: str, at: float, *codes: str) -> dict[str, Any]:
    return {"id": pid, "lane": "lane1", "closed_at": at, "declarations": [],
            "flags": [{"code": c, "severity": "high"} for c in codes]}


def test_bounds_keep_the_store_small_and_never_block(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite", max_body_bytes=2_000, max_events=5)
    try:
        store.record_closed(closed("p-1", 100.0), record("p-1", 100.0, "NO_DECLARATION"),
                            EnrichmentResult(passage_id="p-1", lane="lane1"), 1)
        store.record("p-1", "decision", 101.0, "central", {"note": "x" * 5_000})  # too big: its size is kept
        for i in range(5):
            store.record("p-1", "signal", 102.0 + i, "local", {"state": "stop"})
        story = store.passage_history("p-1")
        assert story is not None
        assert story["events"][3]["body"] == {"truncated": True, "bytes": 5_011, "fields": ["note"]}
        assert len(story["events"]) == 5 and story["events_dropped"] == 4
        with pytest.raises(ValueError, match="unknown history event kind"):
            store.record("p-1", "gossip", 1.0, "x", {})
    finally:
        store.close()


def test_flags_follow_the_revisions_and_list_newest_first(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite")
    try:
        result = EnrichmentResult(passage_id="p-1", lane="lane1",
                                  flags=[Flag(code="NO_DECLARATION", severity="high")])
        store.record_closed(closed("p-1", 100.0), record("p-1", 100.0, "NO_DECLARATION"), result, 1)
        store.record_closed(closed("p-2", 200.0), record("p-2", 200.0, "EXPIRED"), None, 0)
        assert [(f["passage_id"], f["code"]) for f in store.recent_flags()] == [
            ("p-2", "EXPIRED"), ("p-1", "NO_DECLARATION")]
        store.record_revision(closed("p-1", 100.0), dict(record("p-1", 100.0, "TRANSPORT_MISMATCH"),
                                                         declarations=[mrn(1)]),
                              EnrichmentResult(passage_id="p-1", lane="lane1"), 2, 300.0, "late:declaration-new")
        flags = store.recent_flags()
        assert [(f["passage_id"], f["code"], f["revision"], f["time"]) for f in flags] == [
            ("p-1", "TRANSPORT_MISMATCH", 2, 300.0), ("p-2", "EXPIRED", 0, 200.0)]
        assert flags[0]["declarations"] == [mrn(1)]
        assert [r["id"] for r in store.query(since=150.0)] == ["p-2"]
        assert [r["id"] for r in store.query(until=150.0)] == ["p-1"]
        assert [r["id"] for r in store.query(limit=1)] == ["p-2"]
        assert store.recent_flags(lane="other") == []
    finally:
        store.close()


def test_retention_deletes_a_passage_with_its_events_keys_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    now = 100 * DAY_S
    for pid, at in (("old", now - 40 * DAY_S), ("new", now - DAY_S)):
        store.record_closed(closed(pid, at), record(pid, at, "NO_DECLARATION"),
                            EnrichmentResult(passage_id=pid, lane="lane1"), 1)
    store.flush()
    results = {r.kind: r.rows for r in purge({"history": path}, {}, now)}
    assert results["passage_history"] == 1  # 30 days by default
    assert [r["id"] for r in store.query()] == ["new"] and store.passage_history("old") is None
    assert [f["passage_id"] for f in store.recent_flags()] == ["new"]
    counts = store._rows("SELECT (SELECT count(*) FROM events WHERE passage_id = 'old'), "
                         "(SELECT count(*) FROM passage_keys WHERE passage_id = 'old')", ())
    assert counts == [(0, 0)]
    store.close()


def test_the_late_window_is_validated() -> None:
    base: dict[str, Any] = {"site": "s", "gateway": "g", "lanes": [{"id": "l1"}]}
    assert parse_config(base).enrichment.late_window_s == 86400.0
    for bad in (-1, 31 * 86400, "soon"):
        with pytest.raises(ConfigError) as err:
            parse_config({**base, "enrichment": {"late_window_s": bad}}, "site.yaml")
        assert "enrichment.late_window_s" in [path for path, _ in err.value.problems]


def test_late_movement_product_and_declaration_over_http_revise_the_record(tmp_path: Path) -> None:
    """No broker: the revisions go to the outbox and the history all the same."""
    config = load_config(site(tmp_path, border_office=OFFICE))
    gateway = build(config)
    gateway.late.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        t0 = time.time() - 300
        pallet = sscc(911)
        pid = pass_truck(gateway, pallet, t0)
        with serve_in_thread(create_app(gateway.api_ctx)) as base:
            # a product nobody linked changes nothing
            assert httpx.post(f"{base}/api/products", headers=headers,
                              json={"gtin": "04012345000016", "description": "x"}).status_code < 300
            # the declaration, by HTTP: revision 2
            body = declaration(911, items=[item(ssccs=[pallet])], eta=iso(t0))
            assert httpx.post(f"{base}/api/declarations", headers=headers, json=body).status_code < 300
            assert gateway.late.wait_idle(10)
            story = httpx.get(f"{base}/api/passages/{pid}", headers=headers).json()
        assert [e["source"] for e in story["events"] if e["kind"] == "enriched"] == [
            "enrichment", "late:declaration-new"]
        assert gateway.late.stats["revisions"] == 1
        # the dashboard's view shows the revision instead of the first record, and its flags
        shown = [row for row in gateway.live.passages if row["id"] == pid]
        assert [row["revision"] for row in shown] == [2] and shown[0]["declarations"] == [mrn(911)]
        assert "NO_DECLARATION" not in {f["code"] for f in gateway.live.flags if f["passage"] == pid}
        # a movement naming the passage's declaration (no plate was seen: it links nothing new): unchanged
        gateway.store.upsert_movement(movement("GMR-LATE", plate="B-LT 1", declarations=[mrn(911)], eta=iso(t0)))
        assert gateway.late.wait_idle(10)
        assert gateway.late.stats["revisions"] == 1 and gateway.late.stats["unchanged"] >= 1
    finally:
        gateway.late.stop()
        stop(gateway)


def test_a_late_movement_links_a_truck_seen_by_its_plate(tmp_path: Path) -> None:
    from gateway.lane.passage import PassageEvent

    config = load_config(site(tmp_path, border_office=OFFICE))
    gateway = build(config)
    gateway.late.start()
    try:
        t0 = time.time() - 300
        gateway.store.upsert_declarations([declaration_model(n) for n in (5, 6)])
        truck = Passage("p-truck", "lane1", "inbound", "closed", t0 - 5, t0, "trigger",
                        vehicle=(vehicle_ev("plate", "B MV 5005", at=t0),))
        gateway._on_passage_event(PassageEvent("end", truck, t0))
        first = gateway.history.passage_history("p-truck")
        assert first is not None and first["declarations"] == []
        gateway.store.upsert_movement(movement(eta=iso(t0)))  # the movement of the crossing, lodged late
        assert gateway.late.wait_idle(10)
        story = gateway.history.passage_history("p-truck")
        assert story is not None and story["revision"] == 2
        assert story["declarations"] == [mrn(5), mrn(6)]
        assert story["events"][-1]["source"] == "late:movement-new"
    finally:
        gateway.late.stop()
        stop(gateway)


def declaration_model(n: int) -> Any:
    return Declaration.model_validate(declaration(n, plate=f"OTHER {n}", eta=iso(time.time() - 300)))


def test_late_party_master_data_finds_the_passages_of_the_declarations_naming_it(tmp_path: Path) -> None:
    config = load_config(site(tmp_path))
    gateway = build(config)
    gateway.late.start()
    try:
        t0 = time.time() - 300
        pallet = sscc(921)
        gateway.store.upsert_declaration(Declaration.model_validate(declaration(
            921, items=[item(ssccs=[pallet])], eta=iso(t0), declarant={"partyRef": "P-DECL-921"})))
        # the declaration's own change is dealt with before any truck passes: counted from here on, the stats
        # below are the party's alone (else a slow worker might find the truck for the declaration too)
        assert gateway.late.wait_idle(10)
        before = dict(gateway.late.stats)
        pid = pass_truck(gateway, pallet, t0)
        other = pass_truck(gateway, sscc(922), t0 + 60)  # another truck, not linked to that declaration
        change = gateway.store.upsert_party(Party.model_validate({"partyRef": "P-DECL-921", "name": "Late Ltd"}))
        assert change.outcome == "created"
        assert gateway.late.wait_idle(10)
        # the passage linked to the declaration naming the party is re-enriched (its links and flags are the
        # same: no revision); the other truck is not even looked at
        counted = {k: gateway.late.stats[k] - before[k] for k in ("candidates", "unchanged", "revisions")}
        assert counted == {"candidates": 1, "unchanged": 1, "revisions": 0}
        history = gateway.history
        assert history is not None and other != pid
        assert gateway.late.concerned(Change("parties", ((Party.model_validate({"partyRef": "P-DECL-921"}),
                                                          "updated"),))) == [pid]
    finally:
        gateway.late.stop()
        stop(gateway)
