"""End to end for issue 17: vehicles that carry no GS1 tag, seen by loops and ANPR cameras, through the real
service (``border-gateway run``) to a real Mosquitto.

The LLRP reader simulator plays the loops on its GPIs (edges over the real TCP connection, after the gateway
enabled the ports it wires: ``gpi_entry``/``gpi_exit``); an ANPR camera simulator POSTs Rekor Scout and
Hikvision (multipart, with the plate picture) events to the gateway's ``anpr+webhook`` sources; a lane
controller opens a passage over MQTT (``.../lane/lane2/trigger``) and closes it over the HTTP API.  The
declarations and the movement are the demo's.  Counted: one enriched record per vehicle with the flags and
links of ``config/demo-data/README.md`` (trucks 5-7), one for the controller's vehicle (nothing identified:
``NO_DECLARATION``); plates in the customs records, masked on the ops topics, nowhere in a topic name, the
SPS subscription or the gateway's log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.service.broker import LOOPBACK, MosquittoBroker, free_port
from simulators.anpr_sim import AnprCameraSimulator, CameraTarget
from simulators.scenario import load_scenario
from tests.e2e.harness import (
    FIXTURES,
    LLRP,
    MERCURY,
    SITE,
    TOKEN,
    GatewayProcess,
    Msg,
    Site,
    consumer,
    decode,
    kind,
    load_demo_data,
    site_config,
    wait_until,
)

PLATES = ("BUN5005", "BUTS505", "BUT5505", "BMV6006", "BMV6606", "BXX7070", "B-UN", "B-UT", "B-MV", "B-XX")
CAMERAS = {"anpr-l1-front": ("lane1", "rekor", "front"), "anpr-l1-rear": ("lane1", "hikvision", "trailer"),
           "anpr-l2-front": ("lane2", "rekor", "front")}


@dataclass
class Run:
    everything: list[Msg]
    sps: list[Msg]
    log: str
    exit_code: int | None
    posted: int

    def records(self) -> list[dict[str, Any]]:
        return [m.data for m in self.everything if kind(m.topic) == "customs/enriched"]

    def record_with(self, predicate: Any) -> dict[str, Any]:
        found = [r for r in self.records() if predicate(r)]
        assert len(found) == 1, f"{len(found)} records match; records: {[r['passage'] for r in self.records()]}"
        return found[0]


def plates_of(record: dict[str, Any]) -> set[str]:
    return {v["value"] for v in record["passage"].get("vehicle", []) if v["kind"] == "plate"}


def _trigger_over_mqtt(host: str, port: int, lane: str, body: dict[str, Any]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"e2e-plc-{time.monotonic_ns()}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(host, port)
    client.loop_start()
    try:
        client.publish(f"bx/v1/in/{SITE}/gw-e2e/lane/{lane}/trigger", json.dumps(body), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("e2e-vehicles")
    broker = MosquittoBroker(workdir=tmp / "broker")
    broker.start()
    scenario = load_scenario(FIXTURES / "vehicle-trucks.yaml", seed=1)
    site = Site(scenario, tmp / "site").start()
    anpr: AnprCameraSimulator | None = None
    gateway: GatewayProcess | None = None
    customs = sps = None
    try:
        load_demo_data(tmp / "data", eta=site.t0)
        ports = {camera: free_port() for camera in CAMERAS}
        config = site_config(site, mqtt_url=broker.url, storage=tmp / "data", api_port=free_port(),
                             lane_engine={"intake_mqtt": True})
        for lane in config["lanes"]:
            lane["plate_country"] = "DE"
            llrp = next(r for r in lane["readers"] if r["id"] == LLRP)
            llrp["gpi_entry"], llrp["gpi_exit"] = (1, 2) if lane["id"] == "lane1" else (3, 4)
            lane.setdefault("cameras", []).extend(
                {"id": camera, "url": f"anpr+webhook://{LOOPBACK}:{ports[camera]}/{preset}?preset={preset}"
                                      f"&position={position}"}
                for camera, (lane_id, preset, position) in CAMERAS.items() if lane_id == lane["id"])
        customs = consumer(broker.host, broker.port, "bx/v1/#", "e2e-vehicles-preclearance")
        sps = consumer(broker.host, broker.port, "bx/v1/sps/#", "e2e-vehicles-sps")
        gateway = GatewayProcess(config, tmp / "gateway").start()
        gateway.wait_sources({LLRP: "connected", MERCURY: "connected", **dict.fromkeys(CAMERAS, "connected")},
                             timeout=60)
        targets = {camera: CameraTarget(f"http://{LOOPBACK}:{ports[camera]}/{preset}", preset,
                                        pictures=preset == "hikvision")
                   for camera, (_lane, preset, _pos) in CAMERAS.items()}
        anpr = AnprCameraSimulator(scenario.sightings, targets)
        loop_t0 = site.run(_loop_time()) - site.now()  # the scenario's time 0 on the simulators' loop
        site.run(anpr.start(t0=loop_t0))
        assert site.now() < 12.0, f"the gateway needed {site.now():.0f} s to connect its sources"
        site.sleep_until(32.0)  # a lane controller's vehicle on lane 2: entry over MQTT, exit over HTTP
        _trigger_over_mqtt(broker.host, broker.port, "lane2", {"role": "entry", "source": "plc-1"})
        site.sleep_until(34.0)
        answer = httpx.post(f"{gateway.api}/api/lanes/lane2/trigger", json={"role": "exit", "source": "plc-1"},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 202, answer.text
        received = customs.messages
        wait_until("4 enriched records", lambda: sum("/enriched/" in r.topic for r in received) >= 4, 40, gateway)
        exit_code = gateway.stop()
        posted = anpr.posted
        site.run(anpr.stop())
        anpr = None
        yield Run(decode(customs.messages), decode(sps.messages),
                  gateway.log_path.read_text(encoding="utf-8", errors="replace"), exit_code, posted)
    finally:
        if anpr is not None:
            site.run(anpr.stop())
        if gateway is not None:
            gateway.stop()
        for subscriber in (customs, sps):
            if subscriber is not None:
                subscriber.stop()
        site.stop()
        broker.stop()


async def _loop_time() -> float:
    import asyncio

    return asyncio.get_running_loop().time()


def test_the_untagged_trucks_are_flagged_and_linked_by_their_plates(run: Run) -> None:
    assert run.posted == 5 and len(run.records()) == 4
    undeclared = run.record_with(lambda r: "BUN5005" in plates_of(r))
    assert plates_of(undeclared) == {"BUN5005", "BUTS505"}  # the rear camera's misread, kept as read
    assert [f["code"] for f in undeclared["flags"]] == ["NO_DECLARATION"] and undeclared["links"] == []
    assert undeclared["passage"]["triggers"] == ["gpi:llrp-sim:1:entry", "gpi:llrp-sim:2:exit"]
    assert undeclared["passage"]["closeReason"] == "trigger" and undeclared["observation"] == {}  # no EPCIS
    movement = run.record_with(lambda r: "BMV6006" in plates_of(r))
    assert movement["flags"] == [] and {(li["mrn"], li["via"]) for li in movement["links"]} >= {
        ("25DE0040560000006A", "movement-plate")}
    trailer = next(v for v in movement["passage"]["vehicle"] if v["value"] == "BMV6606")
    assert trailer["positions"] == ["trailer"] and trailer["country"] == "DE"


def test_a_tagged_truck_with_another_vehicles_plate_is_a_transport_mismatch(run: Run) -> None:
    mismatch = run.record_with(lambda r: "BXX7070" in plates_of(r))
    assert [f["code"] for f in mismatch["flags"]] == ["TRANSPORT_MISMATCH"]
    assert mismatch["flags"][0]["evidence"]["declared"] == ["BDC7007"]
    assert {li["mrn"] for li in mismatch["links"]} == {"25DE0040560000007A"}
    assert mismatch["observation"]["eventHash"].startswith("ni:///sha-256;")
    assert mismatch["passage"]["triggers"] == ["gpi:llrp-sim:3:entry", "gpi:llrp-sim:4:exit"]


def test_a_lane_controllers_vehicle_is_a_passage_with_nothing_identified(run: Run) -> None:
    plc = run.record_with(lambda r: r["passage"]["triggers"] == ["external:plc-1:entry", "external:plc-1:exit"])
    assert plc["passage"]["lane"] == "lane2" and "vehicle" not in plc["passage"] and plc["passage"]["counts"] == {}
    [flag] = plc["flags"]
    assert flag["code"] == "NO_DECLARATION" and flag["message"] == "nothing identified the vehicle"


def test_plates_stay_with_customs(run: Run) -> None:
    """No plate in a topic name, in the SPS subscription, on the ops topics (masked there) or in the log."""
    for message in run.everything:
        assert not any(p in message.topic for p in PLATES), message.topic
    ops = [m for m in run.everything if m.topic.split("/")[2] == "ops"]
    assert ops and not any(p in json.dumps(m.body) for m in ops for p in PLATES)
    masked = {v["value"] for m in ops for v in m.data.get("passage", {}).get("vehicle", [])}
    assert {"B*****5", "B*****6", "B*****0"} <= masked
    assert not any(p in json.dumps(m.body) for m in run.sps for p in PLATES)
    assert not [p for p in PLATES if p in run.log], "a plate in the gateway's log"
    assert run.exit_code == 0 and "Traceback" not in run.log
