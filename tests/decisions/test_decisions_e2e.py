"""End to end for issue 18: central decisions back to the lane, through the real gateway and a real Mosquitto.

The gateway (``wiring.build``: the real lane engine, enrichment, publisher, decision intake and lane signals)
runs in this process on its own asyncio loop; the reads of the demo's trucks are handed to it as a reader's
would be.  Decisions come over MQTT (the gateway's topic and its customs office's topic) and over the HTTP API.
Checked on the broker: acknowledgements, the intake error topic, the retained lane-signal topics, the enriched
records and their revisions; and the Last Will of a lane's signal connection when its process dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.config import load_config
from gateway.gs1.epc.encoder import encode
from gateway.identity import Identifier
from gateway.reads import Read
from gateway.service.broker import MosquittoBroker, free_port
from gateway.service.gateway import Gateway
from gateway.service.reload import Reloader
from gateway.service.wiring import build, make_enricher
from tests.e2e.harness import load_demo_data
from tests.publishing.support import Received, Subscriber

SITE, GW, OFFICE = "dec-post", "gw-dec", "DE004056"
TOKEN = "dec-token"
BASE = f"bx/v1/customs/{SITE}/{GW}"
ACK = f"{BASE}/decision-ack"
ERROR = f"bx/v1/in/{SITE}/{GW}/error"
INTAKE = f"bx/v1/in/{SITE}/{GW}/decisions"
OFFICE_INTAKE = f"bx/v1/in/office/{OFFICE}/decisions"
TRUCK1 = ("340123450000001014", "340123450000001021")  # 25DE0040560000001A, no flags
TRUCK2 = ("340123450000002011", "340123450000002028")  # 25DE0040560000002A, SPS_DOC_MISSING (high)
TRUCK3 = ("340123450000003018", "340123450000003025")  # 25DE0040560000003A, SSCC_NOT_DECLARED ...
TRUCK7 = ("340123450000007016",)  # 25DE0040560000007A
MRN1, MRN2, MRN3, MRN7 = "25DE0040560000001A", "25DE0040560000002A", "25DE0040560000003A", "25DE0040560000007A"


def signal_topic(lane: str) -> str:
    return f"bx/v1/ops/{SITE}/{GW}/lane/{lane}/signal"


def decision(did: str, outcome: str, issued: str = "2026-01-01T10:00:00Z", **subject: str) -> dict[str, Any]:
    return {"decisionId": did, "outcome": outcome, "agency": "CUSTOMS", "reasonCodes": ["R1"], "issuedAt": issued,
            **subject}


def _read(sscc: str, antenna: str) -> Read:
    epc = encode([("00", sscc)], scheme="sscc-96", filter=0, company_prefix_length=7).hex.lower()
    return Read("rdr", antenna, "rfid", epc, time.time(), rssi_dbm=-50.0,
                identifier=Identifier.from_elements([("00", sscc)]), scheme="sscc-96")


def _site(tmp: Path, broker: MosquittoBroker, api_port: int) -> dict[str, Any]:
    return {
        "site": SITE, "gateway": GW,
        "lanes": [{"id": lane, "read_point_gln": "4012345000009", "default_direction": "inbound",
                   "readers": [{"id": "rdr", "url": "llrp://127.0.0.1:9?antennas=1,2",
                                "antennas": {antenna: {"zone": "portal"}}}]}
                  for lane, antenna in (("lane1", 1), ("lane2", 2))],
        "lane_engine": {"depart_after_s": 0.4, "passage_quiet_s": 0.4, "min_reads": 1},
        "mqtt": {"url": broker.url, "will_delay_s": 0, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "api": {"bind": f"127.0.0.1:{api_port}", "tokens": [TOKEN]},
        "storage": {"path": str(tmp / "data")},
        "enrichment": {"border_office": OFFICE},
        "decisions": {"offices": [OFFICE], "policy": {"wait_s": 1.5}, "signals": {"rest_timeout_s": 600}},
    }


class Post:
    """The gateway on its loop in a thread, a subscriber to everything, a decision sender."""

    def __init__(self, tmp: Path, *, load: bool = True) -> None:
        self.broker = MosquittoBroker(workdir=tmp / "broker")
        self.broker.start()
        if load:  # a restart over the same storage keeps what the first start loaded
            load_demo_data(tmp / "data", eta=time.time())
        self.api = f"http://127.0.0.1:{free_port()}"
        path = tmp / "site.yaml"
        path.write_text(yaml.safe_dump(_site(tmp, self.broker, int(self.api.rsplit(":", 1)[1]))), encoding="utf-8")
        self.gateway: Gateway = build(load_config(path))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.gateway.run(),), daemon=True)
        self.seen = Subscriber(self.broker.host, self.broker.port, "bx/v1/#", client_id="dec-watch",
                               persistent=True).start()
        self.thread.start()
        intake = self.gateway.decision_intake
        assert intake is not None
        assert _until(lambda: self.gateway.running.is_set() and intake.subscribed.is_set()
                      and self.retained(signal_topic("lane2")) is not None), "the gateway did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.gateway.request_stop)
        self.thread.join(30)
        self.seen.stop()
        self.broker.stop(kill=True)

    # -- the lane ----------------------------------------------------------------------------------

    def truck(self, lane: str, ssccs: tuple[str, ...]) -> str:
        """The truck's tags read in ``lane``; returns its passage id once it closed."""
        antenna = lane.removeprefix("lane")  # lane1 on antenna 1, lane2 on 2 (lane3 on 3 after a reload)
        before = {r["id"] for r in self.gateway.live.passages}
        for sscc in ssccs:
            self.loop.call_soon_threadsafe(self.gateway.on_source_event, _read(sscc, antenna))
        closed: list[str] = []

        def done() -> bool:
            closed[:] = [r["id"] for r in list(self.gateway.live.passages) if r["id"] not in before
                         and r["lane"] == lane]
            return bool(closed)
        assert _until(done), f"no passage closed in {lane}"
        return closed[0]

    # -- the broker --------------------------------------------------------------------------------

    def on(self, topic: str) -> list[Received]:
        return [m for m in list(self.seen.messages) if m.topic == topic]

    def retained(self, topic: str) -> dict[str, Any] | None:
        got = self.on(topic)
        return json.loads(got[-1].payload) if got else None

    def records(self, lane: str, passage_id: str) -> list[dict[str, Any]]:
        """The passage's enriched records, each once: QoS 1 is at least once, and a record in flight when the
        broker went away comes again after the reconnect (consumers deduplicate by the CloudEvents id)."""
        out: dict[str, dict[str, Any]] = {}
        for m in self.on(f"{BASE}/enriched/{lane}"):
            event = json.loads(m.payload)
            if event["data"]["passage"]["id"] == passage_id:
                out.setdefault(event["id"], event)
        return list(out.values())

    def explain(self, lane: str) -> str:
        """What the lane and the gateway show, for a failed assertion (a rare timing cannot be replayed)."""
        signals = [(s["state"], s["source"], s.get("passageId")) for s in
                   (json.loads(m.payload) for m in self.on(signal_topic(lane)))]
        rows = [(r["id"], r.get("revision"), (r.get("lane_decision") or {}).get("outcome"))
                for r in list(self.gateway.live.passages) if r["lane"] == lane]
        records = [(e["data"]["passage"]["id"], e["data"]["revision"]) for e in
                   (json.loads(m.payload) for m in self.on(f"{BASE}/enriched/{lane}"))]
        publisher = self.gateway.publisher
        return (f"signals {signals}; passages {rows}; records {records}; outbox depth {publisher.outbox.depth()}, "
                f"published {publisher.published()}, connected {publisher.link.connected.is_set()}")

    def acks(self) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.on(ACK)]

    def send(self, topic: str, body: Any) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dec-central-{time.monotonic_ns()}",
                             protocol=MQTTProtocolVersion.MQTTv5)
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        try:
            client.publish(topic, json.dumps(body) if not isinstance(body, bytes) else body, qos=1
                           ).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()

    def ack_for(self, decision_id: str, count: int = 1) -> list[str]:
        """The statuses the gateway acknowledged ``decision_id`` with, once there are ``count``."""
        def statuses() -> list[str]:
            return [a["status"] for ack in self.acks() for a in ack["acks"] if a["decisionId"] == decision_id]
        assert _until(lambda: len(statuses()) >= count), f"no ack for {decision_id}: {self.acks()}"
        return statuses()


