"""Configuration reload of a running ``border-gateway run``: SIGHUP, and ``POST /api/reload``.

Three real LLRP reader simulators on loopback ports, one per lane, play a repeating scenario: a truck
passes lane 1 every few seconds, nothing passes lane 2, and a trailer stands in lane 3 (its passage stays
open).  The service runs as a child process against the Mosquitto fixture; a real MQTT 5 subscriber
watches its ops topics.  One SIGHUP then carries three changes, and each is checked where it shows:

* a changed flag rule (``NO_DECLARATION``: another severity and version, in the rules file the site file
  names): the next lane-1 passage is flagged by it;
* a changed reader (``rdr-b``'s URL): only that reader reconnects, counted by the simulators;
* a removed lane (lane 3): its open passage is closed (``closeReason: lane_removed``) and published, its
  reader disconnected, its retained lane state cleared on the broker.

A file that then fails validation changes nothing (no reader reconnects, the lanes stay) and the retained
status says why, with the key path; ``POST /api/reload`` needs a write token, and reloads the corrected file.

No wall-clock time is asserted: every wait is bounded and only says what it waited for.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.service.broker import LOOPBACK, free_port
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.scenario import encode_tag
from simulators.tag_world import TagTrack, TagWorld, truck_passage
from tests.publishing.support import Received, Subscriber
from tests.service.test_run_service import Service, _clear_retained
from tests.support.brokers import SharedBroker

ROOT = Path(__file__).resolve().parents[2]
SITE = "svc-run"  # the site of test_run_service, whose clean-up this module shares
TOKEN = "reload-token"
PERIOD_S = 5.0  # the lane-1 truck comes back this often
LANE1_TAGS = ["(00)340123450000005012", "(00)340123450000005029"]
LANE3_TAG = "(00)340123450000006019"


def _world() -> TagWorld:
    lane1 = [encode_tag(t, 7, 2) for t in LANE1_TAGS]
    tracks = truck_passage("rdr-a", [1, 2], lane1, 0.5, dwell=1.5, rate_hz=30.0)
    # a trailer standing in lane 3: a flat RSSI the whole period (and every period after)
    tracks.append(TagTrack("rdr-c", 1, encode_tag(LANE3_TAG, 7, 2), 0.0, PERIOD_S, peak_time=PERIOD_S / 2,
                           peak_rssi=-50.0, rate_hz=10.0, width_s=1000.0))
    return TagWorld(tracks, seed=11, repeat_s=PERIOD_S)


class Readers:
    """Three LLRP simulators of one world, on one loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llrp-sims", daemon=True)
        world = _world()
        self.sims = {rid: LLRPReaderSimulator(world, rid) for rid in ("rdr-a", "rdr-b", "rdr-c")}

    def start(self) -> Readers:
        self.thread.start()
        t0 = time.monotonic() + 3.0  # the loop clock is time.monotonic()
        for sim in self.sims.values():
            asyncio.run_coroutine_threadsafe(sim.start(t0=t0), self.loop).result(10)
        return self

    def url(self, rid: str, antennas: str = "1,2") -> str:
        return f"llrp://{LOOPBACK}:{self.sims[rid].port}?antennas={antennas}"

    def connections(self) -> dict[str, int]:
        return {rid: sim.connections for rid, sim in self.sims.items()}

    def stop(self) -> None:
        for sim in self.sims.values():
            asyncio.run_coroutine_threadsafe(sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def readers() -> Iterator[Readers]:
    sims = Readers().start()
    try:
        yield sims
    finally:
        sims.stop()


def _config(readers: Readers, broker: SharedBroker, tmp_path: Path, gateway: str, rules: Path) -> dict[str, Any]:
    def lane(lane_id: str, rid: str, url: str) -> dict[str, Any]:
        return {"id": lane_id, "read_point_gln": "4012345000009", "default_direction": "inbound",
                "readers": [{"id": rid, "url": url, "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}}]}

    return {
        "site": SITE, "gateway": gateway,
        "lanes": [lane("lane1", "rdr-a", readers.url("rdr-a")), lane("lane2", "rdr-b", readers.url("rdr-b")),
                  lane("lane3", "rdr-c", readers.url("rdr-c"))],
        "lane_engine": {"passage_quiet_s": 1.0, "depart_after_s": 1.0, "min_reads": 2},
        "mqtt": {"url": broker.url, "qos": 1},
        "api": {"bind": f"{LOOPBACK}:{free_port()}", "tokens": [TOKEN]},
        "storage": {"path": str(tmp_path / "data")},
        "enrichment": {"rules": str(rules)},
    }


def _write(path: Path, config: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def _bodies(messages: list[Received], suffix: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic.endswith(suffix) and m.payload]


def _retained(broker: SharedBroker, topic: str) -> list[Received]:
    sub = Subscriber(broker.host, broker.port, topic).start()
    try:
        time.sleep(0.5)  # retained messages come right after the SUBACK
        return [m for m in sub.messages if m.retain]
    finally:
        sub.stop()


def _no_declaration(passage: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in passage.get("flags", []) if f["code"] == "NO_DECLARATION"), None)


def test_sighup_reloads_rules_readers_and_lanes_and_a_bad_file_changes_nothing(
        readers: Readers, mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    gateway = f"gw-reload-{os.getpid()}"
    rules = tmp_path / "flag_rules.yaml"
    shutil.copy(ROOT / "config" / "flag_rules.yaml", rules)
    config = _config(readers, mqtt_broker, tmp_path, gateway, rules)
    ops = f"bx/v1/ops/{SITE}/{gateway}"
    consumer = Subscriber(mqtt_broker.host, mqtt_broker.port, f"{ops}/#", client_id=f"{gateway}-ops").start()
    service = Service(config, tmp_path).start()
    site_file = tmp_path / "site.yaml"
    try:
        service.wait_until("three readers connected", lambda: {s["id"]: s["state"] for s in service.get(
            "/api/sources")} == dict.fromkeys(("rdr-a", "rdr-b", "rdr-c"), "connected"), timeout=60)
        service.wait_until("a lane-1 passage flagged NO_DECLARATION by rule version 1", lambda: any(
            (_no_declaration(p) or {}).get("rule") == "R-LINK-NODECL@1" for p in service.get(
                "/api/passages?lane=lane1")), timeout=30)
        service.wait_until("lane 3's passage open, its state retained", lambda: bool(_bodies(
            consumer.messages, "/lane/lane3/state")), timeout=20)
        before = readers.connections()  # 1 each, unless a loaded machine made a driver reconnect already
        after = {**before, "rdr-b": before["rdr-b"] + 1}

        # One SIGHUP: a changed flag rule, a changed reader, a removed lane.
        edited = yaml.safe_load(rules.read_text(encoding="utf-8"))
        edited["rules"]["NO_DECLARATION"].update(version="7", severity="medium")
        rules.write_text(yaml.safe_dump(edited), encoding="utf-8")
        changed = json.loads(json.dumps(config))
        changed["lanes"][1]["readers"][0]["url"] = readers.url("rdr-b", antennas="1")
        del changed["lanes"][2]
        _write(site_file, changed)
        reloaded_at = time.time()
        service.process.send_signal(signal.SIGHUP)

        status = f"{ops}/status"
        service.wait_until("the status of the reload", lambda: any(
            b.get("reason") == "reload" for b in _bodies(consumer.messages, status)), timeout=20)
        service.wait_until("rdr-b reconnected", lambda: readers.connections()["rdr-b"] == after["rdr-b"],
                           timeout=30)
        service.wait_until("the next lane-1 passage, flagged by rule version 7", lambda: any(
            p["opened_at"] > reloaded_at and (_no_declaration(p) or {}).get("rule") == "R-LINK-NODECL@7"
            for p in service.get("/api/passages?lane=lane1")), timeout=30)
        flag = next(_no_declaration(p) for p in service.get("/api/passages?lane=lane1") if p["opened_at"] > reloaded_at)
        assert flag is not None and flag["severity"] == "medium"
        # Only the changed reader reconnected; the removed lane's reader was stopped, not reconnected.
        assert readers.connections() == after
        assert [s["id"] for s in service.get("/api/sources")] == ["rdr-a", "rdr-b"]
        # Lane 3's open passage was closed with the documented reason and published; its state is gone.
        ends = [b["data"]["passage"] for b in _bodies(consumer.messages, "/lane/lane3/passage")
                if b.get("data", {}).get("kind") == "end"]
        assert [p.get("closeReason") for p in ends] == ["lane_removed"], ends
        assert _retained(mqtt_broker, f"{ops}/lane/lane3/state") == []
        assert [m.topic for m in _retained(mqtt_broker, f"{ops}/lane/+/state")] == [f"{ops}/lane/lane1/state"]
        assert [lane["id"] for lane in service.get("/api/lanes")] == ["lane1", "lane2"]
        reload_status = [b for b in _bodies(consumer.messages, status) if b.get("reason") == "reload"][-1]
        assert "error" not in reload_status["config"] and "rdr-c" not in reload_status.get("sources", {})

        # A file that fails validation changes nothing, and the retained status says why.
        broken = json.loads(json.dumps(changed))
        broken["lanes"][0]["readers"][0]["url"] = "lrp://127.0.0.1:1"
        _write(site_file, broken)
        service.process.send_signal(signal.SIGHUP)
        service.wait_until("the status naming the refused key", lambda: any(
            "lanes[0].readers[0].url" in (b.get("config") or {}).get("error", "")
            for b in _bodies(consumer.messages, status)), timeout=20)
        time.sleep(1.0)  # what a reload would restart would have been stopped by now
        assert readers.connections() == after
        assert [lane["id"] for lane in service.get("/api/lanes")] == ["lane1", "lane2"]
        retained = [json.loads(m.payload) for m in _retained(mqtt_broker, status)]
        assert "unknown scheme 'lrp'" in retained[0]["config"]["error"], retained
        assert "lanes[0].readers[0].url" in service.output()  # logged with the key path

        # The API: a write token is needed; the corrected file is reloaded and the error is gone.
        api = service.api + "/api/reload"
        assert httpx.post(api, timeout=10).status_code == 401
        refused = httpx.post(api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert refused.status_code == 422
        assert [d["path"] for d in refused.json()["detail"]] == ["lanes[0].readers[0].url"]
        _write(site_file, changed)
        ok = httpx.post(api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert ok.status_code == 200 and ok.json()["ok"] is True, ok.text
        assert ok.json()["summary"] == "no change in the site file"
        retained = [json.loads(m.payload) for m in _retained(mqtt_broker, status)]
        assert "error" not in retained[0]["config"], retained
        metrics = httpx.get(service.api + "/metrics", timeout=10).text
        assert 'bx_config_reloads_total{result="ok"} 2.0' in metrics
        assert 'bx_config_reloads_total{result="failed"} 2.0' in metrics
        assert readers.connections() == after

        assert service.terminate() == 0, service.output()
        assert "Traceback" not in service.output()
    finally:
        service.kill()
        consumer.stop()
        _clear_retained(mqtt_broker, gateway)


def test_a_broken_rules_file_is_refused_with_its_key_path_and_changes_nothing(tmp_path: Path) -> None:
    """In process (no broker needed): the flag rules file the site file names does not validate."""
    from gateway.config import load_config
    from gateway.service.reload import Reloader
    from gateway.service.wiring import build, make_enricher

    rules = tmp_path / "flag_rules.yaml"
    shutil.copy(ROOT / "config" / "flag_rules.yaml", rules)
    site = {"site": "s", "gateway": "g", "lanes": [{"id": "lane1"}], "mqtt": {"url": "mqtt://127.0.0.1:9"},
            "storage": {"path": str(tmp_path / "data")}, "enrichment": {"rules": str(rules)}}
    site_file = tmp_path / "site.yaml"
    _write(site_file, site)
    gateway = build(load_config(site_file))
    reloader = Reloader(gateway, site_file, make_enricher)
    enricher = gateway.enricher
    try:
        edited = yaml.safe_load(rules.read_text(encoding="utf-8"))
        del edited["rules"]["NO_DECLARATION"]["id"]
        rules.write_text(yaml.safe_dump(edited), encoding="utf-8")
        _write(site_file, {**site, "lanes": [{"id": "lane2"}]})
        outcome = asyncio.run(reloader.reload("test"))
        assert not outcome.ok
        assert [path for path, _ in outcome.problems] == ["enrichment.rules"]
        assert "rules.NO_DECLARATION.id: Field required" in outcome.problems[0][1]
        assert gateway.enricher is enricher and [lane.id for lane in gateway.config.lanes] == ["lane1"]
        status = gateway.publisher.status.online("reload", time.time())
        assert status.config is not None and status.config.error is not None
        assert status.config.error.startswith("site.yaml: enrichment.rules: ")
        assert 'bx_config_reloads_total{result="failed"} 1.0' in gateway.metrics.exposition()
    finally:
        gateway.publisher.outbox.close()
        gateway.store.close()
