"""The dashboard in a real headless Chromium: lanes, the open passage, flags and health update live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.reads import SourceStatus
from gateway.service.api import ApiContext, create_app
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics
from tests.service.browser import chromium_page
from tests.service.helpers import serve_in_thread

pytestmark = pytest.mark.browser


def test_dashboard_shows_lanes_passages_flags_and_health(tmp_path: Path) -> None:
    config = parse_config({"site": "post1", "gateway": "gw1",
                           "lanes": [{"id": "lane1", "name": "Lane 1"}, {"id": "lane2", "name": "Lane 2"}]})
    live = LiveState([(lane.id, lane.name) for lane in config.lanes])
    live.add_source("llrp-1", "reader", "llrp://127.0.0.1:5084", ["lane1", "lane2"])
    live.source_status(SourceStatus("llrp-1", "connected"))
    ctx = ApiContext(config=config, live=live, metrics=Metrics(),
                     outbox_state=lambda: {"depth": 0, "oldest_age_s": None})
    console: list[str] = []
    with serve_in_thread(create_app(ctx)) as base, chromium_page() as page:
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.goto(base + "/")
        page.wait_for_selector("section[data-lane=lane1]", timeout=15_000)
        assert "post1 / gw1" in page.inner_text("header")
        assert "connected" in page.inner_text("#sources")
        # A truck enters lane 1: the open passage appears without a reload (SSE + refresh).
        live.passage_event("new", {
            "id": "p-1", "lane": "lane1", "direction": "inbound", "state": "open",
            "counts": {"sscc": 2, "sgtin": 5},
            "identifiers": [{"key_type": "sscc", "key": "106141411234567897", "reads": 12, "best_rssi_dbm": -51}],
        })
        page.wait_for_function("document.querySelector('section[data-lane=lane1]').innerText.includes('106141411234567897')",
                               timeout=15_000)
        live.passage_event("end", {"id": "p-1", "lane": "lane1"})
        live.passage_result({
            "id": "p-1", "lane": "lane1", "direction": "inbound", "closed_at": 1_800_000_000.0,
            "counts": {"sscc": 2, "sgtin": 5}, "declarations": ["26DE004711000012A1"],
            "flags": [{"code": "SSCC_NOT_DECLARED", "severity": "high"}],
        })
        page.wait_for_function("document.getElementById('flags').innerText.includes('SSCC_NOT_DECLARED')",
                               timeout=15_000)
        lane1 = page.inner_text("section[data-lane=lane1]")
        assert "26DE004711000012A1" in lane1 and "no vehicle in the lane" in lane1
        live.source_status(SourceStatus("llrp-1", "reconnecting", "connection refused"))
        page.wait_for_function("document.getElementById('sources').innerText.includes('reconnecting')",
                               timeout=15_000)
        # a reader down is a lane-level warning in plain words, not the driver's text
        page.wait_for_selector("section[data-lane=lane1] [data-warning=llrp-1]", timeout=15_000)
        warning = page.inner_text("section[data-lane=lane1] [data-warning=llrp-1]")
        assert re.fullmatch(r"⚠ reader llrp-1 unreachable since \d\d:\d\d, retrying", warning.strip()), warning
        # the MQTT disconnect says why
        live.mqtt_connected = False
        live.mqtt = {"connected": False, "reason": "credentials", "error": "connection refused by the broker: "
                     "Not authorized", "since": 1_800_000_000.0, "broker": "mqtt://127.0.0.1:1883"}
        page.wait_for_function("document.getElementById('mqtt').innerText.includes('credentials')", timeout=15_000)
        assert "MQTT disconnected: the broker refused the gateway's credentials since" in page.inner_text("#mqtt")
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        artifacts = Path(__file__).resolve().parents[2] / "build" / "screenshots"
        artifacts.mkdir(parents=True, exist_ok=True)
        (artifacts / "dashboard.png").write_bytes(shot.read_bytes())
    assert console == [], console


def test_dashboard_shows_the_lane_signal_and_the_passage_decision_with_its_source() -> None:
    """#18 item 3: the lane's current signal and each passage's decision with its source, as helper "dec"
    names them (lane ``signal``, passage ``lane_decision``); without them the local decision from the flags."""
    config = parse_config({"site": "post1", "gateway": "gw1",
                           "lanes": [{"id": "lane1", "name": "Lane 1"}, {"id": "lane2", "name": "Lane 2"}]})
    live = LiveState([(lane.id, lane.name) for lane in config.lanes])
    ctx = ApiContext(config=config, live=live, metrics=Metrics(), outbox_state=lambda: {"depth": 0})
    sps_flag = {"code": "SPS_DOC_MISSING", "severity": "high", "rule": "R-SPS-DOC@1", "message": None,
                "evidence": {"agency": "VET", "expected_docs": ["N853"]}, "mrn": "25DE0040560000002A",
                "goods_item_seq": 1}
    live.passage_result({  # lane 1: no decision fields, a high flag -> the local decision, go to the bay
        "id": "p-local", "lane": "lane1", "direction": "inbound", "closed_at": 1_800_000_000.0,
        "counts": {"sscc": 1}, "identifiers": [{"key_type": "sscc", "key": "340123450000002011"}],
        "declarations": ["25DE0040560000002A"], "flags": [sps_flag],
        "referrals": [{"agency": "VET", "name": "Veterinary", "audience": "sps", "basis": "HS chapter 02",
                       "expected_docs": ["N853"], "present": False, "mrn": "25DE0040560000002A"}]})
    live.passage_result({  # lane 2: a central decision, and the lane's signal
        "id": "p-central", "lane": "lane2", "direction": "inbound", "closed_at": 1_800_000_010.0,
        "counts": {}, "identifiers": [], "declarations": ["25DE0040560000006A"], "flags": [],
        "vehicle": [{"kind": "plate", "value": "BMV6006", "text": "B-MV 6006", "confidence": 0.95}],
        "lane_decision": {"outcome": "physical-inspection", "signal": "inspection", "source": "central",
                          "derived_from": [{"kind": "central", "ref": "D-17", "outcome": "physical-inspection"}],
                          "central": [{"decisionId": "D-17", "outcome": "physical-inspection", "agency": "SPS",
                                       "issuedAt": "2027-01-15T08:00:00Z"}]},
        "revision": 2})
    lane2 = live.lanes["lane2"]
    plain = lane2.as_dict
    lane2.as_dict = lambda: {**plain(), "signal": {  # type: ignore[method-assign]
        "state": "inspection", "outcome": "physical-inspection", "source": "central", "passage_id": "p-central",
        "since": 1_800_000_011.0}}
    console: list[str] = []
    with serve_in_thread(create_app(ctx)) as base, chromium_page() as page:
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.goto(base + "/")
        page.wait_for_selector("section[data-lane=lane2] .now", timeout=15_000)
        local = page.inner_text("section[data-lane=lane1] .now")
        assert "Go to the inspection bay" in local and "local decision (flags) – SPS_DOC_MISSING" in local, local
        assert "340123450000002011" in local and "25DE0040560000002A" in local, local
        assert page.get_attribute("section[data-lane=lane1] .now", "data-source") == "local"
        central = page.inner_text("section[data-lane=lane2] .now")
        assert "Go to the inspection bay" in central and "central decision – physical-inspection" in central, central
        assert "B-MV 6006" in central and "25DE0040560000006A" in central, central
        decision = page.inner_text("section[data-lane=lane2] .decision")
        assert "central decision – SPS: physical-inspection" in decision, decision
        flag = "section[data-lane=lane1] details.flag[data-flag=SPS_DOC_MISSING]"
        page.click(flag + " > summary")
        opened = page.inner_text(flag)
        assert "R-SPS-DOC@1" in opened and "N853" in opened and "25DE0040560000002A" in opened, opened
        assert "referred to SPS" in page.inner_text("section[data-lane=lane1] [data-referral=sps]")
        page.wait_for_function("document.querySelectorAll('#history tbody tr[data-passage]').length === 2",
                               timeout=15_000)
        history = page.inner_text("#history")
        assert "central decision" in history and "local decision (flags)" in history, history
    assert console == [], console