def _until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture(scope="module")
def post(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Post]:
    p = Post(tmp_path_factory.mktemp("decisions"))
    try:
        yield p
    finally:
        p.stop()


def test_every_lane_starts_at_rest(post: Post) -> None:
    for lane in ("lane1", "lane2"):
        state = post.retained(signal_topic(lane))
        assert state is not None and state["state"] == "stop" and state["source"] == "rest"
    lanes = httpx.get(f"{post.api}/api/lanes", timeout=5).json()
    lanes = lanes.get("lanes", lanes) if isinstance(lanes, dict) else lanes
    assert {lane["id"]: lane["signal"]["state"] for lane in lanes} == {"lane1": "stop", "lane2": "stop"}


def test_a_decision_before_arrival_releases_and_a_flagged_truck_goes_to_the_bay(post: Post) -> None:
    # one copy per customs office: the national system does not know which gateway the truck will take
    post.send(OFFICE_INTAKE, [decision("D-REL-1", "release", mrn=MRN1), decision("D-REL-3", "release", mrn=MRN3)])
    assert post.ack_for("D-REL-1") == ["stored"] and post.ack_for("D-REL-3") == ["stored"]

    pid = post.truck("lane1", TRUCK1)
    assert _until(lambda: (post.retained(signal_topic("lane1")) or {}).get("passageId") == pid)
    shown = post.retained(signal_topic("lane1"))
    assert shown is not None
    assert (shown["state"], shown["outcome"], shown["source"]) == ("proceed", "release", "central")
    assert _until(lambda: bool(post.records("lane1", pid)))
    record = post.records("lane1", pid)[0]["data"]
    assert record["revision"] == 1
    assert record["laneDecision"]["outcome"] == "release"
    assert record["laneDecision"]["derivedFrom"] == [{"kind": "central", "ref": "D-REL-1", "outcome": "release"}]
    assert record["laneDecision"]["central"][0]["decisionId"] == "D-REL-1"
    assert "R1" not in json.dumps(record["laneDecision"])  # reason codes never reach the lane's record
    assert record["decision"] == "proceed"

    pid3 = post.truck("lane1", TRUCK3)  # released centrally, but one of its SSCCs is not declared
    assert _until(lambda: (post.retained(signal_topic("lane1")) or {}).get("passageId") == pid3)
    shown = post.retained(signal_topic("lane1"))
    assert shown is not None
    assert (shown["state"], shown["outcome"], shown["source"]) == ("inspection", "physical-inspection", "local")
    view = next(r for r in post.gateway.live.passages if r["id"] == pid3)
    assert view["lane_decision"]["source"] == "local" and view["revision"] == 1
    kinds = {(b["kind"], b["ref"]) for b in view["lane_decision"]["derived_from"]}
    assert ("central", "D-REL-3") in kinds and ("flag", "SSCC_NOT_DECLARED") in kinds
    assert view["lane_decision"]["central"][0]["decisionId"] == "D-REL-3"


