"""``border-gateway demo``: a whole border post on one machine, without hardware.

It starts, in this order: a Mosquitto broker on a free loopback port (unless ``--mqtt-url``),
the reader simulators (LLRP on a free TCP port, a ThingMagic Mercury module on a pty) and the
camera simulator, all playing ``config/scenarios/demo.yaml`` from the same moment; then the
gateway with ``config/demo.yaml``, the sample master data and declarations of
``config/demo-data/`` (their ETAs moved to today), and the dashboard.  A console view lists the
passages and the messages the pre-clearance system receives.

The scenario: four trucks in two lanes within 60 seconds (then again), with cross-reads between
the lanes.  A clean truck matches its declaration; the others raise ``SPS_DOC_MISSING`` and
``EXPIRED`` (frozen beef, no CHED-P, expired batch), ``SSCC_NOT_DECLARED`` and ``HS_MISMATCH``
(biscuits), ``NO_DECLARATION`` (an undeclared truck).  The same ``--seed`` gives the same
passages and flags.  At the end it prints one JSON line: ``demo summary: {...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import load_config
from gateway.service.broker import MosquittoBroker, free_port

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "demo.yaml"
SCENARIO = ROOT / "config" / "scenarios" / "demo.yaml"
DATA = ROOT / "config" / "demo-data"


def run_from_cli(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo(args))
    except DemoError as exc:
        print(f"border-gateway demo: {exc}", file=sys.stderr)
        return 1


class DemoError(RuntimeError):
    pass


async def _demo(args: argparse.Namespace) -> int:
    from simulators.camera_sim.timeline import write_timeline
    from simulators.mercury_sim import MercurySimulator
    from simulators.scenario import load_scenario

    workdir = Path(tempfile.mkdtemp(prefix="bx-demo-"))
    broker: MosquittoBroker | None = None
    mqtt_url = args.mqtt_url
    if mqtt_url is None:
        broker = MosquittoBroker(workdir=workdir / "broker")
        try:
            broker.start()
        except RuntimeError as exc:
            raise DemoError(f"{exc} (install mosquitto, or pass --mqtt-url)") from None
        mqtt_url = broker.url
    scenario = load_scenario(Path(args.scenario or SCENARIO), seed=args.seed)
    t0 = time.time()
    llrp = await _start_llrp(scenario.world)
    mercury = MercurySimulator(scenario.world, "mercury-sim").start()
    timeline = write_timeline(workdir / "camera-timeline.yaml", scenario.camera, repeat_s=scenario.repeat_s)
    api_port = args.api_port if args.api_port else free_port()
    os.environ.update({
        "BX_DEMO_LLRP_PORT": str(llrp.port),
        "BX_DEMO_MERCURY_PATH": mercury.path,
        "BX_DEMO_CAMERA_TIMELINE": str(timeline),
        "BX_DEMO_T0": f"{t0:.3f}",
        "BX_DEMO_MQTT_URL": mqtt_url,
        "BX_DEMO_API_PORT": str(api_port),
        "BX_DEMO_DATA": str(workdir / "data"),
    })
    config = load_config(args.config or CONFIG)
    from gateway.service.wiring import build

    gateway = build(config)
    _load_demo_data(gateway.store, t0)
    console = ConsoleView(config.site, config.gateway, mqtt_url, f"http://127.0.0.1:{api_port}/",
                          dashboard=not args.no_dashboard)
    console.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gateway.request_stop)
    if args.duration:
        loop.call_later(args.duration, gateway.request_stop)
    try:
        await gateway.run(serve_api=not args.no_dashboard)
    finally:
        console.stop()
        await llrp.stop()
        mercury.stop()
        if broker is not None:
            broker.stop()
    summary = {
        "passages": len(gateway.live.passages),
        "flags": dict(sorted(Counter(f["code"] for p in gateway.live.passages for f in p.get("flags", [])).items())),
        "clean_passages": sum(1 for p in gateway.live.passages if p.get("declarations") and not p.get("flags")),
        "published": console.published,
        "lanes": {lane: [sorted(i["key"] for i in p["identifiers"]) for p in gateway.live.passages
                         if p["lane"] == lane] for lane in gateway.live.lanes},
    }
    print("demo summary: " + json.dumps(summary, sort_keys=True), flush=True)
    return 0


async def _start_llrp(world: Any) -> Any:
    from simulators.llrp_sim import LLRPReaderSimulator

    sim = LLRPReaderSimulator(world, "llrp-sim")
    await sim.start()
    return sim


def _load_demo_data(store: Any, t0: float) -> None:
    """Products, parties and declarations, with every ETA moved to the demo's start."""
    from gateway.enrichment.importer import import_records

    eta = datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds")
    for what in ("parties", "products", "declarations"):
        records = json.loads((DATA / f"{what}.json").read_text(encoding="utf-8"))
        if what == "declarations":
            for record in records:
                record.setdefault("activeTransport", {})["eta"] = eta
        report = import_records(store, what, records)
        if report.errors:
            raise DemoError(f"demo data {what}: {report.summary()}")


class ConsoleView:
    """Prints passages and published messages as the pre-clearance system sees them (rich)."""

    def __init__(self, site: str, gateway: str, mqtt_url: str, dashboard_url: str, dashboard: bool) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        self.site, self.gateway, self.mqtt_url = site, gateway, mqtt_url
        self.dashboard_url, self.dashboard = dashboard_url, dashboard
        self.published: dict[str, int] = {}
        self._client: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        from urllib.parse import urlsplit

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.console.rule("[bold]gs1-border-gateway demo")
        if self.dashboard:
            self.console.print(f"dashboard  [link={self.dashboard_url}]{self.dashboard_url}[/link]")
        self.console.print(f"broker     {self.mqtt_url}   (try: mosquitto_sub -h {urlsplit(self.mqtt_url).hostname} "
                           f"-p {urlsplit(self.mqtt_url).port} -t 'bx/v1/#' -v)")
        self.console.print("scenario   4 trucks, 2 lanes, 60 s, repeating; Ctrl-C stops\n")
        parts = urlsplit(self.mqtt_url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-demo-console-{os.getpid()}")
        client.on_connect = lambda c, u, f, rc, p: c.subscribe("bx/v1/#", qos=1)
        client.on_message = self._on_message
        client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            with contextlib.suppress(Exception):
                self._client.disconnect()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        kind = message.topic.split("/")[2] + "/" + message.topic.split("/")[5] if message.topic.count("/") >= 5 \
            else message.topic
        with self._lock:
            self.published[kind] = self.published.get(kind, 0) + 1
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        data = body.get("data", body) if isinstance(body, dict) else {}
        stamp = datetime.now().strftime("%H:%M:%S")
        if "/enriched/" in message.topic:
            passage = data.get("passage", {})
            flags = [f.get("code") for f in data.get("flags", [])]
            links = sorted({link.get("mrn") for link in data.get("links", []) if link.get("mrn")})
            style = "green" if links and not flags else "red" if flags else "yellow"
            self.console.print(f"{stamp} [bold]{passage.get('lane', '?')}[/bold] passage "
                               f"{str(passage.get('id', ''))[:22]} -> declaration {', '.join(links) or '[red]none'}"
                               f" flags [{style}]{', '.join(flags) or 'none'}[/{style}]")
        elif "/passage" in message.topic and data.get("kind") == "new":
            self.console.print(f"{stamp} {data.get('passage', {}).get('lane', data.get('lane', '?'))} "
                               "[dim]vehicle entering[/dim]")
        elif "/referral/" in message.topic:
            self.console.print(f"{stamp} [cyan]referral[/cyan] to {message.topic.split('/')[2].upper()}")
