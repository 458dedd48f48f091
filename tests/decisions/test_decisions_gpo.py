"""A central decision reaches the lane's lights through an LLRP reader's general-purpose outputs.

The whole loop on real parts: a decision published on the customs office's topic (real Mosquitto) is stored,
the truck's tags close a passage linked to its declaration, the lane decision (``release``) becomes the lane
signal ``proceed``, and the gateway writes ``SET_READER_CONFIG``/``GPOWriteData`` over the real LLRP TCP
connection to the reader simulator, whose output state the test reads.  A truck without a central outcome
then turns the lane's outputs back to ``stop`` while it waits, and the gateway's stop leaves them at rest.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import load_config
from gateway.reads import Trigger
from gateway.service.broker import MosquittoBroker, free_port
from gateway.service.gateway import Gateway
from gateway.service.wiring import build
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.tag_world import TagWorld
from tests.decisions.test_decisions_e2e import (
    MRN1,
    MRN2,
    OFFICE,
    OFFICE_INTAKE,
    TRUCK1,
    TRUCK2,
    _read,
    _until,
    decision,
)
from tests.e2e.harness import load_demo_data
from tests.publishing.support import Subscriber

SITE, GW = "gpo-post", "gw-gpo-dec"
STOP, PROCEED, BAY = 1, 2, 3  # the lane's outputs: red light, green light (and barrier pulse), inspection sign


class Lane:
    def __init__(self, tmp: Path) -> None:
        self.broker = MosquittoBroker(workdir=tmp / "broker")
        self.broker.start()
        self.sim_loop = asyncio.new_event_loop()
        self.sim_thread = threading.Thread(target=self.sim_loop.run_forever, daemon=True)
        self.sim_thread.start()
        # an empty tag world: the reader is here for its outputs; the truck's reads are handed in below
        self.sim = LLRPReaderSimulator(TagWorld.steady("rdr", 0, 1.0), "rdr")
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.sim_loop).result(10)
        load_demo_data(tmp / "data", eta=time.time())
        site: dict[str, Any] = {
            "site": SITE, "gateway": GW,
            "lanes": [{"id": "lane1", "read_point_gln": "4012345000009", "default_direction": "inbound",
                       "readers": [{"id": "rdr", "url": f"llrp://127.0.0.1:{self.sim.port}?antennas=1",
                                    "gpos": 4, "antennas": {1: {"zone": "portal"}}, "gpi_exit": 2}],
                       "gpo": {"stop": [{"reader": "rdr", "port": STOP}],
                               "proceed": [{"reader": "rdr", "port": PROCEED}],
                               "inspection": [{"reader": "rdr", "port": BAY}]}}],
            "lane_engine": {"depart_after_s": 0.4, "passage_quiet_s": 0.4, "min_reads": 1},
            "mqtt": {"url": self.broker.url, "will_delay_s": 0},
            "api": {"bind": f"127.0.0.1:{free_port()}"},
            "storage": {"path": str(tmp / "data")},
            "enrichment": {"border_office": OFFICE},
            "decisions": {"offices": [OFFICE], "policy": {"wait_s": 30},
                          "signals": {"rest_timeout_s": 600, "hold_after_exit_s": 0.5}},
        }
        path = tmp / "site.yaml"
        path.write_text(yaml.safe_dump(site), encoding="utf-8")
        self.gateway: Gateway = build(load_config(path))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.gateway.run(),), daemon=True)
        self.thread.start()
        intake = self.gateway.decision_intake
        assert intake is not None
        assert _until(lambda: self.gateway.running.is_set() and intake.subscribed.is_set(), 30)

    def outputs(self, high: int) -> bool:
        """Exactly output ``high`` of the lane's three is on."""
        gpo = self.sim.gpo
        return all(gpo.get(port) is (port == high) for port in (STOP, PROCEED, BAY))

    def truck(self, ssccs: tuple[str, ...]) -> None:
        for sscc in ssccs:
            self.loop.call_soon_threadsafe(self.gateway.on_source_event, _read(sscc, "1"))

    def send(self, body: Any) -> None:
        import json

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gpo-central-{time.monotonic_ns()}")
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        try:
            client.publish(OFFICE_INTAKE, json.dumps(body), qos=1).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.gateway.request_stop)
        self.thread.join(30)
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.sim_loop).result(10)
        self.sim_loop.call_soon_threadsafe(self.sim_loop.stop)
        self.sim_thread.join(10)
        self.broker.stop(kill=True)


@pytest.fixture()
def lane(tmp_path: Path) -> Iterator[Lane]:
    lane = Lane(tmp_path)
    try:
        yield lane
    finally:
        lane.stop()


def test_a_central_release_turns_the_lane_green_on_the_readers_outputs(lane: Lane) -> None:
    assert _until(lambda: lane.outputs(STOP), 30), f"the lane did not start at rest: {lane.sim.gpo}"
    watch = Subscriber(lane.broker.host, lane.broker.port, f"bx/v1/customs/{SITE}/{GW}/decision-ack",
                       client_id="gpo-ack").start()
    try:
        lane.send([decision("D-GPO-1", "release", mrn=MRN1), decision("D-GPO-2", "release", mrn=MRN2)])
        assert _until(lambda: bool(watch.messages)), "the decisions were not acknowledged"
    finally:
        watch.stop()
    lane.truck(TRUCK1)  # declaration 1A: no flags, released before arrival
    assert _until(lambda: lane.outputs(PROCEED), 30), f"the release did not reach the outputs: {lane.sim.gpo}"
    # the truck drives off the exit loop (GPI 2 released): back to stop once shown hold_after_exit_s
    lane.loop.call_soon_threadsafe(lane.gateway.on_source_event,
                                   Trigger(source="rdr", host_time=time.time(), port=2, active=False))
    assert _until(lambda: lane.outputs(STOP), 30), f"the lane did not rest when the truck left: {lane.sim.gpo}"
    # declaration 2A is released too, but the truck's SPS document is missing (a high flag): the bay
    lane.truck(TRUCK2)
    assert _until(lambda: lane.outputs(BAY), 30), f"the flagged truck was not sent to the bay: {lane.sim.gpo}"
    writes = [(port, high) for _at, port, high in lane.sim.gpo_history]
    on = [port for port, high in writes if high]
    assert on.index(PROCEED) < len(on) - 1 - on[::-1].index(STOP) < on.index(BAY), writes  # green, red, bay
