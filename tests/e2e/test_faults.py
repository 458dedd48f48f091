"""Fault survival of the whole service: broker outage, gateway crash, reader restarts, a frozen camera.

Each test runs ``border-gateway run`` as a child process against the simulators of
:mod:`tests.e2e.harness` and a Mosquitto of its own (``private_broker``), injects one fault in the
middle of a convoy of trucks, and counts what the pre-clearance system (a persistent-session MQTT
subscriber) received.  The trucks are spaced so that a fault never falls inside a truck's reads,
which makes the expected outcome exact: one enriched record per truck, no more, no less.
Everything is loopback; every wait is bounded (the whole module takes about four minutes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.publishing.publisher import Publisher
from gateway.service.broker import MosquittoBroker, free_port
from simulators.llrp_sim import Faults
from simulators.scenario import CameraAppearance, Scenario
from simulators.tag_world import TagWorld
from tests.e2e.harness import (
    CAMERA,
    LLRP,
    MERCURY,
    Convoy,
    GatewayProcess,
    Ledger,
    Msg,
    Site,
    SourceWatch,
    consumer,
    decode,
    outbox_rows,
    site_config,
    wait_until,
)
from tests.publishing.support import Subscriber

pytestmark = pytest.mark.slow  # run by ./run.sh test (addopts does not deselect it)

OK_STATES = frozenset({"connected", "ok", "online"})


@dataclass
class Rig:
    broker: MosquittoBroker
    site: Site
    gateway: GatewayProcess
    customs: Subscriber  # the pre-clearance system: bx/v1/# with a persistent session
    watch: SourceWatch
    storage: Path

    def messages(self) -> list[Msg]:
        return decode(list(self.customs.messages))

    def enriched(self) -> Ledger:
        return Ledger([m for m in self.messages() if "/enriched/" in m.topic])

    def wait_trucks(self, convoy: Convoy, trucks: int, timeout: float) -> Ledger:
        wait_until(f"enriched records of {trucks} trucks",
                   lambda: len(self.enriched().by_passage) >= trucks, timeout, self.gateway)
        time.sleep(1.0)  # late duplicates, if any, are part of what is counted
        return self.enriched()


@contextlib.contextmanager
def rig(tmp: Path, broker: MosquittoBroker, scenario: Scenario, *, llrp_faults: Faults | None = None,
        camera_options: dict[str, object] | None = None) -> Iterator[Rig]:
    site = Site(scenario, tmp / "site", llrp_faults=llrp_faults, camera_options=camera_options).start()
    gateway: GatewayProcess | None = None
    customs: Subscriber | None = None
    watch: SourceWatch | None = None
    try:
        customs = consumer(broker.host, broker.port, "bx/v1/#", f"fault-preclearance-{tmp.name}")
        config = site_config(site, mqtt_url=broker.url, storage=tmp / "data", api_port=free_port())
        gateway = GatewayProcess(config, tmp / "gateway").start()
        wanted = {LLRP: "connected", MERCURY: "connected"} | ({CAMERA: "connected"} if site.camera_url else {})
        gateway.wait_sources(wanted, timeout=60)
        watch = SourceWatch(gateway).start()
        yield Rig(broker, site, gateway, customs, watch, tmp / "data")
    finally:
        if watch is not None:
            watch.stop()
        if gateway is not None:
            gateway.stop()
        if customs is not None:
            customs.stop()
        site.stop()


def _closed_at(m: Msg) -> float:
    return datetime.fromisoformat(str(m.data["passage"]["closedAt"]).replace("Z", "+00:00")).timestamp()


def _in_lane_order(ledger: Ledger) -> None:
    """Per lane, the first copy of each record arrives in the order its passage closed."""
    seen: set[str] = set()
    by_lane: dict[str, list[float]] = {}
    for m in ledger.messages:
        if m.id in seen:
            continue
        seen.add(m.id)
        by_lane.setdefault(str(m.data["passage"]["lane"]), []).append(_closed_at(m))
    for lane, times in by_lane.items():
        assert times == sorted(times), f"{lane}: records out of passage order"


# -- (a) the broker stops for 30 s --------------------------------------------------------------


BROKER_DOWN_S = 30.0


def test_broker_stopped_for_30_s_mid_run_loses_no_enriched_record(
        private_broker: Callable[..., MosquittoBroker], tmp_path: Path) -> None:
    """Counts: 11 trucks, one every 5 s; the broker is stopped (SIGTERM) for 30 s from scenario
    second 16 while the gateway keeps working.  Asserted: the gateway reports not ready during
    the outage and holds messages in its outbox; afterwards the pre-clearance system has an
    enriched record for each of the 11 trucks (at least 5 of them closed during the outage), each
    passage's copies share one CloudEvents id and identical content, and each lane's records came
    in passage order."""
    convoy = Convoy(tuple(6.0 + 5.0 * i for i in range(11)))
    broker = private_broker()
    with rig(tmp_path, broker, convoy.scenario()) as r:
        r.site.sleep_until(16.0)
        broker.stop()
        down_at = time.time()
        r.site.sleep_until(16.0 + BROKER_DOWN_S - 1.0)
        ready = httpx.get(r.gateway.api + "/ready", timeout=5.0)
        waiting = r.gateway.outbox_depth()
        assert ready.status_code == 503 and ready.json()["mqtt_connected"] is False, ready.text
        assert waiting > 0, "nothing waited in the outbox during the outage"
        broker.start()
        up_at = time.time()
        ledger = r.wait_trucks(convoy, len(convoy.starts), timeout=convoy.starts[-1] - r.site.now() + 40)
        trucks = ledger.trucks(convoy)
        duplicates = ledger.duplicates()
        during = [m for m in ledger.messages if down_at <= _closed_at(m) < up_at]
        everyone = set(range(len(convoy.starts)))
        assert set(trucks) == everyone, f"missing trucks: {sorted(everyone - set(trucks))}"
        assert len({m.id for m in during}) >= 5, "the outage must cover several passages"
        _in_lane_order(ledger)
        assert r.gateway.alive()
    print(f"broker outage: {waiting} messages waited in the outbox, {len(trucks)}/{len(convoy.starts)} trucks "
          f"delivered, {len({m.id for m in during})} closed during the outage, {duplicates} duplicate copies (same id)")


# -- (b) the gateway is SIGKILLed and restarted --------------------------------------------------


def test_gateway_sigkilled_mid_run_replays_its_outbox_after_restart(
        private_broker: Callable[..., MosquittoBroker], tmp_path: Path) -> None:
    """Counts: 8 trucks, 4 before the crash and 4 after the restart.  The broker is stopped after the
    first truck's record went out, so the next 3 trucks' records are on disk, unsent, when the
    gateway gets SIGKILL (scenario second 31).  The outbox file is read while the gateway is dead:
    its enriched rows are counted.  Then the broker and the gateway (same site file, same storage
    directory) start again.  Asserted: every enriched row that was on disk at the kill arrives with
    the same CloudEvents id, all 8 trucks have exactly one passage and one record id, duplicates
    carry the same id and content."""
    convoy = Convoy((6.0, 11.0, 16.0, 21.0, 40.0, 45.0, 50.0, 55.0))
    broker = private_broker()
    with rig(tmp_path, broker, convoy.scenario()) as r:
        wait_until("the first truck's record", lambda: len(r.enriched().by_passage) >= 1, 20, r.gateway)
        r.site.sleep_until(14.0)
        broker.stop()
        before_kill = r.enriched()
        wait_until("passages of the first 4 trucks", lambda: len(r.gateway.get("/api/passages")) >= 4, 25, r.gateway)
        r.site.sleep_until(31.0)
        r.gateway.kill()
        rows = outbox_rows(r.storage)
        on_disk = {json_id(payload) for _, topic, payload in rows if "/enriched/" in topic}
        delivered = {m.id for m in before_kill.messages}
        assert len(on_disk) == 3 and not on_disk & delivered, (len(on_disk), len(delivered))
        broker.start()
        r.gateway.start()
        r.gateway.wait_sources({LLRP: "connected", MERCURY: "connected"}, timeout=60)
        assert r.site.now() < 39.0, "the gateway restarted too late for the next truck"
        ledger = r.wait_trucks(convoy, len(convoy.starts), timeout=convoy.starts[-1] - r.site.now() + 30)
        trucks = ledger.trucks(convoy)
        duplicates = ledger.duplicates()
        received = {m.id for m in ledger.messages}
        assert on_disk <= received, f"lost after restart: {sorted(on_disk - received)}"
        assert sorted(trucks) == list(range(len(convoy.starts))), sorted(trucks)
        _in_lane_order(ledger)
    print(f"gateway SIGKILL: {len(rows)} outbox rows on disk at the kill ({len(on_disk)} enriched), all replayed "
          f"with the same ids; 8/8 trucks delivered, {duplicates} duplicate copies (same id)")


def json_id(payload: bytes) -> str:
    import json

    return str(json.loads(payload)["id"])


# -- (c) an LLRP reader restarts, a serial reader is unplugged -----------------------------------


def _mqtt_source_states(messages: list[Msg], source: str) -> list[str]:
    """The states of ``source`` the gateway published on MQTT, in order, whatever the payload
    shape (a source topic, or a ``sources`` list or map in the status payload)."""
    states: list[str] = []

    def walk(value: Any, key: str | None = None) -> None:
        if isinstance(value, dict):
            name = value.get("source", value.get("id", key))
            if name == source and isinstance(value.get("state"), str):
                states.append(value["state"])
                return
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for m in messages:
        if "/ops/" not in m.topic:
            continue
        if m.topic.endswith("/" + source):  # .../source/{id}: the topic names the source
            state = m.body.get("state", m.data.get("state"))
            if isinstance(state, str):
                states.append(state)
        elif "/status" in m.topic or "/source" in m.topic:
            walk(m.body)
    return states


def test_llrp_reader_restart_and_serial_unplug_then_reads_resume(
        private_broker: Callable[..., MosquittoBroker], tmp_path: Path) -> None:
    """Counts: 5 trucks; at scenario second 24, between trucks, the LLRP reader reboots (connection
    dropped, ROSpec forgotten, port refusing for 3 s) and the Mercury module is unplugged for 3 s.
    Asserted from the gateway's source events (``/api/events``): each source leaves ``connected``
    and comes back; from its counters: each source read more tags after coming back; from MQTT:
    the 2 trucks after the faults (one per lane) have passages with exactly their tags, and all
    5 trucks have one record each.  When the gateway publishes source states on MQTT (the
    ``sources`` of the retained status, or a source topic), each source's published states must go
    ok, then not ok, then ok again; until then ``/api/events`` is the only evidence."""
    convoy = Convoy((6.0, 11.0, 16.0, 36.0, 41.0))
    broker = private_broker()
    with rig(tmp_path, broker, convoy.scenario(), llrp_faults=Faults(reboot_s=3.0)) as r:
        assert r.site.llrp is not None and r.site.mercury is not None
        r.site.sleep_until(24.0)
        fault_at = time.time()
        r.site.run(r.site.llrp.reboot())
        r.site.mercury.unplug()
        r.site.sleep_until(27.0)
        r.site.mercury.replug()
        back: dict[str, float] = {}
        for source in (LLRP, MERCURY):
            degraded = next((c for c in r.watch.of(source, fault_at) if c.state not in OK_STATES), None)
            if degraded is None:
                degraded = r.watch.wait(source, "reconnecting", fault_at, timeout=10)
            back[source] = r.watch.wait(source, "connected", degraded.at, timeout=20).at
        reads_back = {sid: s["reads"] for sid, s in r.gateway.sources().items()}
        ledger = r.wait_trucks(convoy, len(convoy.starts), timeout=convoy.starts[-1] - r.site.now() + 30)
        trucks = ledger.trucks(convoy)
        reads_end = {sid: s["reads"] for sid, s in r.gateway.sources().items()}
        assert sorted(trucks) == list(range(5)), sorted(trucks)
        assert ledger.duplicates() == 0
        for sid in (LLRP, MERCURY):
            assert reads_end[sid] > reads_back[sid], f"{sid}: no reads after it came back ({reads_back}, {reads_end})"
        assert r.site.llrp.reboots == 1 and r.site.llrp.connections >= 2, (r.site.llrp.reboots,
                                                                           r.site.llrp.connections)
        assert r.site.mercury.unplugs == 1
        transitions = {sid: [c.state for c in r.watch.of(sid, fault_at)] for sid in (LLRP, MERCURY)}
        published = {sid: _mqtt_source_states(r.messages(), sid) for sid in (LLRP, MERCURY)}
        for sid, states in published.items():
            # Source status on MQTT, required since the publisher carries it: ok, then not ok, then ok again.
            assert states or not hasattr(Publisher, "publish_source_status"), f"{sid}: no source state on MQTT"
            if states:
                first_ok = next((i for i, s in enumerate(states) if s in OK_STATES), len(states))
                fault_seen = any(s not in OK_STATES for s in states[first_ok:])
                assert fault_seen and states[-1] in OK_STATES, f"{sid} on MQTT: {states}"
    summary = {sid: f"{len(states) - 1} x {states[0]} then {states[-1]}" for sid, states in transitions.items()}
    print(f"reader faults: {summary}; reads at the end {reads_end}; MQTT source states "
          f"{published if any(published.values()) else 'not published (checked on /api/events instead)'}")


# -- (d) a camera stream freezes ------------------------------------------------------------------


def test_camera_stall_is_detected_by_the_frame_age_watchdog_and_reconnected(
        private_broker: Callable[..., MosquittoBroker], tmp_path: Path) -> None:
    """Counts: the lane 1 camera freezes after every 25 frames (5 s at 5 fps) of a connection, as a
    hung RTSP stream does (``read()`` blocks, no error).  A new label (another serial) shows every
    1.5 s.  Asserted over 22 s: the frame-age watchdog (1 s) reported at least 2 stalls
    (``reconnecting``, "stalled: no frame for ...") each followed by ``connected``, and the camera
    delivered new barcode reads after the last reconnect."""
    appearances = tuple(CameraAppearance(1.0 + 1.5 * i, 2.5 + 1.5 * i,
                                         (("datamatrix", f"(01)04012345000016(21){7000 + i}"),)) for i in range(40))
    scenario = Scenario(TagWorld([]), (), appearances, None)
    broker = private_broker()
    options = {"stall_after": 25, "stall": 1.0, "backoff": 0.2, "backoff_cap": 0.5}
    with rig(tmp_path, broker, scenario, camera_options=options) as r:
        started = time.time()
        stalls: list[float] = []

        def two_recoveries() -> bool:
            changes = r.watch.of(CAMERA, started)
            stalls[:] = [c.at for c in changes if c.state == "reconnecting" and "stalled" in c.detail]
            return len(stalls) >= 2 and any(c.state == "connected" and c.at > stalls[1] for c in changes)

        wait_until("two stalls of the camera, each detected and reconnected", two_recoveries, 30, r.gateway)
        reads_at_reconnect = r.gateway.sources()[CAMERA]["reads"]
        wait_until("a camera read after the second reconnect",
                   lambda: r.gateway.sources()[CAMERA]["reads"] > reads_at_reconnect, 10, r.gateway)
        changes = [(c.state, c.detail) for c in r.watch.of(CAMERA, started)]
        for i, (state, _detail) in enumerate(changes):
            if state == "reconnecting":
                assert ("connected", "") in changes[i + 1:] or i == len(changes) - 1, changes
        final = r.gateway.sources()[CAMERA]
    print(f"camera stall: {len(stalls)} stalls detected and reconnected; {final['reads']} reads; changes {changes}")
