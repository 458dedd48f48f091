"""``border-gateway run --config FILE`` as a child process, against the Mosquitto fixture.

The readers are the real simulators in this process: the LLRP reader on a loopback TCP port (its
asyncio loop on a thread) and the Mercury module on a pseudo-terminal, both playing one truck of
frozen beef (declared without its CHED-P, an expired batch) on one scenario clock.  A real MQTT 5
subscriber plays the pre-clearance system.  Checked: what ``run`` publishes (status ``online``,
retained; lane state; passage lifecycle; observation; enriched record; the SPS referral), that
SIGTERM publishes ``offline`` and exits 0, that the passage's history outlives the process (a second ``run``
over the same storage tells it), and that a reader that cannot be reached is shown as
degraded and retried with backoff while the service stays up.

No wall-clock time is asserted: every wait is bounded and only says what it waited for.
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
import pytest
import yaml

from gateway.enrichment.store import Store
from gateway.service.broker import LOOPBACK, free_port
from gateway.service.demo import load_demo_data
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.mercury_sim import MercurySimulator
from simulators.scenario import load_scenario_dict
from tests.publishing.support import Received, Subscriber
from tests.support.brokers import SharedBroker

ROOT = Path(__file__).resolve().parents[2]
SITE = "svc-run"
LEAD_S = 6.0  # scenario time 0 this long after the simulators start: the gateway connects first
BEEF_TRUCK = {
    "name": "frozen beef without CHED-P, expired batch", "lane": "lane1", "reader": "llrp-sim", "antennas": [1, 2],
    "start": 1, "tags": ["(00)340123450000002011", "(00)340123450000002028",
                         {"scheme": "sgtin+", "data": "(01)04012345000023(21)1001(10)LOT7(17)250200"}],
    "also_read_by": [{"reader": "mercury-sim", "antennas": [1], "peak_rssi": -50}],
}


class Readers:
    """The LLRP and Mercury simulators of one scenario, on one clock (``t0`` on ``time.monotonic()``)."""

    def __init__(self) -> None:
        self.scenario = load_scenario_dict({"company_prefix_length": 7, "trucks": [BEEF_TRUCK]}, seed=3)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llrp-sim-loop", daemon=True)

    def start(self) -> Readers:
        self.thread.start()
        t0 = time.monotonic() + LEAD_S  # the default asyncio loop clock is time.monotonic()
        self.llrp = LLRPReaderSimulator(self.scenario.world, "llrp-sim")
        asyncio.run_coroutine_threadsafe(self.llrp.start(t0=t0), self.loop).result(10)
        self.mercury = MercurySimulator(self.scenario.world, "mercury-sim").start(t0=t0)
        return self

    def stop(self) -> None:
        self.mercury.stop()
        asyncio.run_coroutine_threadsafe(self.llrp.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Service:
    """``border-gateway run --config`` in a child process; its log goes to a file."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.config, self.workdir = config, workdir
        self.api = f"http://{config['api']['bind']}"

    def start(self) -> Service:
        path = self.workdir / "site.yaml"
        path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        self.log = (self.workdir / "gateway.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(path)],
                                        cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def output(self) -> str:
        return (self.workdir / "gateway.log").read_text(encoding="utf-8", errors="replace")[-6000:]

    def get(self, path: str) -> Any:
        return httpx.get(self.api + path, timeout=3).json()

    def wait_until(self, what: str, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gateway exited ({self.process.returncode}):\n{self.output()}"
            try:
                if predicate():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}:\n{self.output()}")

    def terminate(self, timeout: float = 40.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"no exit {timeout:.0f} s after SIGTERM:\n{self.output()}") from None
        finally:
            self.log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def site_config(gateway: str, broker: SharedBroker, storage: Path, readers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "site": SITE, "gateway": gateway,
        "lanes": [{"id": "lane1", "name": "Lane 1", "read_point_gln": "4012345000009", "default_direction": "inbound",
                   "readers": readers}],
        "lane_engine": {"passage_quiet_s": 2.0, "min_reads": 2},
        "mqtt": {"url": broker.url, "qos": 1},
        "api": {"bind": f"{LOOPBACK}:{free_port()}", "tokens": ["svc-test-token"]},
        "storage": {"path": str(storage)},
        "enrichment": {"border_office": "DE004056"},
    }


def decoded(messages: list[Received]) -> list[tuple[str, dict[str, Any], bool]]:
    out = []
    for m in messages:
        if m.payload:  # an empty retained publish deletes: not a message
            out.append((m.topic, json.loads(m.payload), m.retain))
    return out


def states(messages: list[Received], suffix: str) -> list[str]:
    return [str(body.get("state")) for topic, body, _ in decoded(messages) if topic.endswith(suffix)]


@pytest.fixture
def readers() -> Iterator[Readers]:
    sims = Readers().start()
    try:
        yield sims
    finally:
        sims.stop()


def test_run_publishes_a_passage_end_to_end_and_stops_on_sigterm(readers: Readers, mqtt_broker: SharedBroker,
                                                                 tmp_path: Path) -> None:
    gateway = f"gw-run-{os.getpid()}"
    storage = tmp_path / "data"
    storage.mkdir()
    with Store.for_storage_dir(storage) as store:
        load_demo_data(store, time.time())  # MRN 25DE0040560000002A declares the beef truck, ETA now
    config = site_config(gateway, mqtt_broker, storage, [
        {"id": "llrp-sim", "url": f"llrp://{LOOPBACK}:{readers.llrp.port}?antennas=1,2",
         "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}},
        {"id": "mercury-sim", "url": f"mercury://{readers.mercury.path}?baud=115200&region=EU",
         "antennas": {1: {"zone": "portal"}}},
    ])
    base = f"bx/v1/+/{SITE}/{gateway}"
    consumer = Subscriber(mqtt_broker.host, mqtt_broker.port, f"{base}/#", client_id=f"{gateway}-consumer").start()
    service = Service(config, tmp_path).start()
    try:
        service.wait_until("both readers connected", lambda: {s["id"]: s["state"] for s in service.get(
            "/api/sources")} == {"llrp-sim": "connected", "mercury-sim": "connected"}, timeout=60)

        def has(suffix: str) -> Callable[[list[Received]], bool]:
            return lambda ms: any(m.topic.endswith(suffix) and m.payload for m in ms)

        messages = consumer.wait_for(has("/referral/lane1"), timeout=60)
        assert has("/referral/lane1")(messages), f"no SPS referral:\n{service.output()}"
        got = decoded(messages)
        assert "online" in states(messages, f"{SITE}/{gateway}/status")
        assert any(t.endswith("/lane/lane1/state") for t, _, _ in got)
        passage = [b.get("data", {}) for t, b, _ in got if t.endswith("/lane/lane1/passage")]
        kinds = [data["kind"] for data in passage if "kind" in data]
        assert kinds[0] == "new" and "end" in kinds, kinds
        assert any(t.endswith("/observation/lane1") for t, _, _ in got)
        enriched = [b["data"] for t, b, _ in got if t.endswith("/enriched/lane1")]
        assert len(enriched) == 1
        assert sorted(f["code"] for f in enriched[0]["flags"]) == ["EXPIRED", "SPS_DOC_MISSING"]
        assert {link["mrn"] for link in enriched[0]["links"]} == {"25DE0040560000002A"}
        referral = [t for t, _, _ in got if t.endswith("/referral/lane1")]
        assert referral == [f"bx/v1/sps/{SITE}/{gateway}/referral/lane1"]

        # The status is retained: a consumer that connects now is told the gateway is online.
        late = Subscriber(mqtt_broker.host, mqtt_broker.port, f"bx/v1/ops/{SITE}/{gateway}/status").start()
        try:
            retained = late.wait_for(lambda ms: bool(ms), timeout=10)
        finally:
            late.stop()
        assert [(body["state"], retain) for _, body, retain in decoded(retained)][:1] == [("online", True)]

        # The passage's history, told by the API ...
        pid = enriched[0]["passage"]["id"]
        service.wait_until("the passage listed", lambda: [p["id"] for p in service.get("/api/passages")] == [pid],
                           timeout=10)
        story = service.get(f"/api/passages/{pid}")
        assert [e["kind"] for e in story["events"]] == ["opened", "closed", "enriched"]

        assert service.terminate() == 0, service.output()
        final = consumer.wait_for(lambda ms: "offline" in states(ms, f"{SITE}/{gateway}/status"), timeout=10)
        assert "offline" in states(final, f"{SITE}/{gateway}/status"), service.output()
        assert "Traceback" not in service.output()

        # ... is still there after a restart of the process
        again = Service(config, tmp_path).start()
        try:
            again.wait_until("the API after the restart", lambda: bool(again.get("/health")), timeout=60)
            assert again.get(f"/api/passages/{pid}") == story
            assert [p["id"] for p in again.get("/api/passages")] == [pid]
            assert httpx.get(f"{again.api}/api/passages/unknown", timeout=3).status_code == 404
            assert again.terminate() == 0, again.output()
        finally:
            again.kill()
    finally:
        service.kill()
        consumer.stop()
        _clear_retained(mqtt_broker, gateway)


def test_an_unreachable_reader_is_degraded_and_retried_while_the_service_stays_up(mqtt_broker: SharedBroker,
                                                                                   tmp_path: Path) -> None:
    closed_port = free_port()  # nothing listens there: every connection attempt is refused
    gateway = f"gw-degraded-{os.getpid()}"
    config = site_config(gateway, mqtt_broker, tmp_path / "data", [
        {"id": "llrp-dead", "url": f"llrp://{LOOPBACK}:{closed_port}?antennas=1",
         "antennas": {1: {"zone": "portal"}}}])
    service = Service(config, tmp_path).start()
    details: set[str] = set()

    def retried_twice() -> bool:
        [source] = service.get("/api/sources")
        if source["state"] == "reconnecting" and source["degraded"]:
            details.add(source["detail"])
        return len(details) >= 2 and service.get("/health")["status"] == "ok"

    try:
        service.wait_until("the dead reader retried twice, health ok", retried_twice, timeout=60)
        assert service.get("/ready") is not None  # the API answers throughout
        assert all("refused" in d.lower() or "connect" in d.lower() for d in details), details
        assert service.terminate() == 0, service.output()
        assert "Traceback" not in service.output()
    finally:
        service.kill()
        _clear_retained(mqtt_broker, gateway)


def _clear_retained(broker: SharedBroker, gateway: str) -> None:
    """The shared broker keeps retained messages: delete ours (status, capabilities, lane state)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    topics: list[str] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: topics.append(m.topic) if m.retain and m.payload else None
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    try:
        sub.subscribe(f"bx/v1/+/{SITE}/{gateway}/#")
        time.sleep(1.0)  # retained messages arrive right after the SUBACK
        for topic in list(topics):
            sub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        sub.disconnect()
        sub.loop_stop()
