"""Lane controllers' triggers through the real doors: MQTT (a real Mosquitto) and the HTTP API (a real socket,
write token).  Valid triggers reach the lane engine's hand-off; bad ones get a named error, nothing else."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from gateway.config import parse_config
from gateway.config.mqtt import MqttConfig
from gateway.enrichment.mqtt_intake import MqttIntake, intake_topics
from gateway.enrichment.store import Store
from gateway.lane.triggers import Trigger
from gateway.service.api import ApiContext, create_app
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics
from tests.enrichment.test_mqtt_intake import _client, _wait
from tests.service.helpers import serve_in_thread


def test_mqtt_triggers_are_validated_and_handed_over(mqtt_broker: Any, tmp_path: Path) -> None:
    base = f"test/{uuid.uuid4().hex[:10]}"
    topics = intake_topics(base, "site1", "gw1")
    lane_topic = topics["trigger"].replace("+", "{}")
    errors: queue.Queue[dict[str, Any]] = queue.Queue()
    listener = _client(mqtt_broker, errors, topics["error"])
    got: list[Trigger] = []
    intake = MqttIntake(Store(tmp_path / "db.sqlite"), MqttConfig(url=mqtt_broker.url, base_topic=base), site="site1",
                        gateway="gw1", client_id=f"intake-{uuid.uuid4().hex[:8]}", master_data=False,
                        on_trigger=got.append, lanes=["lane1", "lane2"])
    intake.start()
    pub = _client(mqtt_broker)
    try:
        assert intake.subscribed.wait(10)
        time.sleep(0.2)
        for lane, payload in (("lane1", {"role": "entry", "source": "plc-1", "time": "2026-12-07T10:00:00Z"}),
                              ("lane1", {"role": "entry", "active": False, "source": "plc-1"}),
                              ("lane9", {"role": "entry"}), ("lane2", {"role": "sideways"}),
                              ("lane2", {"role": "exit", "plate": "B XY 1234"}), ("lane2", "[[[[not json")):
            body = payload if isinstance(payload, str) else json.dumps(payload)
            pub.publish(lane_topic.format(lane), body, qos=1).wait_for_publish(5)
        pub.publish(topics["declarations"], json.dumps({"x": 1}), qos=1).wait_for_publish(5)  # not subscribed
        refused = [errors.get(timeout=10) for _ in range(4)]
        assert _wait(lambda: intake.triggers == 2)
    finally:
        intake.stop()
        pub.disconnect()
        listener.disconnect()
    assert [(t.lane, t.role, t.active, t.label, t.kind) for t in got] == [
        ("lane1", "entry", True, "external:plc-1", "external"), ("lane1", "entry", False, "external:plc-1", "external")]
    assert got[0].source_time == 1796637600.0
    assert [(r["kind"], r["errors"][0]["path"]) for r in refused] == [
        ("trigger", "lane"), ("trigger", "role"), ("trigger", "plate"), ("trigger", "(payload)")]
    assert refused[0]["topic"].endswith("/lane/lane9/trigger") and errors.empty()


def test_http_triggers_need_a_write_token_and_name_bad_fields() -> None:
    config = parse_config({"site": "s", "gateway": "g", "api": {"tokens": ["w-token"], "read_tokens": ["r-token"]},
                           "lanes": [{"id": "lane1"}]})
    got: list[Trigger] = []
    lock = threading.Lock()

    def take(trigger: Trigger) -> None:
        with lock:
            got.append(trigger)

    ctx = ApiContext(config=config, live=LiveState([("lane1", None)]), metrics=Metrics(), trigger=take)
    with serve_in_thread(create_app(ctx)) as url:
        write, read = {"Authorization": "Bearer w-token"}, {"Authorization": "Bearer r-token"}
        answers = [httpx.post(f"{url}/api/lanes/lane1/trigger", json={"role": "entry", "source": "plc-2"},
                              headers=write, timeout=10),
                   httpx.post(f"{url}/api/lanes/lane1/trigger", json={"role": "exit"}, headers=read, timeout=10),
                   httpx.post(f"{url}/api/lanes/lane1/trigger", json={"role": "exit"}, timeout=10),
                   httpx.post(f"{url}/api/lanes/lane7/trigger", json={"role": "exit"}, headers=write, timeout=10),
                   httpx.post(f"{url}/api/lanes/lane1/trigger", json={"role": "exit", "active": "maybe"},
                              headers=write, timeout=10)]
    assert [a.status_code for a in answers] == [202, 403, 401, 404, 422]
    assert answers[0].json() == {"lane": "lane1", "trigger": "external:plc-2:entry", "active": True}
    assert answers[4].json()["detail"][0]["path"] == "body.active"
    assert [(t.lane, t.role, t.source) for t in got] == [("lane1", "entry", "plc-2")]
