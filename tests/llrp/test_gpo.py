"""General-purpose outputs (issue #18 item 3, LLRP part): SET_READER_CONFIG / GPOWriteData byte for byte,
the client's writes over a real LLRP TCP connection to the simulator, and lane signal states shown on the
reader's outputs by :class:`~gateway.lane.gpo.GpoSignalSink` (steady lamps, a barrier pulse that returns
to off, rest at start-up and after a timeout, the outputs written again after a reader reboot)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.llrp.client import LLRPSessionError, LLRPSource
from drivers.llrp.errors import FieldValueError
from drivers.llrp.gpo import outputs_for
from drivers.llrp.messages import Message, decode_body, decode_message
from drivers.llrp.specs import gpo_write_data
from drivers.registry import open_source
from gateway.config import ConfigError, parse_config
from gateway.lane.gpo import GpoSignalSink, plan
from gateway.reads import SourceEvent, SourceStatus
from gateway.service.broker import LOOPBACK
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.tag_world import TagWorld
from tests.service.test_run_service import Service, _clear_retained, site_config

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llrp"


# -- the codec ------------------------------------------------------------------------------------

def test_set_reader_config_with_gpo_write_data_is_byte_exact() -> None:
    # Built by hand from the LLRP 1.1 layouts (virtual-border-loop.md §1, rfid.md): message header
    # rsvd 3 | version 3 | type 10 (SET_READER_CONFIG = 3), length u32, id u32; body ResetToFactoryDefault
    # bit + 7 reserved; GPOWriteData (219): TLV header (6 reserved bits, type 10, length u16 = 7),
    # GPO Port Number u16, GPO Data bit + 7 reserved.
    wire = bytes.fromhex("0403" "00000019" "00000005" "00"
                         "00db0007" "0001" "80"
                         "00db0007" "0002" "00")
    msg = Message.make("SET_READER_CONFIG", 5, *gpo_write_data({2: False, 1: True}), ResetToFactoryDefault=False)
    assert msg.encode() == wire
    back = decode_message(wire)
    assert back.name == "SET_READER_CONFIG"
    assert [(p.name, p.fields) for p in back.params] == [
        ("GPOWriteData", {"Port": 1, "Data": True}), ("GPOWriteData", {"Port": 2, "Data": False})]


def test_port_zero_is_refused_by_the_encoder() -> None:
    with pytest.raises(FieldValueError, match="port 0"):
        gpo_write_data({0: True})


def test_a_real_readers_gpo_write_data_decodes_and_reencodes() -> None:
    # GET_READER_CONFIG_RESPONSE captured from a real reader (tests/fixtures/llrp): four GPOWriteData, all low.
    body = (FIXTURES / "GetReaderConfigResponse-000.bytes").read_bytes()
    msg = decode_body(12, body)
    assert [(p.fields["Port"], p.fields["Data"]) for p in msg.all("GPOWriteData")] == [
        (1, False), (2, False), (3, False), (4, False)]
    assert msg.body() == body


# -- over a real LLRP connection ------------------------------------------------------------------

def url(sim: LLRPReaderSimulator) -> str:
    host, port = sim.address
    return f"llrp://{host}:{port}?backoff=0.05,0.2&timeout=2&keepalive=1000"


async def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


class Running:
    """An LLRP client consuming its events in a task (as the supervisor does)."""

    def __init__(self, source_id: str, sim: LLRPReaderSimulator) -> None:
        src = open_source(source_id, url(sim))
        assert isinstance(src, LLRPSource)
        self.src = src
        self.events: list[SourceEvent] = []
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.src.events():
            self.events.append(event)

    def connections(self) -> int:
        return sum(1 for e in self.events if isinstance(e, SourceStatus) and e.state == "connected")

    async def close(self) -> None:
        await self.src.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 5.0)


def test_client_writes_outputs_and_checks_the_readers_status() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 1, 5.0), "r") as sim:
            run = Running("gpo-client", sim)
            await wait_for(lambda: run.connections() >= 1)
            assert run.src.num_gpos == 4  # GPIOCapabilities
            await run.src.write_gpo({2: True, 4: True})
            assert sim.gpo == {1: False, 2: True, 3: False, 4: True}
            with pytest.raises(LLRPSessionError, match="P_FieldError no GPO port 9"):
                await run.src.write_gpo({1: True, 9: True})  # the whole message is refused
            assert sim.gpo == {1: False, 2: True, 3: False, 4: True}
            await run.src.write_gpo({2: False})  # the session goes on
            assert sim.gpo[2] is False and [(p, h) for _, p, h in sim.gpo_history] == [(2, True), (4, True), (2, False)]
            await run.close()
            with pytest.raises(LLRPSessionError, match="not connected"):
                await run.src.write_gpo({1: True})

    asyncio.run(main())


def test_simulator_reports_its_outputs_in_get_reader_config() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 1, 5.0), "r") as sim:
            run = Running("gpo-get", sim)
            await wait_for(lambda: run.connections() >= 1)
            await run.src.write_gpo({3: True})
            conn = run.src._conn
            assert conn is not None
            reply = await conn.request("GET_READER_CONFIG", timeout=2.0, AntennaID=0, RequestedData=10,
                                       GPIPortNum=0, GPOPortNum=0)
            assert [(p.fields["Port"], p.fields["Data"]) for p in reply.all("GPOWriteData")] == [
                (1, False), (2, False), (3, True), (4, False)]
            await run.close()

    asyncio.run(main())


def site(rest_after: float | None = None, **reader: Any) -> Any:
    return parse_config({"site": "s", "gateway": "g", "lanes": [{
        "id": "l1", "readers": [{"id": "gpo-lane", "url": "llrp://127.0.0.1:5084", "gpos": 4, **reader}],
        "gpo_rest_after_s": rest_after,
        "gpo": {"stop": [{"reader": "gpo-lane", "port": 1}],                      # red lamp
                "proceed": [{"reader": "gpo-lane", "port": 2},                   # green lamp
                            {"reader": "gpo-lane", "port": 3, "pattern": "pulse", "pulse_ms": 150}],  # barrier
                "inspection": [{"reader": "gpo-lane", "port": 1}, {"reader": "gpo-lane", "port": 4}]}}]})


STOP = {1: True, 2: False, 3: False, 4: False}
PROCEED = {1: False, 2: True, 3: False, 4: False}  # after the barrier pulse
INSPECTION = {1: True, 2: False, 3: False, 4: True}


def test_lane_states_on_the_readers_outputs_pulse_rest_and_reconnect() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 1, 5.0), "r") as sim:
            sink = GpoSignalSink(site())
            sink.start()  # before the reader connects: written once it does
            run = Running("gpo-lane", sim)
            await wait_for(lambda: sim.gpo == STOP)
            sink.signal("l1", "proceed")
            await wait_for(lambda: sim.gpo[2])
            await wait_for(lambda: sim.gpo == PROCEED)  # the barrier contact went back off after its pulse
            barrier = [h for _, p, h in sim.gpo_history if p == 3]
            assert barrier[-2:] == [True, False]
            assert sink.states["l1"] == "proceed"

            # A reboot sets every output low; the reconnecting client writes the lane's state again, and a
            # state asked while the reader is down is what it shows once back.
            before = run.connections()
            await sim.reboot()
            assert sim.gpo == {1: False, 2: False, 3: False, 4: False}
            sink.signal("l1", "inspection")
            await wait_for(lambda: run.connections() > before)
            await wait_for(lambda: sim.gpo == INSPECTION)

            sink.signal("l1", "stop")
            await wait_for(lambda: sim.gpo == STOP)
            sink.stop()
            await run.close()

    asyncio.run(main())


def test_a_state_returns_to_rest_after_the_timeout() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 1, 5.0), "r") as sim:
            sink = GpoSignalSink(site(rest_after=0.3))
            sink.start()
            run = Running("gpo-lane", sim)
            await wait_for(lambda: sim.gpo == STOP)
            sink.signal("l1", "inspection")
            await wait_for(lambda: sim.gpo == INSPECTION)
            await wait_for(lambda: sink.states["l1"] == "stop" and sim.gpo == STOP)
            sink.stop()
            await run.close()

    asyncio.run(main())


def test_a_newer_state_cancels_the_pending_pulse_end() -> None:
    writes: list[dict[int, bool]] = []
    outputs = outputs_for("gpo-plan-only")
    outputs.attach(writes.append)
    config = site()
    sink = GpoSignalSink(parse_config({**config.model_dump(mode="json"), "lanes": [{
        **config.lanes[0].model_dump(mode="json"), "readers": [{"id": "gpo-plan-only", "url": "llrp://127.0.0.1"}],
        "gpo": {"proceed": [{"reader": "gpo-plan-only", "port": 3, "pattern": "pulse", "pulse_ms": 10_000}]}}]}))
    sink.signal("l1", "proceed")
    sink.signal("l1", "proceed")  # a second vehicle cleared: the pulse starts again, the first one's end is void
    sink.stop()
    assert writes == [{3: True}, {3: True}]
    outputs.detach(writes.append)
    with pytest.raises(ValueError, match="unknown lane signal state"):
        sink.signal("l1", "green")


def test_plan_writes_every_lane_port_in_every_state() -> None:
    lane = site().lane("l1")
    assert {(w.port, w.high) for w in plan(lane, "refuse")} == {(1, False), (2, False), (3, False), (4, False)}


def test_config_check_names_the_bad_output() -> None:
    def problems(gpo: dict[str, Any]) -> str:
        with pytest.raises(ConfigError) as info:
            parse_config({"site": "s", "gateway": "g", "lanes": [{
                "id": "l1", "readers": [{"id": "r", "url": "llrp://10.0.0.5", "gpos": 3},
                                        {"id": "m", "url": "mercury:///dev/ttyUSB0"}], "gpo": gpo}]}, "site.yaml")
        return str(info.value)

    assert "lanes[0].gpo.proceed[0].reader: 'x' is not an LLRP reader of this site" in problems(
        {"proceed": [{"reader": "x", "port": 1}]})
    assert "lanes[0].gpo.proceed[0].reader: 'm' is not an LLRP reader" in problems(
        {"proceed": [{"reader": "m", "port": 1}]})
    assert "lanes[0].gpo.stop[1].port: port 4 is out of range: reader 'r' has 3 output(s)" in problems(
        {"stop": [{"reader": "r", "port": 1}, {"reader": "r", "port": 4}]})
    assert "lanes[0].gpo.stop[0].port: Input should be greater than or equal to 1" in problems(
        {"stop": [{"reader": "r", "port": 0}]})
    assert "lanes[0].gpo.green" in problems({"green": [{"reader": "r", "port": 1}]})
    assert "lanes[0].gpo.hold[0].pattern" in problems({"hold": [{"reader": "r", "port": 1, "pattern": "blink"}]})


def test_a_reload_applies_the_new_mapping_and_turns_a_removed_lanes_outputs_off() -> None:
    def config(lanes: list[dict[str, Any]]) -> Any:
        return parse_config({"site": "s", "gateway": "g", "lanes": lanes})

    reader = {"id": "gpo-reload", "url": "llrp://127.0.0.1"}
    lane1 = {"id": "l1", "readers": [reader], "gpo": {"stop": [{"reader": "gpo-reload", "port": 1}],
                                                      "proceed": [{"reader": "gpo-reload", "port": 2}]}}
    lane2 = {"id": "l2", "readers": [{**reader, "antennas": {2: {}}}],
             "gpo": {"hold": [{"reader": "gpo-reload", "port": 4}]}}
    outputs = outputs_for("gpo-reload")
    sink = GpoSignalSink(config([lane1, lane2]))
    sink.start()
    sink.signal("l1", "proceed")
    sink.signal("l2", "hold")
    assert outputs.levels() == {1: False, 2: True, 4: True}
    # Lane 1's green lamp moves from port 2 to port 3; lane 2 is removed: its amber lamp goes off.
    moved = {**lane1, "gpo": {"stop": [{"reader": "gpo-reload", "port": 1}],
                              "proceed": [{"reader": "gpo-reload", "port": 3}]}}
    sink.reconfigure(config([moved]))
    assert sink.states == {"l1": "proceed"}
    assert outputs.levels() == {1: False, 2: False, 3: True, 4: False}
    sink.stop()


def test_the_simulate_command_prints_each_output_change() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    sim = subprocess.Popen([sys.executable, "-m", "gateway.cli", "simulate", "rfid-llrp", "--host", "127.0.0.1",
                            "--port", "0", "--tags", "1", "--rate", "5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root)
    try:
        assert sim.stdout is not None
        host, port = sim.stdout.readline().strip().rsplit(":", 1)

        async def write() -> None:
            src = open_source("gpo-cli", f"llrp://{host}:{port}?timeout=3")
            assert isinstance(src, LLRPSource)
            events: list[SourceEvent] = []

            async def consume() -> None:
                async for event in src.events():
                    events.append(event)
            task = asyncio.create_task(consume())
            await wait_for(lambda: any(isinstance(e, SourceStatus) and e.state == "connected" for e in events))
            await src.write_gpo({2: True})
            await src.close()
            await asyncio.wait_for(task, 5.0)

        asyncio.run(write())
        assert sim.stdout.readline().strip() == "gpo 1=low 2=high 3=low 4=low"
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait(10)


def test_run_sets_every_lane_at_rest_on_the_readers_outputs(mqtt_broker: Any, tmp_path: Path) -> None:
    """``border-gateway run`` with ``lanes[].gpo``: once the reader connects, its outputs show ``stop``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gpo-run-sim", daemon=True)
    thread.start()
    sim = LLRPReaderSimulator(TagWorld.steady("gpo-run", 1, 5.0), "gpo-run")
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
    gateway = f"gw-gpo-{os.getpid()}"
    config = site_config(gateway, mqtt_broker, tmp_path / "data", [
        {"id": "gpo-run", "url": f"llrp://{LOOPBACK}:{sim.port}?antennas=1", "gpos": 4}])
    config["lanes"][0]["gpo"] = {"stop": [{"reader": "gpo-run", "port": 1}],
                                 "proceed": [{"reader": "gpo-run", "port": 2}]}
    service = Service(config, tmp_path).start()
    try:
        service.wait_until("the reader's outputs at rest (stop)", lambda: sim.gpo == {1: True, 2: False, 3: False,
                                                                                      4: False}, timeout=60)
        assert service.terminate() == 0, service.output()
    finally:
        service.kill()
        _clear_retained(mqtt_broker, gateway)
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
