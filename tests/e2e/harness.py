"""A whole border post on loopback, for the end-to-end and fault tests: only real parts.

* :class:`Site` runs the readers and the camera of a scenario on one clock: the LLRP reader
  simulator on a TCP port (its asyncio loop on a thread of the test process), the Mercury module
  on a pseudo-terminal, and a camera timeline file that the gateway's own ``camera:sim`` source
  plays against the same epoch second.  Faults are injected here (reboot the LLRP reader,
  unplug the Mercury module).
* :class:`GatewayProcess` is ``border-gateway run --config site.yaml`` as a child process, on a
  storage directory that outlives it (SIGKILL and restart keep the outbox and the declarations).
* :class:`SourceWatch` follows the gateway's ``/api/events`` stream (Server-Sent Events) and
  records every source status change, so a short ``reconnecting`` state is never missed by
  polling.
* :func:`consumer` is a real MQTT 5 subscriber with a persistent session (the pre-clearance
  system, an SPS agency): it survives a broker restart and gets what was queued for it.

Nothing here asserts wall-clock time; every wait is bounded and says what it waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from gateway.enrichment.importer import import_records
from gateway.enrichment.store import Store
from gateway.service.broker import LOOPBACK
from simulators.camera_sim.timeline import timeline_url, write_timeline
from simulators.llrp_sim import Faults, LLRPReaderSimulator
from simulators.mercury_sim import MercurySimulator
from simulators.scenario import Scenario
from tests.publishing.support import Received, Subscriber

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "e2e"
DEMO_DATA = ROOT / "config" / "demo-data"
TOKEN = "e2e-token"
SITE, GATEWAY = "e2e-post", "gw-e2e"
LLRP, MERCURY, CAMERA = "llrp-sim", "mercury-sim", "cam-sim"


# -- the readers and the camera ------------------------------------------------------------------


class Site:
    """The simulated hardware of two lanes, started together so that they share a scenario clock.

    Scenario second ``s`` is wall-clock ``t0 + s`` for all three: the LLRP and Mercury simulators
    count from their ``start()`` (called back to back), the camera from the ``t0`` in its URL.
    """

    def __init__(self, scenario: Scenario, workdir: Path, *, llrp_faults: Faults | None = None,
                 camera_options: Mapping[str, object] | None = None) -> None:
        self.scenario, self.workdir = scenario, workdir
        self.llrp_faults = llrp_faults
        self.camera_options = dict(camera_options or {})
        self.t0 = 0.0
        self.llrp: LLRPReaderSimulator | None = None
        self.mercury: MercurySimulator | None = None
        self.timeline: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Site:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.scenario.camera:
            self.timeline = write_timeline(self.workdir / "camera-timeline.yaml", self.scenario.camera,
                                           fps=5.0, size=(960, 540))
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="e2e-llrp-sim", daemon=True)
        self._thread.start()
        self.llrp = LLRPReaderSimulator(self.scenario.world, LLRP, faults=self.llrp_faults, gpi=self.scenario.gpi)
        self.mercury = MercurySimulator(self.scenario.world, MERCURY)
        self.t0 = time.time()
        self.run(self.llrp.start())
        self.mercury.start()
        return self

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the simulator's loop (e.g. ``site.run(site.llrp.reboot())``)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def now(self) -> float:
        """Scenario seconds."""
        return time.time() - self.t0

    def sleep_until(self, scenario_s: float) -> None:
        delay = scenario_s - self.now()
        if delay > 0:
            time.sleep(delay)

    @property
    def camera_url(self) -> str | None:
        if self.timeline is None:
            return None
        return timeline_url(self.timeline, t0=self.t0, **self.camera_options)

    def stop(self) -> None:
        if self.mercury is not None:
            self.mercury.stop()
        if self._loop is not None:
            if self.llrp is not None:
                with contextlib.suppress(Exception):
                    self.run(self.llrp.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5.0)
            self._loop.close()
            self._loop = None


# -- the site file ------------------------------------------------------------------------------


def site_config(site: Site, *, mqtt_url: str, storage: Path, api_port: int,
                lane_engine: Mapping[str, object] | None = None) -> dict[str, Any]:
    """Two lanes as in ``config/demo.yaml``: one LLRP reader with antennas 1-2 facing lane 1 and
    3-4 facing lane 2, a Mercury module at lane 2's portal, the camera at lane 1's portal.

    Timeouts are short so that faults are noticed within a second or two (keepalive 1 s, reconnect
    backoff capped at 1 s); the lane engine closes a passage about 2 s after its last read."""
    assert site.llrp is not None and site.mercury is not None
    lane1: dict[str, Any] = {
        "id": "lane1", "name": "Lane 1", "read_point_gln": "4012345000009", "default_direction": "inbound",
        "readers": [{"id": LLRP, "url": f"llrp://{LOOPBACK}:{site.llrp.port}?antennas=1,2,3,4&keepalive=1000"
                                       "&backoff=0.2,1",
                     "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}}],
    }
    if site.camera_url is not None:
        lane1["cameras"] = [{"id": CAMERA, "url": site.camera_url, "zone": "portal"}]
    lane2: dict[str, Any] = {
        "id": "lane2", "name": "Lane 2", "read_point_gln": "4012345000009", "default_direction": "inbound",
        "readers": [
            {"id": LLRP, "url": f"llrp://{LOOPBACK}:{site.llrp.port}?antennas=1,2,3,4&keepalive=1000&backoff=0.2,1",
             "antennas": {3: {"zone": "entry"}, 4: {"zone": "exit"}}},
            {"id": MERCURY, "url": f"mercury://{site.mercury.path}?baud=115200&region=EU&backoff=0.2&backoff_max=1",
             "antennas": {1: {"zone": "portal"}}},
        ],
    }
    engine = {"passage_quiet_s": 2.0, "depart_after_s": 1.5, "min_reads": 2, "update_interval_s": 1.0}
    engine.update(lane_engine or {})
    return {
        "site": SITE, "gateway": GATEWAY, "lanes": [lane1, lane2], "lane_engine": engine,
        "mqtt": {"url": mqtt_url, "qos": 1, "keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "api": {"bind": f"{LOOPBACK}:{api_port}", "tokens": [TOKEN]},
        "storage": {"path": str(storage)},
        "enrichment": {"border_office": "DE004056"},
    }


def load_demo_data(storage: Path, eta: float) -> dict[str, int]:
    """Parties, products and declarations of ``config/demo-data`` into the gateway's store, every ETA
    moved to ``eta`` (the data were written for 2025-03-01).  Returns the records loaded per kind."""
    storage.mkdir(parents=True, exist_ok=True)
    loaded: dict[str, int] = {}
    with Store.for_storage_dir(storage) as store:
        for what in ("parties", "products", "declarations", "movements"):
            records = json.loads((DEMO_DATA / f"{what}.json").read_text(encoding="utf-8"))
            when = datetime.fromtimestamp(eta, UTC).isoformat(timespec="seconds")
            for record in records:
                if what == "declarations":
                    record["activeTransport"]["eta"] = when
                elif what == "movements":
                    record["eta"] = when
            report = import_records(store, what, records)
            assert not report.errors, f"demo {what}: {report.summary()}"
            loaded[what] = len(records)
    return loaded


# -- the gateway --------------------------------------------------------------------------------


def gateway_command() -> list[str]:
    script = Path(sys.executable).with_name("border-gateway")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway"]


class GatewayProcess:
    """``border-gateway run --config FILE`` as a child process; its log goes to ``log_path``."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.api_port = int(str(config["api"]["bind"]).rsplit(":", 1)[1])
        self.config_path = workdir / "site.yaml"
        self.log_path = workdir / "gateway.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def api(self) -> str:
        return f"http://{LOOPBACK}:{self.api_port}"

    def start(self) -> GatewayProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([*gateway_command(), "--log-level", "INFO", "run", "--config",
                                         str(self.config_path)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                        env=env)
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def get(self, path: str, timeout: float = 5.0) -> Any:
        response = httpx.get(self.api + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float) -> None:
        """Poll ``predicate`` (exceptions count as "not yet") until it holds; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive(), f"the gateway exited ({self.exit_code()}) while waiting for {what}\n{self.log_tail()}"
            with contextlib.suppress(httpx.HTTPError, OSError, KeyError, ValueError):
                if predicate():
                    return
            time.sleep(0.1)
        raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}\n{self.log_tail()}")

    def sources(self) -> dict[str, dict[str, Any]]:
        return {s["id"]: s for s in self.get("/api/sources")}

    def wait_sources(self, states: Mapping[str, str], timeout: float = 60.0) -> None:
        def ok() -> bool:
            now = self.sources()
            return all(now[sid]["state"] == state for sid, state in states.items())
        self.wait_for(f"sources {dict(states)}", ok, timeout)

    def outbox_depth(self) -> int:
        return int(self.get("/api/outbox")["depth"])

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in memory is gone."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.exit_code()
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no gateway log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "--- gateway log (tail) ---\n" + "\n".join(text[-lines:])


# -- what the gateway says ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChange:
    at: float  # time.time() when the test saw it
    source: str
    state: str
    detail: str


@dataclass
class SourceWatch:
    """Every source status change the gateway broadcasts on ``/api/events``, in order."""

    gateway: GatewayProcess
    changes: list[StatusChange] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _open: threading.Event = field(default_factory=threading.Event)
    _client: httpx.Client | None = None

    def start(self) -> SourceWatch:
        self._thread = threading.Thread(target=self._run, name="e2e-sse", daemon=True)
        self._thread.start()
        assert self._open.wait(10), "could not open /api/events"
        return self

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        timeout = httpx.Timeout(5.0, read=15.0)  # the server sends a keepalive comment every 10 s
        # Closed by stop(): an open event stream would hold up the gateway's shutdown.
        self._client = httpx.Client(timeout=timeout)
        with contextlib.suppress(httpx.HTTPError, OSError, RuntimeError), \
                self._client.stream("GET", self.gateway.api + "/api/events", headers=headers) as response:
            self._open.set()
            event = ""
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "source":
                    data = json.loads(line[5:])["data"]
                    with self._lock:
                        self.changes.append(StatusChange(time.time(), data["id"], data["state"], data["detail"]))

    def of(self, source: str, since: float = 0.0) -> list[StatusChange]:
        with self._lock:
            return [c for c in self.changes if c.source == source and c.at >= since]

    def wait(self, source: str, state: str, since: float, timeout: float) -> StatusChange:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for change in self.of(source, since):
                if change.state == state:
                    return change
            time.sleep(0.05)
        raise AssertionError(f"{source} never went {state!r} within {timeout:.0f} s; seen: "
                             f"{[(c.state, c.detail) for c in self.of(source, since)]}")

    def stop(self) -> None:
        self._stop.set()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        if self._thread is not None:
            self._thread.join(5.0)


# -- the consumers ------------------------------------------------------------------------------


def consumer(host: str, port: int, topic: str, client_id: str) -> Subscriber:
    """A persistent-session MQTT 5 subscriber that reconnects within a second of the broker."""
    return Subscriber(host, port, topic, client_id=client_id, persistent=True,
                      configure=lambda client: client.reconnect_delay_set(0.2, 1)).start()


@dataclass(frozen=True, slots=True)
class Msg:
    topic: str
    body: dict[str, Any]
    user: dict[str, str]  # MQTT 5 user properties (schema, audience, gw, ce_id ...)

    @property
    def id(self) -> str:
        return str(self.body.get("id"))

    @property
    def data(self) -> dict[str, Any]:
        data = self.body.get("data", {})
        return data if isinstance(data, dict) else {}


def decode(received: Iterable[Received]) -> list[Msg]:
    """Non-empty JSON messages (an empty retained publish is a deletion, not a message)."""
    out = []
    for r in received:
        if not r.payload:
            continue
        user = dict(getattr(r.props, "UserProperty", []) or [])
        out.append(Msg(r.topic, json.loads(r.payload), user))
    return out


def kind(topic: str) -> str:
    """``bx/v1/customs/{site}/{gw}/enriched/lane1`` -> ``customs/enriched``."""
    parts = topic.split("/")
    return f"{parts[2]}/{parts[5]}" if len(parts) > 5 else "/".join(parts[2:])


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, gateway: GatewayProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = "" if gateway is None else "\n" + gateway.log_tail()
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}{tail}")


# -- a convoy for the fault tests --------------------------------------------------------------


@dataclass(frozen=True)
class Convoy:
    """Trucks at ``starts`` (scenario seconds), alternating lane 1 (LLRP antennas 1-2) and lane 2
    (LLRP antennas 3-4 and the Mercury module), each carrying two SSCCs of its own and heard weakly
    by the other lane's entry antenna.  None is declared: each passage is enriched with
    ``NO_DECLARATION``, which still makes one enriched record per truck to count."""

    starts: tuple[float, ...]
    first_serial: int = 900_000

    def lane(self, truck: int) -> str:
        return "lane1" if truck % 2 == 0 else "lane2"

    def ssccs(self, truck: int) -> tuple[str, str]:
        from tests.enrichment.helpers import sscc

        return sscc(self.first_serial + 2 * truck), sscc(self.first_serial + 2 * truck + 1)

    def identifiers(self, truck: int) -> frozenset[str]:
        return frozenset(f"https://id.gs1.org/00/{s}" for s in self.ssccs(truck))

    def scenario(self) -> Scenario:
        from simulators.scenario import load_scenario_dict

        trucks = []
        for i, start in enumerate(self.starts):
            lane1 = self.lane(i) == "lane1"
            truck: dict[str, Any] = {
                "name": f"convoy {i}", "lane": self.lane(i), "reader": LLRP, "antennas": [1, 2] if lane1 else [3, 4],
                "start": start, "tags": [f"(00){s}" for s in self.ssccs(i)],
                "cross_reads": [{"reader": LLRP, "antennas": [3] if lane1 else [1], "peak_rssi": -74}],
            }
            if not lane1:
                truck["also_read_by"] = [{"reader": MERCURY, "antennas": [1], "peak_rssi": -50}]
            trucks.append(truck)
        return load_scenario_dict({"company_prefix_length": 7, "trucks": trucks})

    def truck_of(self, identifiers: Iterable[str]) -> int | None:
        """The truck whose tags these are (exactly), else ``None``."""
        wanted = frozenset(identifiers)
        for i in range(len(self.starts)):
            if self.identifiers(i) == wanted:
                return i
        return None


def epcis_identifiers(m: Msg) -> frozenset[str]:
    """The identifiers of an observation or enriched record (its ObjectEvent's epcList and classes)."""
    obj = m.data["observation"]["epcis"]["epcisBody"]["eventList"][0]
    return frozenset(obj.get("epcList", [])) | {q["epcClass"] for q in obj.get("quantityList", [])}


@dataclass
class Ledger:
    """The enriched records a consumer received, grouped by passage, for loss and duplicate counts."""

    messages: list[Msg]

    @property
    def by_passage(self) -> dict[str, list[Msg]]:
        out: dict[str, list[Msg]] = {}
        for m in self.messages:
            out.setdefault(str(m.data["passage"]["id"]), []).append(m)
        return out

    def trucks(self, convoy: Convoy) -> dict[int, str]:
        """truck -> passage id; fails on a passage that is not exactly one truck's tags."""
        out: dict[int, str] = {}
        for pid, copies in self.by_passage.items():
            seen = epcis_identifiers(copies[0])
            truck = convoy.truck_of(seen)
            assert truck is not None, f"passage {pid} is no truck's exact tag set: {sorted(seen)}"
            assert truck not in out, f"truck {truck} made two passages ({out[truck]}, {pid})"
            out[truck] = pid
        return out

    def duplicates(self) -> int:
        """Extra copies received; fails unless every copy of a passage's record has the same id and bytes."""
        extra = 0
        for pid, copies in self.by_passage.items():
            ids = {m.id for m in copies}
            assert len(ids) == 1, f"passage {pid}: {len(copies)} records with different ids {sorted(ids)}"
            assert all(m.body == copies[0].body for m in copies), f"passage {pid}: same id, different content"
            extra += len(copies) - 1
        return extra


def outbox_rows(storage: Path) -> list[tuple[int, str, bytes]]:
    """(row id, topic, payload) of every message still in the outbox file (the gateway must be dead)."""
    import sqlite3

    db = sqlite3.connect(storage / "outbox.sqlite")
    try:
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in db.execute("SELECT id, topic, payload FROM outbox "
                                                                         "ORDER BY id")]
    finally:
        db.close()
