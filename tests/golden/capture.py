"""A golden capture of what the demo's scenario puts on the wire: every MQTT message and the API's answers.

The demo's scenario (``config/scenarios/demo.yaml``, seed 1) and configuration (``config/demo.yaml``, as its
own gateway ``gw-golden`` so that no other test's retained messages mix in) run through the real service
objects: the gateway built by :func:`gateway.service.wiring.build` (lane engine, enrichment store and
enricher with the demo data, publisher with its outbox) against a real Mosquitto.  Reads come from the
tag world and the camera timeline on a virtual clock, as in :func:`gateway.service.demo.offline_summary`,
and are fed to :meth:`Gateway.on_source_event` in time order with the service's periodic tick, together
with reader and camera status changes (a reader that fails and comes back, everything stopped at the end)
and three MQTT commands.  A real MQTT 5 subscriber (QoS 2, retain as published) records each message's
topic, QoS, retain flag, MQTT 5 properties and payload; the API's JSON and metrics answers are recorded too.

What may differ between two runs, and only that, is normalised:

* wall-clock times: ``time`` of the retained status and lane state, ``since`` of each source in the
  status, the EPCIS document's ``creationDate``, ``uptime_s`` and the ``*_created`` metric samples;
* the host clock's synchronisation metrics (``bx_clock_*``: the machine's, not the gateway's), left out;
* the message expiry a broker counts down while a message waits (compared with a tolerance, not stored
  differently);
* the order *between* topics (the status is published from the calling thread, outbox rows possibly from
  the sender thread): messages are kept per topic, in the order they arrived.

Everything else is compared byte for byte.  Regenerate the fixture (only when a change of the wire is
intended, and say so in the commit)::

    .venv/bin/python -m tests.golden.capture --write
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "golden" / "demo-wire.json"
GATEWAY = "gw-golden"
SEED = 1
T0 = 1_767_225_600.0  # 2026-01-01T00:00Z, as in gateway.service.demo.offline_summary
TICK_S = 0.2  # the service's ticker
REPLY = "bx/v1/cmd/{site}/" + GATEWAY + "/reply/golden"  # replies go only under cmd/{site}/{gw}/reply/
EXPIRY_TOLERANCE_S = 3  # a broker counts a message's expiry down while it waits

# API answers recorded in full, and those recorded by digest (the committed contract files: their own test
# shows a diff when they change).
API_PATHS = ["/health", "/ready", "/api/state", "/api/lanes", "/api/sources", "/api/passages",
             "/api/passages?lane=lane2", "/api/passages?limit=1", "/api/outbox", "/metrics"]
API_DIGESTS = ["/api/asyncapi", "/api/schemas"]

_WALL_CLOCK = {
    "status": re.compile(r'"(time|since)":"[0-9T:.\-]+Z"'),
    "state": re.compile(r'"(time)":"[0-9T:.\-]+Z"'),
}
_CREATION = re.compile(r'"creationDate":"[0-9T:.\-]+Z"')
_BROKER = re.compile(r'"broker":"mqtts?://127\.0\.0\.1:[0-9]+"')  # the test broker's free port
_UPTIME = re.compile(r'"uptime_s":[0-9.]+')
_CREATED_SAMPLE = re.compile(r"^(\w+_created(?:\{[^}]*\})?) [0-9.e+]+$", re.MULTILINE)
_HOST_CLOCK = re.compile(r"^(# (HELP|TYPE) )?bx_clock_.*\n", re.MULTILINE)


def normalise_payload(topic: str, payload: bytes) -> str:
    """The payload as text with its wall-clock times replaced by ``<time>``."""
    text = payload.decode("utf-8")
    kind = topic.rsplit("/", 1)[-1]
    pattern = _WALL_CLOCK.get(kind) if "/ops/" in topic else None
    if pattern is not None:
        text = pattern.sub(lambda m: f'"{m.group(1)}":"<time>"', text)
        text = _BROKER.sub('"broker":"<broker>"', text)
    return _CREATION.sub('"creationDate":"<time>"', text)


def normalise_api(path: str, body: str) -> str:
    if path == "/metrics":
        return _CREATED_SAMPLE.sub(lambda m: f"{m.group(1)} <time>", _HOST_CLOCK.sub("", body))
    return _UPTIME.sub('"uptime_s":"<time>"', body)


def _props(message: mqtt.MQTTMessage) -> dict[str, Any]:
    props = getattr(message, "properties", None)
    out: dict[str, Any] = {}
    for name, key in (("ContentType", "content_type"), ("PayloadFormatIndicator", "payload_format"),
                      ("MessageExpiryInterval", "expiry"), ("ResponseTopic", "response_topic")):
        value = getattr(props, name, None)
        if value is not None:
            out[key] = value
    correlation = getattr(props, "CorrelationData", None)
    if correlation is not None:
        out["correlation"] = bytes(correlation).decode("utf-8", "replace")
    user = getattr(props, "UserProperty", None)
    if user:
        out["user"] = [list(pair) for pair in user]
    return out


class Recorder:
    """An MQTT 5 subscriber that keeps everything under the golden gateway's topics, per topic in order."""

    def __init__(self, host: str, port: int, site: str) -> None:
        self.filters = [f"bx/v1/+/{site}/{GATEWAY}/#"]  # the replies under cmd/{site}/{gw}/reply/ among them
        self.topics: dict[str, list[dict[str, Any]]] = {}
        self.count = 0
        self.closed = False
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-golden-recorder-{os.getpid()}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        options = SubscribeOptions(qos=2, retainAsPublished=True)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(f, options) for f in self.filters])
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.closed or ("/cmd/" in message.topic and "/reply/" not in message.topic):  # our own requests
            return
        entry = {"qos": message.qos, "retain": bool(message.retain), "props": _props(message),
                 "payload": normalise_payload(message.topic, bytes(message.payload))}
        with self._lock:
            self.topics.setdefault(message.topic, []).append(entry)
            self.count += 1

    def start(self) -> None:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the recorder's subscription was not acknowledged")

    def settle(self, quiet_s: float = 0.5, timeout: float = 30.0) -> None:
        """Return once nothing arrived for ``quiet_s`` (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                count = self.count
            if count != last:
                last, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.05)

    def clear_retained(self) -> None:
        """Remove the retained messages this run left on the broker (no longer recording)."""
        with self._lock:
            self.closed = True
            retained = [topic for topic, entries in self.topics.items() if any(e["retain"] for e in entries)]
        for topic in retained:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _events(config: Any) -> list[Any]:
    """The scenario's reads (tag world and camera, as the offline replay makes them) and status changes."""
    from gateway.reads import SourceStatus
    from gateway.service import demo

    scenario, period = _scenario()
    reads = _rfid_reads(scenario, period) + demo._camera_reads(scenario, demo._camera_id(config), T0, 1, period)
    reads += demo.vehicle_events(scenario, T0, 1, period)  # the loops and the ANPR cameras (issue 17)
    sources = sorted({reader.id for lane in config.lanes for reader in lane.readers}
                     | {camera.id for lane in config.lanes for camera in lane.cameras})
    statuses = [SourceStatus(s, "starting", "opening rtsp://admin:secret@10.0.0.7/stream?token=x", T0 - 1.0)
                for s in sources]
    statuses += [SourceStatus(s, "connected", "", T0 - 0.5) for s in sources]
    statuses += [  # a reader reports trouble over a live connection, drops out and comes back
        SourceStatus("mercury-sim", "error", "CRC error in frame, tag 3034257BF7194E4000001A85", T0 + 20.0),
        SourceStatus("mercury-sim", "reconnecting", "device gone", T0 + 20.5, attempt=1),
        SourceStatus("mercury-sim", "error", "cannot open /dev/ttyUSB0: busy", T0 + 21.0, attempt=2),
        SourceStatus("mercury-sim", "connected", "", T0 + 22.0),
        SourceStatus("cam-sim", "error", "stalled", T0 + 40.0),
    ]
    return sorted([*reads, *statuses], key=lambda e: e.host_time)


