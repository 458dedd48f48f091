"""The demo's console view (an ordinary MQTT subscriber) survives whatever arrives on its topics (issue #22 item 11).

It subscribes to ``bx/v1/+/{site}/{gw}/#``, which includes the intake topics anyone may publish to: a
deeply nested message there used to end paho's network thread, after which the console printed nothing
and its final counts stopped.  Here hostile messages go through a real Mosquitto, then an enriched
record, which must still be printed and counted.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from gateway.service.demo import ConsoleView
from tests.support.brokers import SharedBroker


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_console_keeps_printing_after_hostile_messages(mqtt_broker: SharedBroker) -> None:
    site = f"demo{uuid.uuid4().hex[:8]}"
    root = f"bx/v1/+/{site}/gw"
    view = ConsoleView(mqtt_broker.url, None, topic=f"{root}/#", llrp="-", mercury="-", seed=1)
    out = io.StringIO()
    view.console = Console(file=out, highlight=False, soft_wrap=True, width=200)
    view.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-test-console-{uuid.uuid4().hex[:8]}")
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    try:
        assert _wait(lambda: view._client is not None and view._client.is_connected())
        time.sleep(0.3)  # the console's subscription settles
        hostile = [
            (f"bx/v1/in/{site}/gw/products", b"[" * 5000),
            (f"bx/v1/in/{site}/gw/declarations", b'{"data": {"passage": [1, 2]}, "flags": 7}'),
            (f"bx/v1/customs/{site}/gw/enriched/lane1", b'{"data": {"passage": "x", "flags": [1, {"code": 2}]}}'),
            (f"bx/v1/customs/{site}/gw/enriched/lane1", b'{"data": {"passage": {"lane": "[bold"}}}'),
            (f"bx/v1/ops/{site}/gw/lane/lane1/passage", b"\xff\xfe not json"),
        ]
        for topic, payload in hostile:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        good = {"data": {"passage": {"lane": "lane1", "id": "p-0042"}, "flags": [{"code": "HS_MISMATCH"}],
                         "links": [{"mrn": "25DE0040560000001A"}]}}
        pub.publish(f"bx/v1/customs/{site}/gw/enriched/lane1", json.dumps(good), qos=1).wait_for_publish(5)
        assert _wait(lambda: "p-0042" in out.getvalue()), out.getvalue()
        assert "HS_MISMATCH" in out.getvalue()
        assert view.published == {"in/products": 1, "in/declarations": 1, "customs/enriched": 3, "ops/lane": 1}
    finally:
        pub.loop_stop()
        view.stop()
