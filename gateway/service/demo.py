"""``border-gateway demo``: a whole border post on one machine, without hardware.

It starts, in this order: a Mosquitto broker on a free loopback port (unless ``--mqtt-url``),
the reader simulators (LLRP on a free TCP port, a ThingMagic Mercury module on a pty) and the
camera simulator, all playing ``config/scenarios/demo.yaml`` on one scenario clock; then the
gateway with ``config/demo.yaml``, the sample master data and declarations of
``config/demo-data/`` (their ETAs moved to now), and the dashboard.  A console view lists the
passages and the messages the pre-clearance system receives.

The scenario: seven trucks in two lanes within 60 seconds (then again), with cross-reads between
the lanes.  A clean truck matches its declaration; the others raise ``SPS_DOC_MISSING`` and
``EXPIRED`` (frozen beef, no CHED-P, expired batch), ``SSCC_NOT_DECLARED``, ``HS_MISMATCH`` and
``COUNT_MISMATCH`` (biscuits), ``NO_DECLARATION`` and ``SSCC_NOT_DECLARED`` (an undeclared truck).
Three more are seen by induction loops on the LLRP reader's GPIs and by ANPR cameras (simulated
Rekor and Hikvision cameras posting to the gateway's ``anpr+webhook`` sources): an untagged,
undeclared truck (``NO_DECLARATION``), an untagged truck whose plate is a movement's (linked by its
plate alone), and a tagged truck whose plate is not its declaration's (``TRANSPORT_MISMATCH``).

Decisions back to the lane.  The demo runs the pre-clearance simulator (``simulators/preclearance``) as the
central system, and the gateway with a ``decisions`` section (:data:`DEMO_DECISIONS`, unless the configuration
has its own): pre-arrival decisions reach the gateway on its customs office's topic, so pre-cleared trucks get
a ``proceed`` signal and a flagged one ``inspection`` (the bay); the clean truck's declaration
(:data:`LATE_MRN`) is decided only after its passage, which publishes a new revision of its enriched record.
The console prints each lane signal and each revision.

One scenario clock.  Three simulators read the same scenario: the LLRP reader (asyncio, on the
loop's monotonic clock), the Mercury module (a thread, on ``time.monotonic()``) and the camera
(opened later by the gateway itself, on the wall clock, ``t0`` in its URL).  They are given one
``t0``, :data:`LEAD_S` seconds in the future, so that the gateway is connected to all of them
before anything happens: a reader connected late would lose (Mercury) or burst (LLRP) the first
reads, and a burst gives every read the same host time, which is not what a lane looks like.

Determinism.  The tag world draws every read attempt from ``(seed, track, attempt)``, so the same
``--seed`` gives the same reads whatever the timing; the lane engine works on their times, so
the passages, their identifiers and their flags are the same on every run.  ``demo summary``
(the last line, JSON) holds them, and :func:`offline_summary` computes the same thing without
any process, socket or clock: the tests compare the two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.config import ConfigError, SiteConfig, load_config
from gateway.json_limits import loads
from gateway.service.broker import LOOPBACK, MosquittoBroker, free_port, port_open
from gateway.shipped import shipped

if TYPE_CHECKING:
    from gateway.enrichment.store import Store
    from gateway.reads import Read, Trigger, VehicleRead
    from gateway.service.gateway import Gateway
    from simulators.scenario import Scenario

log = logging.getLogger(__name__)

# config/ in a checkout, gateway/examples in an installed wheel (see gateway.shipped)
CONFIG = shipped("demo.yaml")
SCENARIO = shipped("scenarios/demo.yaml")
DATA = shipped("demo-data/declarations.json").parent
DEFAULT_API_PORT = 8080
# Seconds between starting the simulators and the scenario's time 0.  The first truck arrives at
# 4 s, so the gateway has LEAD_S + 4 s to build itself and connect to every source; start-up
# takes about one second on an idle machine and a few on a loaded one.
LEAD_S = 2.0
CAMERA_FPS = 8  # as in config/demo.yaml; the offline replay puts a label's read where the camera confirms it
CAMERA_MIN_FRAMES = 2  # the camera driver's default confirmation
# The demo's ANPR cameras (config/demo.yaml) and the variable that gives each its webhook port.
ANPR_PORTS = {"anpr-l1-front": "BX_DEMO_ANPR_L1_FRONT", "anpr-l1-rear": "BX_DEMO_ANPR_L1_REAR",
              "anpr-l2-front": "BX_DEMO_ANPR_L2_FRONT"}


# Decided only after its passage (the pre-clearance simulator's ``defer``): the late decision of the demo.
LATE_MRN = "25DE0040560000001A"
DEMO_OFFICE = "DE004056"


def demo_decisions() -> Any:
    """The ``decisions`` section the demo runs with (when its configuration has none)."""
    from gateway.config.decisions import DecisionsConfig, PolicyConfig, SignalConfig

    return DecisionsConfig(offices=[DEMO_OFFICE], policy=PolicyConfig(wait_s=5.0),
                           signals=SignalConfig(rest_timeout_s=20.0))


class DemoError(RuntimeError):
    """The demo cannot start (no broker, a port in use, bad demo data); the message says what to do."""


def run_from_cli(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo(args))
    except (DemoError, ConfigError) as exc:
        print(f"border-gateway demo: {exc}", file=sys.stderr)
        return 1


# -- the run --------------------------------------------------------------------------------


def _api_port(requested: int | None) -> int:
    """The requested port, else 8080, else any free port: the first command must not fail on a busy 8080."""
    if requested:
        if port_open(LOOPBACK, requested, 0.2):
            raise DemoError(f"port {requested} is in use (choose another with --api-port)")
        return requested
    return DEFAULT_API_PORT if not port_open(LOOPBACK, DEFAULT_API_PORT, 0.2) else free_port()


async def _demo(args: argparse.Namespace) -> int:
    # Import the heavy parts (FastAPI, OpenCV, the codecs) before the scenario clock is set.
    from gateway.service.wiring import build
    from simulators.anpr_sim import AnprCameraSimulator
    from simulators.camera_sim.timeline import write_timeline
    from simulators.llrp_sim import LLRPReaderSimulator
    from simulators.mercury_sim import MercurySimulator
    from simulators.scenario import load_scenario

    dashboard = not args.no_dashboard
    speed = float(getattr(args, "speed", 1.0) or 1.0)
    api_port = _api_port(args.api_port) if dashboard else (args.api_port or free_port())
    scenario = load_scenario(Path(getattr(args, "scenario", None) or SCENARIO), seed=args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="bx-demo-"))
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        mqtt_url = args.mqtt_url
        if mqtt_url is None:
            broker = MosquittoBroker(workdir=workdir / "broker")
            try:
                await asyncio.to_thread(broker.start)
            except RuntimeError as exc:
                raise DemoError(f"{exc} (install mosquitto, or pass --mqtt-url)") from None
            stack.callback(broker.stop)
            mqtt_url = broker.url

        # One scenario clock for the three simulators (see the module docstring).
        loop = asyncio.get_running_loop()
        t0_mono = loop.time() + LEAD_S
        t0_wall = time.time() + LEAD_S
        llrp = LLRPReaderSimulator(scenario.world, "llrp-sim", speed=speed, gpi=scenario.gpi)
        await llrp.start(t0=t0_mono)
        stack.push_async_callback(llrp.stop)
        mercury = MercurySimulator(scenario.world, "mercury-sim", speed=speed).start(t0=t0_mono)
        stack.callback(mercury.stop)
        timeline = write_timeline(workdir / "camera-timeline.yaml", _camera_appearances(scenario, speed),
                                  repeat_s=(scenario.repeat_s / speed) if scenario.repeat_s else None)
        os.environ.update({
            "BX_DEMO_LLRP_PORT": str(llrp.port),
            "BX_DEMO_MERCURY_PATH": mercury.path,
            "BX_DEMO_CAMERA_TIMELINE": str(timeline),
            "BX_DEMO_T0": f"{t0_wall:.3f}",
            "BX_DEMO_CAMERA_REPEAT": f"{(scenario.repeat_s or 0) / speed:g}",
            "BX_DEMO_MQTT_URL": mqtt_url,
            "BX_DEMO_API_PORT": str(api_port),
            "BX_DEMO_DATA": str(workdir / "data"),
            **{variable: str(free_port()) for variable in ANPR_PORTS.values()},
        })
        config = load_config(args.config or CONFIG)
        preclearance = not getattr(args, "no_preclearance", False)
        if preclearance and config.decisions is None:
            config = config.model_copy(update={"decisions": demo_decisions()})
        anpr = AnprCameraSimulator(scenario.sightings, anpr_targets(config), speed=speed,
                                   repeat_s=(scenario.repeat_s / speed) if scenario.repeat_s else None)
        await anpr.start(t0=t0_mono)
        stack.push_async_callback(anpr.stop)
        gateway = build(config)
        stack.callback(gateway.store.close)
        load_demo_data(gateway.store, t0_wall)

        console = ConsoleView(mqtt_url, f"http://127.0.0.1:{api_port}/" if dashboard else None,
                              topic=f"{config.mqtt.base_topic}/+/{config.site}/{config.gateway}/#",
                              llrp=f"{llrp.host}:{llrp.port}", mercury=mercury.path, seed=args.seed)
        console.start()
        stack.callback(console.stop)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gateway.request_stop)
            stack.callback(loop.remove_signal_handler, sig)
        stopping: list[asyncio.Task[None]] = []
        stop_llrp = getattr(args, "stop_llrp_at", None)
        if stop_llrp is not None:  # a reader going away (the dashboard test): the gateway keeps retrying
            loop.call_at(t0_mono + stop_llrp / speed,
                         lambda: stopping.append(loop.create_task(llrp.stop(), name="demo-stop-llrp")))
        if args.duration:
            # Counted from the scenario's time 0, not from the launch: a slow start-up (a loaded
            # machine) must not cut the last truck off a ``--duration 60`` run.
            loop.call_at(t0_mono + args.duration, gateway.request_stop)
        watch = asyncio.create_task(_watch_start(gateway, console, t0_mono), name="demo-start")
        central: list[Any] = []  # the pre-clearance simulator, once started (stopped before the broker)
        stack.callback(lambda: [sim.stop() for sim in central])
        start_central = asyncio.create_task(_start_preclearance(gateway, console, mqtt_url, config, args, speed,
                                                                central), name="demo-preclearance") \
            if preclearance else None
        try:
            await gateway.run(serve_api=dashboard)
        finally:
            for task in (watch, start_central):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for task in stopping:
                await task
        await asyncio.sleep(0.3)  # the console's subscription receives the last messages (offline)
        summary = summarize(gateway.live.passages)
        summary["published"] = dict(sorted(console.published.items()))
        summary["signals"] = dict(sorted(console.signals.items()))  # lane signal states shown, by state
        summary["revisions"] = console.revisions  # enriched records published again (late decisions)
        summary["lane_decisions"] = [  # what each passage's lane was told, and its record's last revision
            {"lane": r["lane"], "declarations": r.get("declarations", []), "revision": r.get("revision"),
             **{k: r["lane_decision"][k] for k in ("outcome", "signal", "source")}}
            for r in gateway.live.passages if r.get("lane_decision")]
        summary["seed"] = args.seed
    print("demo summary: " + json.dumps(summary, sort_keys=True), flush=True)
    return 0


async def _start_preclearance(gateway: Gateway, console: ConsoleView, mqtt_url: str, config: SiteConfig,
                              args: argparse.Namespace, speed: float, central: list[Any]) -> None:
    """The central system, once the gateway listens for decisions (a decision sent before is not received)."""
    from simulators.preclearance import PreclearanceConfig, PreclearanceSimulator, Rules

    intake = gateway.decision_intake
    while not (gateway.running.is_set() and intake is not None and intake.subscribed.is_set()):
        await asyncio.sleep(0.05)
    sim = PreclearanceSimulator(PreclearanceConfig(
        mqtt_url=mqtt_url, base_topic=config.mqtt.base_topic, group=f"demo-{os.getpid()}",
        rules=Rules(seed=args.seed, random_inspection=0.0), declarations=(DATA / "declarations.json",),
        defer=frozenset({LATE_MRN}), decision_delay_s=3.0 / speed))
    try:
        await asyncio.to_thread(sim.start)
    except (ConnectionError, OSError) as exc:
        console.note(f"pre-clearance simulator not started: {exc}")
        return
    central.append(sim)
    console.note(f"pre-clearance simulator: {len(sim.published)} pre-arrival decisions sent to office {DEMO_OFFICE}")


async def _watch_start(gateway: Gateway, console: ConsoleView, t0_mono: float) -> None:
    """Say when the scenario starts, and whether a source was still not connected by then."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, t0_mono - loop.time()))
    late = sorted(s.id for s in gateway.live.sources.values() if s.state != "connected")
    console.note("scenario started" + (f"; not connected yet: {', '.join(late)}" if late else ""))


