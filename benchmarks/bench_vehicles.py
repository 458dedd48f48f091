"""Plate events into passages: ANPR webhook POSTs -> ``border-gateway run`` -> enriched records on MQTT.

Run: ``.venv/bin/python benchmarks/bench_vehicles.py [--quick]`` (writes ``benchmarks/results/vehicles.json``;
about a minute).  Starts its own Mosquitto on a free loopback port.

The gateway is the real service (``python -m gateway.cli run``, a child process) with two lanes, each with
an ANPR camera (``anpr+webhook``, Rekor preset) and a lane controller (``POST /api/lanes/{lane}/trigger``);
its store holds 2,000 declarations, each naming a vehicle by its plate (``activeTransport.id``) and its
trailer.  One vehicle is four events over HTTP from this process: the entry trigger, the front plate (a
Rekor ``alpr_group``), the trailer plate, the exit trigger (``exit_grace_s: 0``: the exit closes the
passage at once); the gateway links it by plate, enriches it and publishes its records; a paho subscriber
in this process stamps each enriched record on receipt.

* **added latency**: the exit trigger (the vehicle's last event) sent -> its enriched record received, one
  vehicle at a time (lanes alternating): HTTP, the lane engine, matching by plate against the store,
  composing, the outbox commit and the broker.  p50 / p99 over the vehicles.
* **throughput**: vehicles offered back to back by 4 client threads (2 per lane, each lane's vehicles in
  order), events accepted per second until the last enriched record arrived.

Anchor: the same POSTs (same bodies, same client, same threads) answered by a bare HTTP server
(``http.server`` with a 200 and no work): the transport's own ceiling on this machine, measured in the same
run.  Every loop is bounded in count and time, and all traffic is on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import yaml  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from gateway.service.broker import LOOPBACK, MosquittoBroker, free_port, wait_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "vehicles.json"
TOKEN = "bench-token"
DECLARATIONS = 2_000


def plate(n: int) -> str:
    return f"B-BV {n:05d}"


def declaration(n: int, eta: str) -> dict[str, Any]:
    return {"declarationRef": {"mrn": f"26DE{n:014d}"}, "customsOfficeOfFirstEntry": "DE004056",
            "activeTransport": {"mode": "3", "id": plate(n), "nationality": "DE", "eta": eta},
            "houseConsignments": [{"passiveTransport": [{"id": f"B-BT {n:05d}", "type": "trailer"}],
                                   "goodsItems": [{"seq": 1, "description": "Brake discs for trucks", "hs6": "870830",
                                                   "packaging": [{"type": "CT", "count": 10}]}]}]}


def alpr_group(text: str, epoch: float, uuid: str) -> bytes:
    """A Rekor Scout ``alpr_group`` as the agent posts it (docs.rekor.ai, JSON Group Results)."""
    ms = int(epoch * 1000)
    return json.dumps({"version": 2, "data_type": "alpr_group", "epoch_start": ms - 900, "epoch_end": ms,
                       "camera_id": 7, "agent_type": "alprd", "country": "eu", "best_plate_number": text,
                       "best_confidence": 93.5, "best_region": "de", "best_uuid": uuid, "uuids": [uuid],
                       "candidates": [{"plate": text, "confidence": 93.5, "matches_template": 0}]}).encode()


class Site:
    """The gateway under test, its broker and its store."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.broker = MosquittoBroker(workdir=tmp / "broker")
        self.api_port = free_port()
        self.anpr_ports = {"lane1": free_port(), "lane2": free_port()}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.broker.start()
        from datetime import UTC, datetime

        from gateway.enrichment.importer import import_records
        from gateway.enrichment.store import Store

        eta = datetime.now(UTC).isoformat(timespec="seconds")
        with Store.for_storage_dir(self.tmp / "data") as store:
            report = import_records(store, "declarations", [declaration(n, eta) for n in range(DECLARATIONS)])
            assert not report.errors, report.summary()
        lanes = [{"id": lane, "plate_country": "DE", "cameras": [
            {"id": f"anpr-{lane}", "url": f"anpr+webhook://{LOOPBACK}:{port}/alpr?preset=rekor&position=front"}]}
            for lane, port in self.anpr_ports.items()]
        config = {"site": "bench", "gateway": "gw-vehicles", "lanes": lanes,
                  "lane_engine": {"exit_grace_s": 0.0, "passage_quiet_s": 5.0, "update_interval_s": 1.0},
                  "mqtt": {"url": self.broker.url, "qos": 1},
                  "api": {"bind": f"{LOOPBACK}:{self.api_port}", "tokens": [TOKEN]},
                  "storage": {"path": str(self.tmp / "data")}, "enrichment": {"border_office": "DE004056"}}
        path = self.tmp / "site.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        log = (self.tmp / "gateway.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "--log-level", "WARNING", "run",
                                         "--config", str(path)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, PYTHONUNBUFFERED="1"))
        for port in (self.api_port, *self.anpr_ports.values()):
            wait_port(LOOPBACK, port, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.broker.stop()


class Records:
    """The enriched records as the pre-clearance system receives them: plate -> receipt time."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-vehicles-{os.getpid()}")
        self.client.on_message = self._message
        self.client.on_connect = lambda c, *_: c.subscribe("bx/v1/customs/bench/gw-vehicles/enriched/#", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, msg: Any) -> None:
        now = time.perf_counter()
        for v in json.loads(msg.payload)["data"]["passage"].get("vehicle", []):
            if v.get("positions") == ["front"]:
                with self.cond:
                    self.seen[v["value"]] = now
                    self.cond.notify_all()

    def wait(self, key: str, timeout: float = 10.0) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: key in self.seen, timeout)
            return self.seen.get(key)

    def wait_count(self, n: int, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: len(self.seen) >= n, timeout)
            return max(self.seen.values()) if len(self.seen) >= n else None

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def vehicle_requests(n: int, lane: str, api: str, anpr: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """The four events of vehicle ``n``: (url, body, headers)."""
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    trigger = f"{api}/api/lanes/{lane}/trigger"
    now = time.time()
    return [(trigger, b'{"role": "entry", "source": "bench"}', auth),
            (anpr, alpr_group(plate(n), now, f"v{n}-front"), {"Content-Type": "application/json"}),
            (anpr, alpr_group(f"B-BT {n:05d}", now, f"v{n}-trailer"), {"Content-Type": "application/json"}),
            (trigger, b'{"role": "exit", "source": "bench"}', auth)]


def latency(site: Site, records: Records, vehicles: range) -> list[float]:
    out: list[float] = []
    api = f"http://{LOOPBACK}:{site.api_port}"
    with httpx.Client(timeout=10) as client:
        for n in vehicles:
            lane = "lane1" if n % 2 == 0 else "lane2"
            requests = vehicle_requests(n, lane, api, f"http://{LOOPBACK}:{site.anpr_ports[lane]}/alpr")
            for url, body, headers in requests[:-1]:
                client.post(url, content=body, headers=headers).raise_for_status()
            url, body, headers = requests[-1]
            sent = time.perf_counter()
            client.post(url, content=body, headers=headers).raise_for_status()
            got = records.wait(plate(n).replace("-", "").replace(" ", ""))
            if got is not None:
                out.append((got - sent) * 1000.0)
    return out


def offer(targets: dict[str, tuple[str, str]], vehicles: range, threads: int = 4) -> tuple[float, int]:
    """POST every vehicle's events (2 threads per lane, each lane's vehicles in order); (seconds, events)."""
    lanes: dict[str, list[int]] = {"lane1": [], "lane2": []}
    for n in vehicles:
        lanes["lane1" if n % 2 == 0 else "lane2"].append(n)
    count = [0]
    lock = threading.Lock()

    def run(lane: str, share: list[int]) -> None:
        api, anpr = targets[lane]
        with httpx.Client(timeout=10) as client:
            for n in share:
                for url, body, headers in vehicle_requests(n, lane, api, anpr):
                    client.post(url, content=body, headers=headers).raise_for_status()
                with lock:
                    count[0] += 4

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for lane, numbers in lanes.items():
            half = threads // 2
            # a lane's vehicles must stay in order (one passage at a time per lane): split by vehicle blocks
            # of one thread each, lanes in parallel
            for k in range(half):
                pool.submit(run, lane, numbers[k::half] if half == 1 else numbers[k * len(numbers) // half:
                                                                                   (k + 1) * len(numbers) // half])
    return time.perf_counter() - start, count[0]


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def anchor(vehicles: range) -> float:
    server = ThreadingHTTPServer((LOOPBACK, 0), _Bare)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://{LOOPBACK}:{server.server_address[1]}"
    try:
        seconds, events = offer({"lane1": (base, base + "/alpr"), "lane2": (base, base + "/alpr")}, vehicles, 2)
    finally:
        server.shutdown()
    return events / seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_latency, n_burst = (60, 200) if args.quick else (200, 600)
    with tempfile.TemporaryDirectory(prefix="bx-bench-vehicles-") as tmp:
        site = Site(Path(tmp))
        records: Records | None = None
        try:
            site.start()
            records = Records(site.broker)
            time.sleep(1.0)  # the subscription and the gateway's MQTT session settle
            lat = latency(site, records, range(0, n_latency))
            api = f"http://{LOOPBACK}:{site.api_port}"
            targets = {lane: (api, f"http://{LOOPBACK}:{port}/alpr") for lane, port in site.anpr_ports.items()}
            first = n_latency + 10
            start = time.perf_counter()
            _sent_s, events = offer(targets, range(first, first + n_burst), threads=2)
            last = records.wait_count(n_latency + n_burst, timeout=120)
            elapsed = (last if last is not None else time.perf_counter()) - start
            delivered = sum(1 for n in range(first, first + n_burst) if f"BBV{n:05d}" in records.seen)
        finally:
            if records is not None:
                records.stop()
            site.stop()
    ours = events / elapsed
    bare = anchor(range(100_000, 100_000 + n_burst))
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    rows = [
        {"metric": "plate events -> enriched records (4 events a vehicle, 2 lanes)", "ours": round(ours, 1),
         "anchor": round(bare, 1), "anchor_name": "bare http.server, same POSTs", "ratio": round(ours / bare, 3),
         "unit": "events/s", "target": ">= 200 events/s (50 vehicles/s)"},
        {"metric": f"vehicles delivered of {n_burst} offered", "ours": delivered, "unit": "records",
         "target": "all"},
        {"metric": "added latency, last event (exit trigger) -> enriched record, p50", "ours": round(q[49], 1),
         "unit": "ms", "target": "-"},
        {"metric": "added latency, last event (exit trigger) -> enriched record, p99", "ours": round(q[98], 1),
         "unit": "ms", "target": "< 250 ms"},
        {"metric": "latency samples", "ours": len(lat), "unit": "vehicles", "target": f"{n_latency}"},
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = (f"{platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} cores, "
               f"load {os.getloadavg()[0]:.1f}")
    RESULTS.write_text(json.dumps({"benchmark": "vehicles: plate events into passages", "machine": machine,
                                   "rows": rows}, indent=2) + "\n")
    print(json.dumps(rows, indent=2))
    return 0 if delivered == n_burst else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