def test_no_central_outcome_waits_then_the_default_and_a_late_decision_is_a_new_revision(post: Post) -> None:
    pid = post.truck("lane2", TRUCK7)
    # no central outcome: the lane shows stop while it waits (policy.wait_s), then the default, never release
    assert _until(lambda: any(json.loads(m.payload).get("passageId") == pid for m in post.on(signal_topic("lane2"))))
    shown_for = [s for s in (json.loads(m.payload) for m in post.on(signal_topic("lane2"))) if s["passageId"] == pid]
    assert (shown_for[0]["state"], shown_for[0]["source"]) == ("stop", "rest")
    assert _until(lambda: (post.retained(signal_topic("lane2")) or {}).get("source") == "default")
    shown = post.retained(signal_topic("lane2"))
    assert shown is not None and (shown["state"], shown["outcome"]) == ("inspection", "documentary-check")
    assert _until(lambda: bool(post.records("lane2", pid)))
    first = post.records("lane2", pid)[0]
    assert first["data"]["laneDecision"]["source"] == "default"

    # the central system decides after the passage, over HTTP: the next revision of the same record
    answer = httpx.post(f"{post.api}/api/decisions", json=decision("D-LATE-7", "release", mrn=MRN7),
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 200, answer.text
    assert [a["status"] for a in answer.json()["acks"]] == ["stored"]
    assert post.ack_for("D-LATE-7") == ["stored"]  # also on the MQTT ack topic
    assert [a["topic"] for a in post.acks() if any(x["decisionId"] == "D-LATE-7" for x in a["acks"])] == ["http"]
    assert _until(lambda: len(post.records("lane2", pid)) == 2)
    second = post.records("lane2", pid)[1]
    assert second["data"]["revision"] == 2
    assert second["data"]["observation"]["eventHash"] == first["data"]["observation"]["eventHash"]
    assert second["id"] == first["id"].replace("/r1", "/r2")
    assert second["data"]["laneDecision"]["outcome"] == "release"
    assert second["data"]["laneDecision"]["source"] == "central"
    # the truck is still at the lane (no other vehicle since): it now gets the release
    assert _until(lambda: (post.retained(signal_topic("lane2")) or {}).get("state") == "proceed")
    view = next(r for r in post.gateway.live.passages if r["id"] == pid)
    assert view["revision"] == 2 and view["lane_decision"]["outcome"] == "release"


def test_duplicate_conflicting_and_superseded_decisions_are_acknowledged(post: Post) -> None:
    mrn = "25DE0040560000009A"
    first = decision("D-DUP-1", "documentary-check", "2026-01-02T10:00:00Z", mrn=mrn)
    post.send(INTAKE, first)
    assert post.ack_for("D-DUP-1") == ["stored"]
    post.send(INTAKE, first)
    assert post.ack_for("D-DUP-1", 2) == ["stored", "duplicate"]
    # the same id issued again later wins; an earlier issue of it arriving after changes nothing
    post.send(INTAKE, {**first, "outcome": "hold", "issuedAt": "2026-01-02T11:00:00Z"})
    assert post.ack_for("D-DUP-1", 3)[-1] == "stored"
    post.send(INTAKE, {**first, "outcome": "release", "issuedAt": "2026-01-02T09:00:00Z"})
    assert post.ack_for("D-DUP-1", 4)[-1] == "superseded"
    # another id for the same subject and agency, issued earlier than the one held: kept, not applied
    post.send(INTAKE, decision("D-DUP-0", "release", "2026-01-02T08:00:00Z", mrn=mrn))
    assert post.ack_for("D-DUP-0") == ["superseded"]
    held = post.gateway.decisions.store.for_subjects([("mrn", mrn)])  # type: ignore[union-attr]
    from gateway.decisions.policy import applicable

    assert [(d.decision_id, d.outcome) for d in applicable(held, now=time.time())] == [("D-DUP-1", "hold")]


def test_bad_decisions_are_named_by_index_and_field_path(post: Post) -> None:
    good = decision("D-OK-5", "hold", mrn="25DE0040560000005A")
    post.send(INTAKE, [good, {**good, "decisionId": "D-BAD-1", "outcome": "wave-through"}, "not an object",
                       {**good, "decisionId": "D-BAD-3", "passageId": "p-1"}])
    assert post.ack_for("D-OK-5") == ["stored"]  # the valid record of the same message is kept
    assert _until(lambda: bool(post.on(ERROR)))
    error = json.loads(post.on(ERROR)[-1].payload)
    assert error["kind"] == "decisions" and error["topic"] == INTAKE
    assert {(e["index"], e["path"]) for e in error["errors"]} >= {(1, "outcome"), (2, "(root)"), (3, "(root)")}
    post.send(INTAKE, b"{not json")
    assert _until(lambda: any(e["path"] == "(payload)" for m in post.on(ERROR)
                              for e in json.loads(m.payload)["errors"]))

    auth = {"Authorization": f"Bearer {TOKEN}"}
    one = httpx.post(f"{post.api}/api/decisions", json={**good, "decisionId": "D-BAD-H", "issuedAt": "yesterday"},
                     headers=auth, timeout=5)
    assert one.status_code == 422 and one.json()["detail"][0]["path"] == "body.issuedAt"
    many = httpx.post(f"{post.api}/api/decisions", json=[{**good, "decisionId": "D-OK-H"},
                                                         {**good, "decisionId": "D-BAD-H2", "agency": ""}],
                      headers=auth, timeout=5)
    assert many.status_code == 422
    assert [d["path"] for d in many.json()["detail"]] == ["body[1].agency"]
    assert [(a["decisionId"], a["status"]) for a in many.json()["acks"]] == [("D-OK-H", "stored"),
                                                                            ("D-BAD-H2", "rejected")]
    assert httpx.post(f"{post.api}/api/decisions", json=good, timeout=5).status_code == 401


def test_a_decision_sent_while_the_broker_is_down_still_reaches_the_lane(post: Post) -> None:
    pid = post.truck("lane1", TRUCK2)  # no central outcome yet: the high SPS flag raises the default
    assert _until(lambda: len(post.records("lane1", pid)) == 1)
    assert post.records("lane1", pid)[0]["data"]["laneDecision"]["outcome"] == "physical-inspection"

    # the central system's client queues its publish while the broker is away, and sends it once it is back
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dec-central-outage",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.reconnect_delay_set(0.2, 1.0)
    client.connect(post.broker.host, post.broker.port)
    client.loop_start()
    try:
        post.broker.stop()
        assert _until(lambda: not client.is_connected())
        # paho keeps a QoS 1 message published while disconnected and sends it after reconnecting
        client.publish(INTAKE, json.dumps(decision("D-OUT-2", "hold", mrn=MRN2)), qos=1)
        post.broker.start()
        assert post.ack_for("D-OUT-2") == ["stored"]
    finally:
        client.disconnect()
        client.loop_stop()
    assert _until(lambda: len(post.records("lane1", pid)) == 2, timeout=30), post.explain("lane1")
    revised = post.records("lane1", pid)[1]["data"]
    assert revised["revision"] == 2 and revised["laneDecision"]["outcome"] == "hold"
    assert _until(lambda: (post.retained(signal_topic("lane1")) or {}).get("state") == "hold"), post.explain("lane1")


def test_a_reload_gives_a_new_lane_its_signal_and_leaves_a_removed_one_at_stop(tmp_path: Path) -> None:
    post = Post(tmp_path)
    try:
        site_file = tmp_path / "site.yaml"
        Reloader(post.gateway, site_file, make_enricher)  # what `border-gateway run` sets up: POST /api/reload
        site = yaml.safe_load(site_file.read_text(encoding="utf-8"))
        lane3 = {**site["lanes"][0], "id": "lane3"}
        lane3["readers"] = [{**lane3["readers"][0], "antennas": {3: {"zone": "portal"}}}]
        site["lanes"] = [site["lanes"][0], lane3]  # lane2 goes, lane3 comes
        site_file.write_text(yaml.safe_dump(site), encoding="utf-8")
        answer = httpx.post(f"{post.api}/api/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 200, answer.text

        # the removed lane's sign is left at stop, retained, saying why; the new lane has its own connection
        assert _until(lambda: (post.retained(signal_topic("lane2")) or {}).get("reason") == "lane-removed")
        assert post.retained(signal_topic("lane2"))["state"] == "stop"  # type: ignore[index]
        assert _until(lambda: post.retained(signal_topic("lane3")) is not None), "lane3 has no signal"
        assert post.retained(signal_topic("lane3"))["state"] == "stop"  # type: ignore[index]

        post.send(INTAKE, decision("D-REL-R", "release", mrn=MRN1))
        assert post.ack_for("D-REL-R") == ["stored"]
        pid = post.truck("lane3", TRUCK1)
        assert _until(lambda: (post.retained(signal_topic("lane3")) or {}).get("passageId") == pid), \
            post.explain("lane3")
        shown = post.retained(signal_topic("lane3"))
        assert shown is not None and (shown["state"], shown["outcome"]) == ("proceed", "release")
    finally:
        post.stop()


_SIGNAL_PROCESS = """
import sys, time
from gateway.config.mqtt import MqttConfig
from gateway.decisions.signals import LaneSignal, MqttSignalSink
cfg = MqttConfig(url=sys.argv[1])
sink = MqttSignalSink(cfg, base_client_id="dec-will", topic=lambda lane: "bx/v1/ops/will/gw/lane/" + lane + "/signal",
                      lanes=["lane9"])
sink.start()
while not sink.connected:
    time.sleep(0.05)
sink.signal("lane9", "proceed", "green", LaneSignal("lane9", "proceed", "release", "central", "p-9", time.time()))
print("up", flush=True)
time.sleep(60)
"""


def test_a_dead_gateway_leaves_its_lanes_at_stop(tmp_path: Path) -> None:
    broker = MosquittoBroker(workdir=tmp_path / "broker")
    broker.start()
    topic = "bx/v1/ops/will/gw/lane/lane9/signal"
    watch = Subscriber(broker.host, broker.port, topic, client_id="dec-will-watch").start()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", _SIGNAL_PROCESS, broker.url], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"up"
        assert _until(lambda: any(json.loads(m.payload)["state"] == "proceed" for m in watch.messages))
        child.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the connection's Will
        child.wait(10)
        assert _until(lambda: json.loads(watch.messages[-1].payload).get("reason") == "gateway-offline")
        last = json.loads(watch.messages[-1].payload)
        assert last["state"] == "stop"
        again = Subscriber(broker.host, broker.port, topic, client_id="dec-will-later").start()  # retained
        assert _until(lambda: bool(again.messages)) and json.loads(again.messages[-1].payload)["state"] == "stop"
        again.stop()
    finally:
        if child.poll() is None:
            child.kill()
        watch.stop()
        broker.stop(kill=True)



def test_a_late_decision_after_a_restart_finds_the_passage_in_the_history(tmp_path: Path) -> None:
    """The desk's index of recently closed passages is in memory: after a restart, a decision about a passage
    closed before it is matched through the passage history and still publishes the next revision."""
    first_post = Post(tmp_path)
    try:
        pid = first_post.truck("lane2", TRUCK7)
        assert _until(lambda: bool(first_post.records("lane2", pid)))
        first = first_post.records("lane2", pid)[0]
        assert first["data"]["revision"] == 1 and first["data"]["laneDecision"]["source"] != "central"
    finally:
        first_post.stop()
    post = Post(tmp_path, load=False)  # the same storage: a restarted gateway, its index of closed passages empty
    try:
        post.send(INTAKE, decision("D-AFTER-RESTART", "hold", mrn=MRN7))
        assert post.ack_for("D-AFTER-RESTART") == ["stored"]
        assert _until(lambda: any(r["data"]["revision"] == 2 for r in post.records("lane2", pid)), 30), \
            "no revision after the restart"
        second = next(r for r in post.records("lane2", pid) if r["data"]["revision"] == 2)
        assert second["id"] == first["id"].replace("/r1", "/r2")  # the same event hash, the next revision
        assert (second["data"]["laneDecision"]["outcome"], second["data"]["laneDecision"]["source"]) == (
            "hold", "central")
        story = httpx.get(f"{post.api}/api/passages/{pid}", headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=5).json()
        kinds = [event["kind"] for event in story["events"]]
        assert "decision" in kinds and kinds.count("enriched") >= 2, kinds
    finally:
        post.stop()
