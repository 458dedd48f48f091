"""General-purpose inputs over a real LLRP TCP connection: the client enables the configured GPI ports,
every edge arrives as a lane Trigger, and a GPI-gated ROSpec inventories only while the loop is occupied.

The simulator's GPIs are driven by hand (:meth:`LLRPReaderSimulator.set_gpi`) and by a scenario's loop
timeline (``loops:`` of a truck, played on the scenario clock)."""

from __future__ import annotations

import asyncio
import time

from drivers.llrp.client import LLRPSource
from drivers.llrp.config import ClientConfig
from drivers.registry import open_source
from gateway.lane.triggers import Trigger
from gateway.reads import Read, SourceEvent, SourceStatus
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.scenario import load_scenario_dict
from simulators.tag_world import TagWorld


def url(sim: LLRPReaderSimulator, query: str) -> str:
    host, port = sim.address
    return f"llrp://{host}:{port}?backoff=0.05,0.2&timeout=2&keepalive=1000&{query}"


async def pump(src: LLRPSource, into: list[SourceEvent], until: object, timeout: float = 10.0) -> None:
    """Collect events into ``into`` until ``until(into)`` is true (bounded by ``timeout``)."""
    async def run() -> None:
        async for event in src.events():
            into.append(event)
            if until(into):  # type: ignore[operator]
                return
    await asyncio.wait_for(run(), timeout)


def connected(events: list[SourceEvent]) -> bool:
    return any(isinstance(e, SourceStatus) and e.state == "connected" for e in events)


def triggers(events: list[SourceEvent]) -> list[Trigger]:
    return [e for e in events if isinstance(e, Trigger)]


def test_enabled_ports_report_every_edge_as_a_trigger() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 2, 50.0), "r") as sim:
            src = open_source("gate-1", url(sim, "gpi=1,3"))
            assert isinstance(src, LLRPSource)
            events: list[SourceEvent] = []
            await pump(src, events, connected)
            assert sim.model.gpi_enabled == {1, 3}  # SET_READER_CONFIG with GPIPortCurrentState, GPIConfig on
            await sim.set_gpi(2, True)  # not enabled: the reader says nothing
            for port, high in ((1, True), (3, True), (1, False), (3, False)):
                await sim.set_gpi(port, high)
            await pump(src, events, lambda ev: len(triggers(ev)) >= 4)
            await src.close()
            got = [(t.source, t.port, t.active, t.kind) for t in triggers(events)]
            assert got == [("gate-1", 1, True, "gpi"), ("gate-1", 3, True, "gpi"), ("gate-1", 1, False, "gpi"),
                           ("gate-1", 3, False, "gpi")]
            first = triggers(events)[0]
            assert first.label == "gpi:gate-1:1" and first.source_time is not None
            assert abs(first.source_time - time.time()) < 60 and src.gpi_events == 4 and src.workarounds == {}

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_gpi_gated_rospec_reads_only_while_the_loop_is_occupied() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 4, 400.0), "r") as sim:
            src = open_source("gate-1", url(sim, "gpi_start=1&gpi_stop=1&gpi_timeout=60000"))
            assert isinstance(src, LLRPSource)
            events: list[SourceEvent] = []
            await pump(src, events, connected)
            spec = sim.model.rospecs[1234]
            assert spec.state.name == "INACTIVE"  # waiting for the loop: no START_ROSPEC, no GET_ROSPECS
            assert "START_ROSPEC" not in sim.received and "GET_ROSPECS" not in sim.received
            await asyncio.sleep(0.3)
            assert not any(isinstance(e, Read) for e in events) and sim.model.reads_generated == 0
            await sim.set_gpi(1, True)  # a truck drives onto the loop
            await pump(src, events, lambda ev: sum(isinstance(e, Read) for e in ev) >= 20)
            assert spec.state.name == "ACTIVE"
            await sim.set_gpi(1, False)  # ... and off it: the ROSpec stops, its last reads are flushed
            await pump(src, events, lambda ev: len(triggers(ev)) >= 2)
            assert spec.state.name == "INACTIVE"
            generated = sim.model.reads_generated
            await asyncio.sleep(0.3)
            assert sim.model.reads_generated == generated  # no inventory while the loop is free
            await src.close()
            assert [(t.port, t.active) for t in triggers(events)] == [(1, True), (1, False)]
            stop = spec.spec.first("ROBoundarySpec").first("ROSpecStopTrigger")  # type: ignore[union-attr]
            assert stop.first("GPITriggerValue").fields == {"Port": 1, "Event": False,  # type: ignore[union-attr]
                                                            "Timeout": 60000}

    asyncio.run(asyncio.wait_for(main(), 60))


def test_the_scenario_loops_drive_the_gpis_on_the_scenario_clock() -> None:
    scenario = load_scenario_dict({"trucks": [
        {"name": "untagged", "lane": "lane1", "reader": "r", "start": 0.3, "dwell": 0.6, "antennas": [1],
         "loops": {"reader": "r", "entry": 1, "exit": 2, "occupy_s": 0.2}}]})
    assert [(e.port, e.high) for e in scenario.gpi] == [(1, True), (1, False), (2, True), (2, False)]

    async def main() -> None:
        sim = LLRPReaderSimulator(scenario.world, "r", gpi=scenario.gpi)
        await sim.start(t0=asyncio.get_running_loop().time() + 0.5)  # the client connects before time 0
        src = open_source("lane1-rdr", url(sim, "gpi=1,2"))
        assert isinstance(src, LLRPSource)
        events: list[SourceEvent] = []
        try:
            await pump(src, events, lambda ev: len(triggers(ev)) >= 4)
        finally:
            await src.close()
            await sim.stop()
        got = triggers(events)
        assert [(t.port, t.active) for t in got] == [(1, True), (1, False), (2, True), (2, False)]
        assert got[2].host_time - got[0].host_time > 0.3  # the exit loop after the entry loop, as scheduled

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_reader_without_those_gpis_refuses_and_reads_go_on() -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(TagWorld.steady("r", 2, 100.0), "r") as sim:
            src = open_source("gate-1", url(sim, "gpi=7"))  # the simulated reader has 4 GPIs
            assert isinstance(src, LLRPSource)
            events: list[SourceEvent] = []
            await pump(src, events, lambda ev: sum(isinstance(e, Read) for e in ev) >= 5)
            await src.close()
            assert src.num_gpis == 4 and set(src.workarounds) == {"gpi_count", "gpi"}
            assert "no lane triggers" in src.workarounds["gpi"]

    asyncio.run(asyncio.wait_for(main(), 60))


def test_gpi_url_parameters_are_checked() -> None:
    import pytest

    from drivers.llrp.config import ConfigError

    for bad, why in (("gpi=0", "1..65535"), ("gpi=a", "not a GPI port"), ("gpi_stop=1", "needs gpi_start"),
                     ("gpi_start=1:up", "high or low"), ("gpi_start=1&gpi_timeout=-1", "0..4294967295")):
        with pytest.raises(ConfigError, match=why):
            ClientConfig.parse(f"llrp://h?{bad}")