def _scenario() -> tuple[Any, float]:
    from gateway.service.demo import SCENARIO
    from simulators.scenario import load_scenario

    scenario = load_scenario(SCENARIO, seed=SEED)
    return scenario, float(scenario.repeat_s or scenario.world.duration or 0.0)


def _rfid_reads(scenario: Any, period: float) -> list[Any]:
    from simulators.replay import world_reads

    return list(world_reads(scenario.world, t0=T0, t1=period))


def _command(host: str, port: int, site: str, name: str, body: bytes, correlation: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-golden-requester-{os.getpid()}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(host, port)
    client.loop_start()
    try:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = REPLY.format(site=site)
        props.CorrelationData = correlation.encode()
        client.publish(f"bx/v1/cmd/{site}/{GATEWAY}/{name}", body, qos=1, properties=props).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _api(gateway: Any) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from gateway.service.api import create_app

    out: dict[str, Any] = {}
    with TestClient(create_app(gateway.api_ctx)) as client:
        token = {"Authorization": "Bearer demo-token"}
        for path in API_PATHS:
            response = client.get(path, headers=token)
            out[path] = {"status": response.status_code, "content_type": response.headers.get("content-type"),
                         "body": normalise_api(path, response.text)}
        names = client.get("/api/schemas").json()
        for path in [*API_DIGESTS, *(f"/api/schemas/{name}" for name in names)]:
            response = client.get(path, headers=token)
            out[path] = {"status": response.status_code, "content_type": response.headers.get("content-type"),
                         "sha256": hashlib.sha256(response.content).hexdigest(), "length": len(response.content)}
    return out


def capture(host: str, port: int) -> dict[str, Any]:
    """Run the scenario against the broker at ``host:port``; returns the normalised capture."""
    from gateway.config import load_config
    from gateway.service.demo import CONFIG, load_demo_data
    from gateway.service.wiring import build

    with tempfile.TemporaryDirectory(prefix="bx-golden-") as tmp:
        with _environment({"BX_DEMO_MQTT_URL": f"mqtt://{host}:{port}", "BX_DEMO_DATA": str(Path(tmp) / "data"),
                           "BX_API_TOKEN": "demo-token"}):
            config = load_config(CONFIG).model_copy(update={"gateway": GATEWAY})
        recorder = Recorder(host, port, config.site)
        recorder.start()
        gateway = build(config, Path(tmp) / "data")
        publisher = gateway.publisher
        now = [T0 - 2.0]
        gateway.clock = lambda: now[0]
        try:
            load_demo_data(gateway.store, T0)
            publisher.start()
            _wait(lambda: publisher.connected, 10, "the publisher's connection")
            recorder.settle()  # birth and capabilities first
            events = _events(config)
            next_tick = events[0].host_time
            for event in events:
                while next_tick <= event.host_time:
                    now[0] = next_tick
                    gateway._handle_lane_events(gateway.engine.tick(next_tick))
                    next_tick += TICK_S
                now[0] = event.host_time
                gateway.on_source_event(event)
            end = T0 + 70.0
            while next_tick <= end:
                now[0] = next_tick
                gateway._handle_lane_events(gateway.engine.tick(next_tick))
                next_tick += TICK_S
            gateway._handle_lane_events(gateway.engine.close_all(end))
            from gateway.reads import SourceStatus

            for source in sorted(gateway.live.sources):
                gateway.on_source_event(SourceStatus(source, "stopped", "", end + 1.0))
            _wait(lambda: gateway.publisher.outbox_state()["depth"] == 0, 30, "the outbox to drain")
            _command(host, port, config.site, "ping", b"{}", "c-1")
            _command(host, port, config.site, "no-such-command", b'{"x": 1}', "c-2")
            _command(host, port, config.site, "ping", b"[1, 2]", "c-3")
            recorder.settle()
            api = _api(gateway)
        finally:
            with contextlib.suppress(Exception):
                publisher.stop(5.0)
            recorder.settle()
            recorder.clear_retained()
            recorder.stop()
            gateway.store.close()
    return {"scenario": {"seed": SEED, "t0": T0, "gateway": GATEWAY},
            "mqtt": dict(sorted(recorder.topics.items())), "api": api}


def compare(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Differences between two captures, as readable lines (empty: the same)."""
    problems: list[str] = []
    want_topics, got_topics = expected["mqtt"], got["mqtt"]
    for topic in sorted(set(want_topics) | set(got_topics)):
        want, have = want_topics.get(topic, []), got_topics.get(topic, [])
        if len(want) != len(have):
            problems.append(f"{topic}: {len(have)} message(s), expected {len(want)}")
        for i, (a, b) in enumerate(zip(want, have, strict=False)):
            a_props, b_props = dict(a["props"]), dict(b["props"])
            a_exp, b_exp = a_props.pop("expiry", None), b_props.pop("expiry", None)
            if (a_exp is None) != (b_exp is None) or (
                    a_exp is not None and not 0 <= a_exp - b_exp <= EXPIRY_TOLERANCE_S):
                problems.append(f"{topic}[{i}]: message expiry {b_exp}, expected {a_exp}")
            for key in ("qos", "retain"):
                if a[key] != b[key]:
                    problems.append(f"{topic}[{i}]: {key} {b[key]!r}, expected {a[key]!r}")
            if a_props != b_props:
                problems.append(f"{topic}[{i}]: properties {b_props}, expected {a_props}")
            if a["payload"] != b["payload"]:
                problems.append(f"{topic}[{i}]: payload differs {_difference(a['payload'], b['payload'])}")
    for path in sorted(set(expected["api"]) | set(got["api"])):
        a, b = expected["api"].get(path), got["api"].get(path)
        if a != b:
            problems.append(f"API {path} differs {_difference(json.dumps(a), json.dumps(b))}")
    return problems


def _difference(expected: str, got: str, context: int = 120) -> str:
    """Where two texts first differ, with some context."""
    at = next((i for i, (x, y) in enumerate(zip(expected, got, strict=False)) if x != y),
              min(len(expected), len(got)))
    start = max(0, at - context)
    return (f"at character {at}:\n  got      ...{got[start:at + context]}...\n"
            f"  expected ...{expected[start:at + context]}...")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {FIXTURE.relative_to(ROOT)}")
    parser.add_argument("--mqtt-url", help="use this broker (default: a Mosquitto of our own)")
    args = parser.parse_args(argv)
    from gateway.service.broker import MosquittoBroker

    with tempfile.TemporaryDirectory(prefix="bx-golden-broker-") as tmp:
        broker = None
        if args.mqtt_url:
            from urllib.parse import urlsplit

            parts = urlsplit(args.mqtt_url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 1883
        else:
            broker = MosquittoBroker(workdir=Path(tmp))
            broker.start()
            host, port = broker.host, broker.port
        try:
            got = capture(host, port)
        finally:
            if broker is not None:
                broker.stop()
    if args.write:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {FIXTURE.relative_to(ROOT)}: {sum(len(v) for v in got['mqtt'].values())} messages, "
              f"{len(got['api'])} API answers")
        return 0
    problems = compare(json.loads(FIXTURE.read_text(encoding="utf-8")), got)
    print("\n".join(problems) or "the same")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
