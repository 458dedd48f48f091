"""Every metric the README documents moves in a short run of ``border-gateway run``.

A demo-like run on real parts: an LLRP reader simulator plays the frozen-beef truck of the demo (declared,
an expired batch, no CHED-P: flags and an SPS referral) every few seconds, with an unprogrammed tag standing
in the field (read errors, rejected reads); the declarations are the demo's.  The broker is a Mosquitto of
the test's own whose ACL does not let the gateway write the SPS audience (messages refused by the broker).
While the run goes on, the broker is stopped until a passage has waited in the outbox (depth, age, MQTT
connection), the reader's connection is dropped (a reconnect), the API gets invalid requests and invalid
records (HTTP and intake errors, over HTTP and MQTT) and a reload.  Then ``/metrics`` is scraped, and each
metric of the README's table must have moved: a counter above zero, a gauge showing what happened.

No wall-clock time is asserted: every wait is bounded and only says what it waited for.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from gateway.enrichment.store import Store
from gateway.service.broker import LOOPBACK, MosquittoBroker, free_port
from gateway.service.clock import ClockCheck
from gateway.service.demo import load_demo_data
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.scenario import load_scenario_dict
from simulators.tag_world import TagTrack, TagWorld
from tests.service.test_alerts import documented_metrics
from tests.service.test_run_service import BEEF_TRUCK, Service

SITE = "svc-metrics"
TOKEN = "metrics-token"
PERIOD_S = 8.0
# The gateway may write everything but the SPS audience: its SPS referrals are refused (PUBACK 0x87).
ACL = """topic readwrite bx/v1/ops/#
topic readwrite bx/v1/customs/#
topic readwrite bx/v1/in/#
topic readwrite bx/v1/cmd/#
topic read bx/v1/sps/#
"""
GAUGES = {"bx_outbox_depth", "bx_outbox_oldest_age_seconds", "bx_mqtt_connected", "bx_source_connected",
          "bx_clock_synchronized", "bx_clock_max_error_seconds"}

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(api: str) -> Samples:
    """``/metrics`` as sample name -> [(labels, value)] (``_created`` samples left out)."""
    out: Samples = {}
    for family in text_string_to_metric_families(httpx.get(api + "/metrics", timeout=10).text):
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


class Reader:
    """The LLRP simulator: the beef truck every PERIOD_S, and an unprogrammed tag always in the field."""

    def __init__(self) -> None:
        truck = {**BEEF_TRUCK, "reader": "rdr", "dwell": 2.0, "also_read_by": []}
        scenario = load_scenario_dict({"company_prefix_length": 7, "trucks": [truck]}, seed=3)
        blank = TagTrack("rdr", 1, "0" * 24, 0.0, PERIOD_S, peak_time=PERIOD_S / 2, peak_rssi=-55.0, rate_hz=4.0,
                         width_s=1000.0)
        world = TagWorld([*scenario.world.tracks, blank], seed=3, repeat_s=PERIOD_S)
        self.sim = LLRPReaderSimulator(world, "rdr")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llrp-sim", daemon=True)

    def start(self) -> Reader:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(t0=time.monotonic() + 4.0), self.loop).result(10)
        return self

    def drop(self) -> None:
        self.loop.call_soon_threadsafe(self.sim.drop)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def reader() -> Iterator[Reader]:
    sim = Reader().start()
    try:
        yield sim
    finally:
        sim.stop()


def test_every_documented_metric_moves(reader: Reader, private_broker: Callable[..., MosquittoBroker],
                                       tmp_path: Path) -> None:
    acl = tmp_path / "acl"
    acl.write_text(ACL, encoding="utf-8")
    broker = private_broker(f"acl_file {acl}\n")
    gateway = f"gw-metrics-{os.getpid()}"
    storage = tmp_path / "data"
    storage.mkdir()
    with Store.for_storage_dir(storage) as store:
        load_demo_data(store, time.time())  # declares the beef truck (MRN 25DE0040560000002A), ETA now
    config = {
        "site": SITE, "gateway": gateway,
        "lanes": [{"id": "lane1", "read_point_gln": "4012345000009", "default_direction": "inbound",
                   "readers": [{"id": "rdr", "url": f"llrp://{LOOPBACK}:{reader.sim.port}?antennas=1,2",
                                "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}}]}],
        "lane_engine": {"passage_quiet_s": 1.0, "depart_after_s": 1.0, "min_reads": 2},
        "mqtt": {"url": broker.url, "reconnect_min_s": 0.5, "reconnect_max_s": 1.0},
        "api": {"bind": f"{LOOPBACK}:{free_port()}", "tokens": [TOKEN]},
        "storage": {"path": str(storage)},
        "enrichment": {"border_office": "DE004056", "intake_mqtt": True},
    }
    service = Service(config, tmp_path).start()
    write = {"Authorization": f"Bearer {TOKEN}"}
    try:
        service.wait_until("the reader and the broker connected", lambda: service.get("/api/sources")[0]["state"]
                           == "connected" and httpx.get(service.api + "/ready", timeout=3).status_code == 200,
                           timeout=60)
        # The broker goes away until a closed passage waits in the outbox.
        passages = len(service.get("/api/passages"))
        broker.stop()
        service.wait_until("a passage waiting in the outbox", lambda: len(service.get("/api/passages")) > passages
                           and service.get("/api/outbox")["depth"] > 0, timeout=30)
        outage = scrape(service.api)
        broker.start()
        service.wait_until("the outbox drained", lambda: service.get("/api/outbox")["depth"] == 0, timeout=60)

        # The reader's connection drops: the driver reconnects.
        reader.drop()
        service.wait_until("a reconnect", lambda: total(scrape(service.api), "bx_source_reconnects_total") > 0,
                           timeout=30)
        # Invalid requests and records, over HTTP and MQTT; a reload.
        assert httpx.post(service.api + "/api/declarations", json={}, headers=write, timeout=10).status_code == 422
        bulk = httpx.post(service.api + "/api/declarations/bulk", json=[{}], headers=write, timeout=10)
        assert bulk.status_code == 200 and bulk.json()["failed_rows"] == 1, bulk.text
        _publish_until(broker, f"bx/v1/in/{SITE}/{gateway}/products", b"[" * 5000, lambda: total(
            scrape(service.api), "bx_intake_errors_total", channel="mqtt") > 0)
        assert httpx.post(service.api + "/api/reload", headers=write, timeout=30).json()["ok"] is True

        final = scrape(service.api)
        documented = documented_metrics()
        assert len(documented) >= 18, documented
        exported = {name.removesuffix("_total") if name.endswith("_total") else name for name in final}
        assert {name.removesuffix("_total") for name in documented} <= exported | {"bx_clock_synchronized",
                                                                                 "bx_clock_max_error_seconds"}
        for name in sorted(documented - GAUGES):
            assert total(final, name) > 0, f"{name} never moved: {final.get(name)}"
        # What the run did, in each metric's own terms.
        assert total(final, "bx_read_errors_total", source="rdr") > 0
        assert total(final, "bx_reads_rejected_total", reason="undecoded:UnprogrammedError") > 0
        assert total(final, "bx_messages_failed_total", reason="refused_by_broker") > 0  # the SPS referrals
        assert total(final, "bx_messages_published_total", topic_class="enriched") > 0
        assert total(final, "bx_intake_errors_total", channel="http", kind="declarations") == 1
        assert total(final, "bx_http_errors_total", status="422") >= 1
        assert total(final, "bx_flags_total", code="SPS_DOC_MISSING") > 0
        assert total(final, "bx_config_reloads_total", result="ok") == 1
        assert total(outage, "bx_outbox_depth") > 0 and total(outage, "bx_outbox_oldest_age_seconds") > 0
        assert total(outage, "bx_mqtt_connected") == 0 and total(final, "bx_mqtt_connected") == 1
        assert total(final, "bx_outbox_depth") == 0
        assert final["bx_source_connected"] == [({"source": "rdr"}, 1.0)]
        clock = ClockCheck().state()
        if clock.synchronized is None:
            assert "bx_clock_synchronized" not in final
        else:
            assert total(final, "bx_clock_synchronized") == (1.0 if clock.synchronized else 0.0)
        assert service.terminate() == 0, service.output()
        assert "Traceback" not in service.output()
    finally:
        service.kill()


def _publish_until(broker: MosquittoBroker, topic: str, payload: bytes, done: Callable[[], bool],
                   timeout: float = 30.0) -> None:
    """Publish ``payload`` every 2 s until ``done()`` (the intake subscribes on its own connection)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
            for _ in range(10):
                if done():
                    return
                time.sleep(0.2)
        raise AssertionError(f"nothing counted the message on {topic} within {timeout:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