def _camera_appearances(scenario: Scenario, speed: float) -> list[dict[str, Any]]:
    return [{"start": a.start / speed, "end": a.end / speed,
             "labels": [{"kind": kind, "data": data} for kind, data in a.labels]} for a in scenario.camera]


def anpr_targets(config: SiteConfig) -> dict[str, Any]:
    """Where each ANPR camera of the configuration is reached (its webhook) and the format it posts."""
    from urllib.parse import parse_qs, urlsplit

    from simulators.anpr_sim import CameraTarget

    targets: dict[str, Any] = {}
    for lane in config.lanes:
        for camera in lane.cameras:
            parts = urlsplit(camera.url)
            if parts.scheme != "anpr+webhook":
                continue
            preset = parse_qs(parts.query).get("preset", ["rekor"])[-1]
            targets[camera.id] = CameraTarget(f"http://{parts.hostname}:{parts.port}{parts.path}", preset,
                                              pictures=preset == "hikvision")
    return targets


def load_demo_data(store: Store, t0: float) -> None:
    """Products, parties, declarations and movements, with every ETA moved to the demo's start."""
    from gateway.enrichment.importer import import_records

    eta = datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds")
    for what in ("parties", "products", "declarations", "movements"):
        records = json.loads((DATA / f"{what}.json").read_text(encoding="utf-8"))
        for record in records:
            if what == "declarations":
                record.setdefault("activeTransport", {})["eta"] = eta
            elif what == "movements":
                record["eta"] = eta
        report = import_records(store, what, records)
        if report.errors:
            raise DemoError(f"demo data {what}: {report.summary()}")


