"""Decisions back to the lane: passage close -> lane signal on the broker, late decision -> new revision.

Run: ``.venv/bin/python benchmarks/bench_decisions.py [--quick]`` (writes ``benchmarks/results/decisions.json``;
under a minute).  Starts its own Mosquitto on a free loopback port.

The gateway is the real one (``gateway.service.wiring.build``: lane engine, enrichment, publisher, decision
store, intake and the per-lane MQTT signal connections) on its own asyncio loop in this process, two lanes; its
store holds one generated declaration per truck (one SSCC each).  A truck is its SSCC's read handed to the
gateway as a reader's would be; its passage closes after ``passage_quiet_s``.

* **close -> signal**: the central release for the truck's MRN is already stored; from the moment the
  gateway's close path decides the passage (a timestamp taken in the lane desk's ``passage_closed``) to the
  retained signal for that passage received by a paho subscriber in this process.  One truck at a time,
  lanes alternating.  p50 / p99.
* **late decision -> revision**: trucks closed without a central decision; then, one at a time, a decision for
  the truck's MRN is published on the gateway's decision topic and timed from the publish to the enriched
  record's revision 2 received (so it includes the broker hop in, the store, the re-decision, the outbox commit
  and the broker hop out).  p50 / p99.

No anchor: the MQTT round trip of a bare paho publish -> subscribe on the same broker is measured in the same run
as the floor of both figures.  Every wait is bounded; all traffic is on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import yaml  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402

from gateway.config import load_config  # noqa: E402
from gateway.decisions.model import Decision  # noqa: E402
from gateway.decisions.store import DecisionStore  # noqa: E402
from gateway.enrichment.importer import import_records  # noqa: E402
from gateway.enrichment.store import Store  # noqa: E402
from gateway.gs1.check_digit import with_check_digit  # noqa: E402
from gateway.gs1.epc.encoder import encode  # noqa: E402
from gateway.identity import Identifier  # noqa: E402
from gateway.reads import Read  # noqa: E402
from gateway.service.broker import MosquittoBroker, free_port  # noqa: E402
from gateway.service.wiring import build  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "decisions.json"
SITE, GW = "bench-post", "gw-bench"
DEMO = ROOT / "config" / "demo-data"


def sscc(n: int) -> str:
    return with_check_digit(f"34012345{n:09d}")


def mrn(n: int) -> str:
    return f"26DE{n:014d}"


def declarations(count: int, eta: float) -> list[dict[str, Any]]:
    template = json.loads((DEMO / "declarations.json").read_text(encoding="utf-8"))[0]
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(eta))
    out = []
    for n in range(count):
        d = json.loads(json.dumps(template))
        d["declarationRef"]["mrn"], d["declarationRef"]["lrn"] = mrn(n), f"LRN-B-{n}"
        d["activeTransport"]["eta"], d["activeTransport"]["id"] = when, f"B-BD {n:05d}"
        item = d["houseConsignments"][0]["goodsItems"][0]
        item["gs1"] = {"ssccs": [sscc(n)], "source": "DESADV"}
        item["packaging"][0]["count"], item["packaging"][0]["shippingMarks"] = 1, f"SSCC {sscc(n)}"
        out.append(d)
    return out


def read(code: str, antenna: str) -> Read:
    epc = encode([("00", code)], scheme="sscc-96", filter=0, company_prefix_length=7).hex.lower()
    return Read("rdr", antenna, "rfid", epc, time.time(), rssi_dbm=-50.0,
                identifier=Identifier.from_elements([("00", code)]), scheme="sscc-96")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Watch:
    """A paho subscriber stamping signals and enriched records on receipt (time.monotonic)."""

    def __init__(self, host: str, port: int) -> None:
        self.signals: dict[str, float] = {}  # passage id -> first signal naming it
        self.revisions: dict[tuple[str, int], float] = {}  # (passage id, revision) -> received
        self.echo: dict[str, float] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-dec-watch",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(host, port)
        self.client.subscribe([(f"bx/v1/ops/{SITE}/{GW}/lane/+/signal", 1),
                               (f"bx/v1/customs/{SITE}/{GW}/enriched/+", 1), ("bench/echo", 1)])
        self.client.loop_start()
        assert ready.wait(10)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        body = json.loads(msg.payload)
        with self.lock:
            if msg.topic == "bench/echo":
                self.echo[body["n"]] = now
            elif msg.topic.endswith("/signal"):
                if body.get("passageId") and body["source"] != "rest":
                    self.signals.setdefault(body["passageId"], now)
            else:
                data = body["data"]
                self.revisions.setdefault((data["passage"]["id"], data["revision"]), now)

    def wait(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return True
            time.sleep(0.0005)
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    trucks, late = (40, 20) if args.quick else (200, 100)
    with tempfile.TemporaryDirectory(prefix="bench-decisions-") as tmp_name:
        tmp = Path(tmp_name)
        broker = MosquittoBroker(workdir=tmp / "broker")
        broker.start()
        try:
            return run(tmp, broker, trucks, late)
        finally:
            broker.stop(kill=True)


def run(tmp: Path, broker: MosquittoBroker, trucks: int, late: int) -> int:
    total = trucks + late
    now = time.time()
    with Store.for_storage_dir(tmp / "data") as store:
        for what in ("parties", "products"):
            import_records(store, what, json.loads((DEMO / f"{what}.json").read_text(encoding="utf-8")))
        report = import_records(store, "declarations", declarations(total, now))
        assert not report.errors, report.summary()
    decisions = DecisionStore.for_storage_dir(tmp / "data")
    for n in range(trucks):  # the central decision is already there for the first part
        decisions.put(Decision.model_validate({"decisionId": f"D-B-{n}", "outcome": "release", "agency": "CUSTOMS",
                                               "issuedAt": "2026-01-01T00:00:00Z", "mrn": mrn(n)}))
    decisions.close()
    site = {"site": SITE, "gateway": GW,
            "lanes": [{"id": lane, "read_point_gln": "4012345000009", "default_direction": "inbound",
                       "readers": [{"id": "rdr", "url": "llrp://127.0.0.1:9?antennas=1,2",
                                    "antennas": {antenna: {"zone": "portal"}}}]}
                      for lane, antenna in (("lane1", 1), ("lane2", 2))],
            "lane_engine": {"depart_after_s": 0.2, "passage_quiet_s": 0.2, "min_reads": 1},
            "mqtt": {"url": broker.url},
            "api": {"bind": f"127.0.0.1:{free_port()}"},
            "storage": {"path": str(tmp / "data")},
            "enrichment": {"border_office": "DE004056"},
            "decisions": {"policy": {"wait_s": 0}, "signals": {"rest_timeout_s": 600}}}
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(site), encoding="utf-8")
    gateway = build(load_config(path))
    desk = gateway.decisions
    assert desk is not None
    closed_at: dict[str, float] = {}
    original = desk.passage_closed

    def timed(passage: Any, result: Any, *, now: float) -> Any:
        closed_at.setdefault(passage.id, time.monotonic())
        return original(passage, result, now=now)
    desk.passage_closed = timed  # type: ignore[method-assign]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(gateway.run(serve_api=False),), daemon=True)
    thread.start()
    watch = Watch(broker.host, broker.port)
    intake = gateway.decision_intake
    assert watch.wait(lambda: gateway.running.is_set() and intake is not None and intake.subscribed.is_set())
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-dec-central",
                         protocol=MQTTProtocolVersion.MQTTv5)
    sender.connect(broker.host, broker.port)
    sender.loop_start()
    try:
        def truck(n: int) -> str:
            antenna = "1" if n % 2 == 0 else "2"
            before = set(closed_at)
            loop.call_soon_threadsafe(gateway.on_source_event, read(sscc(n), antenna))
            found: list[str] = []

            def closed() -> bool:
                found[:] = [p for p in closed_at if p not in before]
                return bool(found)
            assert watch.wait(closed), f"truck {n} did not close"
            return found[0]

        signal_ms: list[float] = []
        for n in range(trucks):
            pid = truck(n)
            assert watch.wait(lambda pid=pid: pid in watch.signals), f"no signal for truck {n}"
            signal_ms.append((watch.signals[pid] - closed_at[pid]) * 1000)
        revision_ms: list[float] = []
        for n in range(trucks, total):
            pid = truck(n)
            assert watch.wait(lambda pid=pid: (pid, 1) in watch.revisions), f"no record for truck {n}"
            body = json.dumps({"decisionId": f"D-L-{n}", "outcome": "hold", "agency": "SPS",
                               "issuedAt": "2026-01-01T00:00:00Z", "mrn": mrn(n)})
            sent = time.monotonic()
            sender.publish(f"bx/v1/in/{SITE}/{GW}/decisions", body, qos=1)
            assert watch.wait(lambda pid=pid: (pid, 2) in watch.revisions), f"no revision for truck {n}"
            revision_ms.append((watch.revisions[(pid, 2)] - sent) * 1000)
        echo_ms: list[float] = []
        for n in range(100):  # the floor: a bare publish -> subscriber on the same broker
            key = str(n)
            sent = time.monotonic()
            sender.publish("bench/echo", json.dumps({"n": key}), qos=1)
            assert watch.wait(lambda key=key: key in watch.echo)
            echo_ms.append((watch.echo[key] - sent) * 1000)
    finally:
        sender.loop_stop()
        sender.disconnect()
        loop.call_soon_threadsafe(gateway.request_stop)
        thread.join(30)
        watch.client.loop_stop()
    machine = f"{platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} cores, " \
              f"load {os.getloadavg()[0]:.1f}"
    floor = f"{statistics.median(echo_ms):.2f} / {pct(echo_ms, 0.99):.2f} (bare paho publish -> subscribe)"
    rows = [
        {"metric": "passage close -> lane signal on the broker, p50", "ours": round(pct(signal_ms, 0.5), 2),
         "anchor": None, "anchor_name": None, "ratio": None, "unit": "ms", "target": "-"},
        {"metric": "passage close -> lane signal on the broker, p99", "ours": round(pct(signal_ms, 0.99), 2),
         "anchor": None, "anchor_name": None, "ratio": None, "unit": "ms", "target": "< 100 ms"},
        {"metric": "late decision published -> revision 2 on the broker, p50", "ours": round(pct(revision_ms, 0.5), 2),
         "anchor": None, "anchor_name": None, "ratio": None, "unit": "ms", "target": "-"},
        {"metric": "late decision published -> revision 2 on the broker, p99", "ours": round(pct(revision_ms, 0.99), 2),
         "anchor": None, "anchor_name": None, "ratio": None, "unit": "ms", "target": "< 250 ms"},
        {"metric": "MQTT floor p50 / p99", "ours": floor, "anchor": None, "anchor_name": None, "ratio": None,
         "unit": "ms", "target": "-"},
        {"metric": "samples (signals / revisions)", "ours": f"{len(signal_ms)} / {len(revision_ms)}", "anchor": None,
         "anchor_name": None, "ratio": None, "unit": "trucks", "target": "-"},
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "decisions: lane signal and late revisions", "machine": machine,
                                   "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
