"""Publishing throughput and latency on the local Mosquitto (127.0.0.1:1883), same run, same broker.

* anchor: a bare paho-mqtt QoS 1 publish loop (MQTT 5, no outbox, waits for all PUBACKs);
* ours: ``Publisher.publish_enriched`` -> SQLite outbox -> paho -> PUBACK -> row deleted
  (one enriched message = the customs envelope on its topic; observation/flag/referral/ops
  messages of the same call are counted too, as messages per second);
* latency: ``publish_observation`` call -> message received by a subscriber, p50/p95/p99.

Run: ``.venv/bin/python benchmarks/bench_publishing.py`` (bounded: about 20 s).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.config.mqtt import MqttConfig
from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier
from gateway.publishing.epcis import EpcisContext
from gateway.publishing.publisher import Publisher

HOST, PORT = "127.0.0.1", 1883
N = 3000
RESULT = {"links": [{"mrn": "25DE000000000123A1", "key": "https://id.gs1.org/00/340123450000000017",
                     "confidence": 1.0}],
          "products": [{"gtin": "04012345000016", "hs6_declared": "020230", "quantity": 20}]}


def _passage(i: int) -> Passage:
    seen = (SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]), Evidence(1, 2, 3)),
            SeenIdentifier(Identifier.from_elements([("01", "09506000134352"), ("21", str(i))]), Evidence(1, 2, 3)))
    return Passage(id=f"b-{i}", lane="L1", direction="inbound", state="closed", opened_at=time.time() - 1,
                   closed_at=time.time(), identifiers=seen)


def bare_paho(payload: bytes, n: int) -> float:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(HOST, PORT)
    client.loop_start()
    start = time.perf_counter()
    infos = [client.publish("bench/bare/L1", payload, qos=1) for _ in range(n)]
    for info in infos:
        info.wait_for_publish(30)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return n / elapsed


def ours(n: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        pub = Publisher(mqtt=MqttConfig(url=f"mqtt://{HOST}:{PORT}"), site="bench", gateway="gw-bench",
                        lanes={"L1": EpcisContext(lane="L1", read_point_gln="4012345000009")},
                        outbox_path=Path(tmp) / "o.sqlite")
        pub.start()
        pub.link.connected.wait(5)
        passages = [_passage(i) for i in range(n)]
        start = time.perf_counter()
        for p in passages:
            pub.publish_enriched(p, RESULT)
        assert pub.wait_idle(60)
        elapsed = time.perf_counter() - start
        messages = pub.outbox.stats.acked
        pub.stop()
    return n / elapsed, messages / elapsed, messages


def latency(samples: int = 300) -> list[float]:
    got: dict[str, float] = {}
    ready = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("bx/v1/customs/bench/gw-lat/#", qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = lambda c, u, m: got.setdefault(json.loads(m.payload)["id"], time.perf_counter())
    sub.connect(HOST, PORT)
    sub.loop_start()
    ready.wait(5)
    sent: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pub = Publisher(mqtt=MqttConfig(url=f"mqtt://{HOST}:{PORT}"), site="bench", gateway="gw-lat",
                        lanes={"L1": EpcisContext(lane="L1")}, outbox_path=Path(tmp) / "o.sqlite")
        pub.start()
        pub.link.connected.wait(5)
        for i in range(samples):
            p = _passage(100_000 + i)
            t0 = time.perf_counter()
            h = pub.publish_observation(p)
            assert h is not None
            sent[h] = t0
            deadline = time.monotonic() + 2
            while h not in got and time.monotonic() < deadline:
                time.sleep(0.0002)
        pub.stop()
    sub.loop_stop()
    sub.disconnect()
    return sorted((got[h] - t0) * 1000 for h, t0 in sent.items() if h in got)


def main() -> int:
    payload = b"x" * 2600  # about the size of an enriched envelope
    anchor = bare_paho(payload, N)
    per_call, per_message, messages = ours(N // 3)
    lat = latency()
    pct = statistics.quantiles(lat, n=100)
    ratio = per_message / anchor
    print(f"bare paho QoS 1           : {anchor:9.0f} msg/s")
    print(f"outbox + publisher        : {per_message:9.0f} msg/s ({per_call:.0f} publish_enriched calls/s, "
          f"{messages} messages)  ratio {ratio:.2f} (target >= 0.50)")
    print(f"read->broker latency (ms) : p50 {pct[49]:.2f}  p95 {pct[94]:.2f}  p99 {pct[98]:.2f}  (n={len(lat)})")
    rows = [
        {"metric": "QoS 1 messages/s through the durable outbox", "ours": round(per_message), "anchor": round(anchor),
         "anchor_name": "bare paho-mqtt QoS 1 loop", "ratio": round(ratio, 3), "unit": "msg/s", "target": ">= 0.5x"},
        {"metric": "publish_enriched calls/s", "ours": round(per_call), "anchor": None, "anchor_name": None,
         "ratio": None, "unit": "calls/s", "target": "-"},
    ]
    for name, value in (("p50", pct[49]), ("p95", pct[94]), ("p99", pct[98])):
        rows.append({"metric": f"observation call -> subscriber latency {name}", "ours": round(value, 3),
                     "anchor": None, "anchor_name": None, "ratio": None, "unit": "ms", "target": "-"})
    out = Path(__file__).parent / "results" / "publishing.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"benchmark": "Publishing: outbox + MQTT vs bare paho", "machine": "local Mosquitto "
                               "2.0 on 127.0.0.1", "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
