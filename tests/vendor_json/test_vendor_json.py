"""Impinj IoT and Zebra IoT Connector JSON -> normalised reads: mapping, a real HTTP stream, real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drivers.registry import open_source
from drivers.vendor_json.mapping import VendorEventError, impinj_reads, parse_time, zebra_reads
from gateway.reads import Read, SourceStatus
from tests.llrp.support import collect, reads_of, statuses

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vendor_json"
IMPINJ_LINES = (FIXTURES / "impinj_stream.ndjson").read_text().splitlines()
ZEBRA_EVENTS: list[Any] = json.loads((FIXTURES / "zebra_events.json").read_text())


def test_impinj_mapping_base64_hex_cdbm_and_antenna_name() -> None:
    out = [e for line in IMPINJ_LINES for e in impinj_reads(json.loads(line), "r700", 1.0)]
    reads = [e for e in out if isinstance(e, Read)]
    assert [r.raw for r in reads] == ["3074257bf7194e4000001a85", "31049dc7d2aa000000000001",
                                      "e2801160600002054cc2096f"]
    assert [r.channel for r in reads] == ["1", "2", "Lane 1 right"]
    assert [r.rssi_dbm for r in reads] == [-53.5, -61.2, -70.0]
    first = reads[0]
    assert (first.pc, first.frequency_khz, first.phase_deg) == (0x3000, 866900, 31.5)
    assert first.source_time == parse_time("2024-05-01T10:00:00.200Z") and first.host_time == 1.0
    assert first.identifier is not None and first.identifier.key == "80614141123458.6789"
    assert first.extra["antenna_name"] == "Lane 1 left"
    assert reads[2].identifier is None and reads[2].error  # a TID-like EPC: delivered raw, with the reason
    assert reads[2].extra["tidHex"] == "E2801160200074CF085009C1"
    [status] = [e for e in out if isinstance(e, SourceStatus)]
    assert "antennaDisconnectedEvent" in status.detail
    # a webhook batch is a JSON list of the same events
    batch = [json.loads(line) for line in IMPINJ_LINES]
    assert len([e for e in impinj_reads(batch, "r700", 1.0) if isinstance(e, Read)]) == 3


def test_zebra_mapping_single_and_batched() -> None:
    reads = [e for ev in ZEBRA_EVENTS for e in zebra_reads(ev, "fx9600", 2.0) if isinstance(e, Read)]
    assert [(r.raw, r.channel, r.rssi_dbm, r.count) for r in reads] == [
        ("3074257bf7194e4000001a85", "1", -54.0, 3),
        ("3114257bf7194e4000001a85", "2", -63.0, 1),
        ("e2801160600002054cc2096f", "4", -71.0, 2),
        ("3074257bf7194e4000001a85", "4", -58.0, 1),
    ]
    assert reads[0].frequency_khz == 865700 and reads[0].pc == 0x3000 and reads[0].extra["mode"] == "SIMPLE"
    assert reads[0].source_time == parse_time("2024-05-01T10:00:00.250+00:00")
    assert reads[1].source_time == 1714557600.3 and reads[1].phase_deg == 12.5


def test_bad_events_raise_typed_errors() -> None:
    with pytest.raises(VendorEventError):
        impinj_reads({"tagInventoryEvent": {"epc": "%%%"}}, "r", 0.0)
    with pytest.raises(VendorEventError):
        impinj_reads({"tagInventoryEvent": {"antennaPort": 1}}, "r", 0.0)
    with pytest.raises(VendorEventError):
        zebra_reads({"data": {"idHex": "zz"}}, "z", 0.0)
    with pytest.raises(VendorEventError):
        zebra_reads("nope", "z", 0.0)


# -- a real HTTP NDJSON stream on 127.0.0.1 ----------------------------------------------------------


@pytest.fixture
def ndjson_server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for line in [*IMPINJ_LINES, "{not json"]:
                self.wfile.write(line.encode() + b"\n")
                self.wfile.flush()
            # the stream ends: the client reconnects

        def log_message(self, *_a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_impinj_http_stream_and_reconnect(ndjson_server: tuple[str, list[str]]) -> None:
    addr, paths = ndjson_server

    async def main() -> None:
        src = open_source("r700", f"impinj-iot+http://{addr}")
        src.backoff.base = src.backoff.cap = 0.05  # type: ignore[attr-defined]
        events = await collect(src, reads=6, timeout=10)
        await src.close()
        reads = reads_of(events)
        assert [r.raw for r in reads[:3]] == ["3074257bf7194e4000001a85", "31049dc7d2aa000000000001",
                                              "e2801160600002054cc2096f"]
        assert len(reads) >= 6 and len(paths) >= 2  # the stream was reopened after it ended
        assert paths[0] == "/api/v1/data/stream"
        details = [s.detail for s in statuses(events)]
        assert any("ignored bad event" in d for d in details) and any(s.state == "reconnecting"
                                                                       for s in statuses(events))

    asyncio.run(asyncio.wait_for(main(), 20))


# -- real Mosquitto ----------------------------------------------------------------------------------


def _publish_when_subscribed(src: Any, host: str, port: int, topic: str, payloads: list[str]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-test-pub-{id(src):x}")
    pub.connect(host, port)
    pub.loop_start()
    try:
        for p in payloads:
            pub.publish(topic, p, qos=1).wait_for_publish(5)
    finally:
        pub.disconnect()
        pub.loop_stop()


@pytest.mark.parametrize("vendor", ["impinj", "zebra"])
def test_mqtt_feeds_over_real_mosquitto(mqtt_broker: Any, vendor: str) -> None:
    host, port = mqtt_broker.host, mqtt_broker.port
    base = f"bx-test/{vendor}/{threading.get_ident()}"
    if vendor == "impinj":
        url, topic = f"impinj-iot+mqtt://{host}:{port}/{base}/#", f"{base}/events"
        payloads, want = IMPINJ_LINES, 3
    else:
        url, topic = f"zebra-iot+mqtt://{host}:{port}/{base}/d-evt", f"{base}/d-evt"
        payloads, want = [json.dumps(e) for e in ZEBRA_EVENTS], 4

    async def main() -> None:
        src = open_source(f"{vendor}-1", url)
        task = asyncio.create_task(collect(src, reads=want, timeout=10))
        await asyncio.wait_for(src.subscribed.wait(), 10)  # type: ignore[attr-defined]
        await asyncio.to_thread(_publish_when_subscribed, src, host, port, topic, payloads)
        events = await task
        await src.close()
        reads = reads_of(events)
        assert len(reads) == want
        assert reads[0].raw == "3074257bf7194e4000001a85" and reads[0].source == f"{vendor}-1"
        assert "connected" in [s.state for s in statuses(events)]

    asyncio.run(asyncio.wait_for(main(), 30))
