"""The passage history through the service: recorded at close, listed and told by the API over a real
socket, and still there after the service is rebuilt over the same storage directory (a restart)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from gateway.config import load_config
from gateway.gs1.epc.encoder import encode
from gateway.identity import Identifier
from gateway.reads import Read
from gateway.service.api import create_app
from gateway.service.gateway import Gateway
from gateway.service.wiring import build
from tests.service.helpers import serve_in_thread

SSCC = "340123450000001014"
TOKEN = "t-hist"


def site(tmp_path: Path, broker: str = "mqtt://127.0.0.1:9", **enrichment: Any) -> Path:
    raw = {
        "site": "test-post", "gateway": "gw-hist",
        "lanes": [{"id": "lane1", "read_point_gln": "4012345000009", "default_direction": "inbound",
                   "readers": [{"id": "rdr", "url": "llrp://127.0.0.1:9?antennas=1,2",
                                "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}}]}],
        "lane_engine": {"depart_after_s": 0.5, "passage_quiet_s": 0.5, "min_reads": 1},
        "mqtt": {"url": broker},
        "api": {"bind": "127.0.0.1:0", "tokens": [TOKEN], "read_tokens": [TOKEN]},
        "storage": {"path": str(tmp_path / "data")},
    }
    if enrichment:
        raw["enrichment"] = enrichment
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def sscc_read(sscc: str, t: float) -> Read:
    epc = encode([("00", sscc)], scheme="sscc-96", filter=0, company_prefix_length=7).hex.lower()
    return Read("rdr", "1", "rfid", epc, t, rssi_dbm=-50.0, identifier=Identifier.from_elements([("00", sscc)]),
                scheme="sscc-96")


def pass_truck(gateway: Gateway, sscc: str, t0: float) -> str:
    """One truck with one pallet through lane1; returns the closed passage's id."""
    before = len(gateway.live.passages)
    gateway.on_source_event(sscc_read(sscc, t0))
    gateway.on_source_event(sscc_read(sscc, t0 + 0.1))
    gateway._handle_lane_events(gateway.engine.tick(t0 + 30.0))  # quiet long enough: the passage closes
    assert len(gateway.live.passages) == before + 1
    return str(gateway.live.passages[-1]["id"])


def stop(gateway: Gateway) -> None:
    """What the service's shutdown runs after the lane engine (the history is committed and closed)."""
    for hook in gateway.on_stop:
        hook()
    if gateway.publisher.sender._thread is not None:  # started: flush, "offline", disconnect, close
        gateway.publisher.stop(2.0)
    else:
        gateway.publisher.outbox.close()
    gateway.enricher.store.close()


def test_history_is_told_by_the_api_and_survives_a_restart(tmp_path: Path) -> None:
    config = load_config(site(tmp_path))
    gateway = build(config)
    t0 = time.time()
    pid = pass_truck(gateway, SSCC, t0)
    gateway.record_history(pid, "decision", t0 + 40, "central", {"decisionId": "D-1", "outcome": "hold"})
    gateway.record_history(pid, "signal", t0 + 41, "local", {"state": "hold", "passage_id": pid})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve_in_thread(create_app(gateway.api_ctx)) as base:
        rows = httpx.get(f"{base}/api/passages", headers=headers).json()
        assert [r["id"] for r in rows] == [pid] and rows[0]["revision"] == 1
        assert rows[0]["declarations"] == [] and "NO_DECLARATION" in [f["code"] for f in rows[0]["flags"]]
        assert [r["id"] for r in httpx.get(f"{base}/api/passages", headers=headers,
                                           params={"flag": "NO_DECLARATION"}).json()] == [pid]
        for params in ({"flag": "EXPIRED"}, {"lane": "lane9"}, {"mrn": "25DE0000000000001A"}, {"since": t0 + 3600}):
            assert httpx.get(f"{base}/api/passages", headers=headers, params=params).json() == []
        flags = httpx.get(f"{base}/api/recent-flags", headers=headers, params={"limit": 10}).json()
        assert {(f["passage_id"], f["code"]) for f in flags} >= {(pid, "NO_DECLARATION")}
        assert all(f["lane"] == "lane1" and f["declarations"] == [] and f["severity"] for f in flags)
        story = httpx.get(f"{base}/api/passages/{pid}", headers=headers).json()
        missing = httpx.get(f"{base}/api/passages/no-such-passage", headers=headers)
        assert missing.status_code == 404 and missing.json() == {"detail": "no such passage"}
        assert httpx.get(f"{base}/api/passages/{pid}").status_code == 401  # a read needs a token here
    assert [(e["kind"], e["source"]) for e in story["events"]] == [
        ("opened", "lane"), ("closed", "lane"), ("enriched", "enrichment"), ("decision", "central"),
        ("signal", "local")]
    closed = story["events"][1]["body"]
    assert closed["reads"]["reads"] == 2 and closed["reads"]["by_source"] == {"rdr": 2}
    assert closed["counts"] == {"sscc": 1} and closed["identifiers"][0]["key"] == SSCC
    enriched = story["events"][2]["body"]
    assert enriched["revision"] == 1 and enriched["links"] == [] and "NO_DECLARATION" in [
        f["code"] for f in enriched["flags"]]
    assert story["signal_state"] == "hold" and story["revision"] == 1
    stop(gateway)

    again = build(config)  # a restart: a new service over the same storage directory
    try:
        with serve_in_thread(create_app(again.api_ctx)) as base:
            after = httpx.get(f"{base}/api/passages/{pid}", headers=headers).json()
            listed = httpx.get(f"{base}/api/passages", headers=headers).json()
        assert after["events"] == story["events"]
        assert [r["id"] for r in listed] == [pid]
    finally:
        stop(again)
