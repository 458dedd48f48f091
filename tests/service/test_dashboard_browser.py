"""The dashboard in a real headless Chromium: lanes, the open passage, flags and health update live."""

from __future__ import annotations

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
    with serve_in_thread(create_app(ctx)) as base, chromium_page() as page:
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
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        artifacts = Path(__file__).resolve().parents[2] / "build" / "screenshots"
        artifacts.mkdir(parents=True, exist_ok=True)
        (artifacts / "dashboard.png").write_bytes(shot.read_bytes())
