"""The dashboard's open passage shows "unknown" until the evidence decides (#22 item 7).

The demo's configuration and scenario (seed 0: lane 2's last truck opened as "outbound" and closed as
inbound) through the real gateway (lane engine, enrichment, composer, outbox; the publisher is not
started), and the dashboard's state read over HTTP on a real socket (``GET /api/lanes``) each time a
lane-2 passage event changes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import load_config
from gateway.service.api import create_app
from gateway.service.broker import free_port
from gateway.service.wiring import build
from simulators.replay import world_reads
from simulators.scenario import load_scenario
from tests.service.helpers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_740_823_200.0
TOKEN = "dir-token"


def test_the_dashboard_shows_unknown_until_the_direction_is_decided(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name in list(os.environ):
        if name.startswith("BX_DEMO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BX_DEMO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BX_DEMO_MQTT_URL", f"mqtt://127.0.0.1:{free_port()}")  # never connected
    monkeypatch.setenv("BX_API_TOKEN", TOKEN)
    gateway = build(load_config(ROOT / "config" / "demo.yaml"))
    gateway.clock = lambda: T0
    reads = world_reads(load_scenario(ROOT / "config" / "scenarios" / "demo.yaml", seed=0).world, t0=T0, t1=60)
    lane2 = gateway.live.lanes["lane2"]
    shown: list[tuple[str, str]] = []  # (passage id, direction) as GET /api/lanes shows lane 2's open passage
    try:
        with serve_in_thread(create_app(gateway.api_ctx)) as base, \
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as http:

            def look() -> None:
                [view] = [lane for lane in http.get("/api/lanes").json() if lane["id"] == "lane2"]
                if view["current"] is not None:
                    shown.append((view["current"]["id"], view["current"]["direction"]))

            current: Any = None

            def step(event: Any) -> None:
                nonlocal current
                if event is None:
                    gateway._handle_lane_events(gateway.engine.tick(next_tick))  # the service's periodic tick
                else:
                    gateway.on_source_event(event)
                if lane2.current is not current:  # a lane-2 passage event: what does the dashboard show?
                    current = lane2.current
                    look()

            next_tick = T0
            for r in reads:
                while next_tick <= r.host_time:
                    step(None)
                    next_tick += 0.25
                step(r)
            while next_tick <= T0 + 70.0:
                step(None)
                next_tick += 0.25
            closed = {p["id"]: p["direction"] for p in http.get("/api/passages", params={"lane": "lane2"}).json()}
    finally:
        gateway.publisher.outbox.close()
        gateway.store.close()

    assert len(closed) >= 2 and set(closed.values()) == {"inbound"}  # the tagged trucks of lane 2
    assert {pid for pid, _ in shown} == set(closed), shown
    for pid in closed:
        directions = [direction for p, direction in shown if p == pid]
        # first "unknown", then the direction it closes with, and never anything else
        assert directions[0] == "unknown" and directions[-1] == "inbound", (pid, directions)
        assert set(directions) == {"unknown", "inbound"}, (pid, directions)