# -- what a run produced ------------------------------------------------------------------------


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The deterministic part of a run: passages per lane in order, their keys, MRNs and flag codes.

    ``records`` are closed passages as the dashboard shows them (:func:`gateway.service.views.result_view`).
    """
    results: list[dict[str, Any]] = []
    lanes: dict[str, list[list[str]]] = {}
    for r in records:
        keys = sorted(str(i["key"]) for i in r.get("identifiers", []))
        results.append({"lane": str(r["lane"]), "identifiers": keys,
                        "declarations": sorted(str(m) for m in r.get("declarations", [])),
                        "flags": sorted(str(f.get("code")) for f in r.get("flags", []))})
        lanes.setdefault(str(r["lane"]), []).append(keys)
    return {
        "passages": len(results),
        "flags": dict(sorted(Counter(code for r in results for code in r["flags"]).items())),
        "clean_passages": sum(1 for r in results if r["declarations"] and not r["flags"]),
        "lanes": lanes,
        "results": results,
    }


def deterministic(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What two runs with the same seed must share (message counts depend on timing: not compared)."""
    return {key: summary[key] for key in ("passages", "flags", "clean_passages", "lanes", "results")}


def offline_summary(seed: int, scenario_path: str | Path = SCENARIO, config_path: str | Path = CONFIG,
                    cycles: int = 1) -> dict[str, Any]:
    """The summary a demo run with ``seed`` produces, computed without processes, sockets or clocks.

    The scenario's reads go through the real lane engine and enricher (with the demo data) on a
    virtual host clock: RFID reads from the tag world, camera reads where the camera confirms a label
    (after :data:`CAMERA_MIN_FRAMES` frames).  ``cycles`` scenario periods are played.
    """
    from gateway.enrichment.enricher import Enricher
    from gateway.enrichment.store import Store
    from gateway.lane.engine import LaneEngine
    from gateway.lane.passage import PassageEvent
    from gateway.lane.replay import merge, replay
    from gateway.service.views import result_view
    from simulators.replay import world_reads
    from simulators.scenario import load_scenario

    scenario = load_scenario(Path(scenario_path), seed=seed)
    config = load_config(config_path)
    period = scenario.repeat_s or float(scenario.world.duration or 0.0)
    # Any epoch second before the clean truck's best-before date (2028-12-31) and after the expired
    # batch's (2025-02-28); the demo data's ETAs are moved to it.  2026-01-01T00:00Z:
    t0 = 1_767_225_600.0
    end = period * cycles
    rfid = world_reads(scenario.world, t0=t0, t1=end)
    camera = _camera_reads(scenario, _camera_id(config), t0, cycles, period)
    vehicles = vehicle_events(scenario, t0, cycles, period)
    directory = Path(tempfile.mkdtemp(prefix="bx-demo-replay-"))
    try:
        with Store.for_storage_dir(directory) as store:
            load_demo_data(store, t0)
            engine, enricher = LaneEngine.from_site(config), Enricher(store, config.enrichment)
            events = replay(engine, merge(rfid, camera, vehicles), until=t0 + end, tick_every=0.2, start=t0)
            events += engine.close_all(t0 + end)
            records = []
            for event in events:
                if isinstance(event, PassageEvent) and event.kind == "end":
                    records.append(result_view(event.passage, enricher.enrich(event.passage, event.time)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return summarize(records)


def vehicle_events(scenario: Scenario, t0: float, cycles: int, period: float) -> list[Trigger | VehicleRead]:
    """The loops (GPI edges, as the LLRP simulator plays them) and the ANPR cameras' readings, on host time
    ``t0 + scenario time``, in time order (the offline replay and the golden capture feed them)."""
    from gateway.reads import Trigger
    from gateway.vehicle import vehicle_read
    from simulators.scenario import edges_between

    triggers: list[Trigger | VehicleRead] = [
        Trigger(edge.reader, t0 + edge.time, port=edge.port, active=edge.high)
        for edge in edges_between(scenario.gpi, -1e-9, period * cycles, scenario.repeat_s)]
    plates: list[Trigger | VehicleRead] = [
        vehicle_read(v.camera, t0 + cycle * period + v.time, v.kind, v.text,  # type: ignore[arg-type]
                     confidence=v.confidence, position=v.position)  # type: ignore[arg-type]
        for cycle in range(cycles) for v in scenario.sightings]
    return sorted(triggers + plates, key=lambda e: e.host_time)


def _camera_id(config: SiteConfig) -> str:
    cameras = [camera.id for lane in config.lanes for camera in lane.cameras
               if camera.url.startswith(("camera:", "images:"))]
    if len(cameras) != 1:
        raise DemoError(f"the demo replay expects one camera, the configuration has {len(cameras)}")
    return cameras[0]


def _camera_reads(scenario: Scenario, camera: str, t0: float, cycles: int, period: float) -> list[Read]:
    from gateway.gs1 import LENIENT, parse
    from gateway.reads import Read
    from simulators.camera_sim.timeline import Appearance

    reads: list[Read] = []
    for cycle in range(cycles):
        for appearance in scenario.camera:
            shown = Appearance.parse({"start": appearance.start, "end": appearance.end, "labels": [
                {"kind": kind, "data": data} for kind, data in appearance.labels]})
            seen = t0 + cycle * period + appearance.start + (CAMERA_MIN_FRAMES - 1) / CAMERA_FPS
            for code in shown.codes():
                message = parse(code.raw, profile=LENIENT)
                reads.append(Read(source=camera, channel=camera, carrier="barcode", raw=code.raw, host_time=seen,
                                  count=CAMERA_MIN_FRAMES, identifier=message.to_identifier(),
                                  scheme=code.symbology))
    reads.sort(key=lambda r: r.host_time)
    return reads


# -- the console view -------------------------------------------------------------------------


class ConsoleView:
    """Prints passages and published messages as the pre-clearance system sees them (rich).

    It is an ordinary MQTT subscriber to the demo gateway's topics (``bx/v1/+/{site}/{gw}/#``, not
    ``bx/v1/#``: with ``--mqtt-url`` the broker may carry other gateways): what it prints is what a
    consumer receives.
    """

    def __init__(self, mqtt_url: str, dashboard_url: str | None, *, topic: str, llrp: str, mercury: str,
                 seed: int) -> None:
        from rich.console import Console

        # soft_wrap: when the output is a pipe or a file, a line stays one line (tests and logs read it)
        self.console = Console(highlight=False, soft_wrap=True)
        self.mqtt_url, self.dashboard_url, self.topic = mqtt_url, dashboard_url, topic
        self.llrp, self.mercury, self.seed = llrp, mercury, seed
        self.published: dict[str, int] = {}
        self.signals: dict[str, int] = {}
        self.revisions = 0
        self._client: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        from urllib.parse import urlsplit

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parts = urlsplit(self.mqtt_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 1883
        # The two addresses come first: the dashboard URL and the broker are what a user needs.
        if self.dashboard_url:
            self.console.print(f"dashboard  {self.dashboard_url}")
        else:
            self.console.print("dashboard  off (--no-dashboard)")
        self.console.print(f"broker     {self.mqtt_url}   "
                           f"(try: mosquitto_sub -h {host} -p {port} -t '{self.topic}' -v)")
        self.console.rule("[bold]gs1-border-gateway demo")
        self.console.print(f"readers    LLRP {self.llrp}, Mercury {self.mercury}; camera: simulated")
        self.console.print(f"scenario   7 trucks, 2 lanes, repeating every 60 s; seed {self.seed}; Ctrl-C stops\n")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-demo-console-{os.getpid()}")
        client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        client.on_message = self._on_message
        client.connect_async(host, port)
        client.loop_start()
        self._client = client

    def note(self, text: str) -> None:
        self.console.print(f"{datetime.now():%H:%M:%S} [dim]{text}[/dim]")

    def stop(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        # paho's network thread: an exception here would end it, and with it the console's output and
        # its counts.  Whatever arrives (the intake topics carry what anyone publishes) is printed or skipped.
        try:
            self._show(message.topic, bytes(message.payload))
        except Exception:
            log.debug("demo console: skipped a message on %s", message.topic, exc_info=True)

    def _show(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        kind = f"{parts[2]}/{parts[5]}" if len(parts) >= 6 else topic
        with self._lock:
            self.published[kind] = self.published.get(kind, 0) + 1
        try:
            body = loads(payload)  # bounded nesting: a hostile intake message cannot exhaust the stack
        except ValueError:
            return
        data = body.get("data", body) if isinstance(body, dict) else {}
        if not isinstance(data, dict):
            return
        stamp = datetime.now().strftime("%H:%M:%S")
        if topic.endswith("/signal"):
            state, lane = str(data.get("state")), data.get("lane", "?")
            if data.get("passageId"):
                with self._lock:
                    self.signals[state] = self.signals.get(state, 0) + 1
                style = "green" if state == "proceed" else "yellow" if state == "stop" else "red"
                self.console.print(f"{stamp} [bold]{lane}[/bold] signal [{style}]{state}[/{style}] "
                                   f"({data.get('outcome') or 'waiting'}, {data.get('source')})")
            return
        if "/enriched/" in topic and isinstance(data.get("revision"), int) and data["revision"] > 1:
            with self._lock:
                self.revisions += 1
            decision = _dict(data.get("laneDecision"))
            self.console.print(f"{stamp} [bold]{_dict(data.get('passage')).get('lane', '?')}[/bold] revision "
                               f"{data['revision']}: a late central decision -> {decision.get('outcome', '?')} "
                               f"({decision.get('source', '?')})")
            return
        if "/enriched/" in topic:
            passage = _dict(data.get("passage"))
            flags = [_dict(f).get("code") for f in _list(data.get("flags"))]
            links = sorted({str(_dict(link).get("mrn")) for link in _list(data.get("links")) if _dict(link).get("mrn")})
            style = "green" if links and not flags else "red" if flags else "yellow"
            self.console.print(f"{stamp} [bold]{passage.get('lane', '?')}[/bold] passage "
                               f"{str(passage.get('id', ''))[:22]} -> declaration {', '.join(links) or '[red]none'}"
                               f" flags [{style}]{', '.join(map(str, flags)) or 'none'}[/{style}]")
        elif "/passage" in topic and data.get("kind") == "new":
            self.console.print(f"{stamp} {_dict(data.get('passage')).get('lane', data.get('lane', '?'))} "
                               "[dim]vehicle entering[/dim]")
        elif "/referral/" in topic:
            self.console.print(f"{stamp} [cyan]referral[/cyan] to {parts[2].upper()}")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
