"""An independent LLRP client (sllurp, GPL, test-only: never imported by product code) reads tags from our
simulator over real TCP."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from simulators.llrp_sim import LLRPReaderSimulator
from simulators.tag_world import TagWorld

sllurp_llrp = pytest.importorskip("sllurp.llrp", reason="sllurp is not installed")

pytestmark = pytest.mark.interop


class SimThread:
    """Our asyncio simulator on a loop of its own (sllurp is threaded and blocking)."""

    def __init__(self, world: TagWorld) -> None:
        self.world = world
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop_event: asyncio.Event | None = None
        self.sim: LLRPReaderSimulator | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self.stop_event = asyncio.Event()
            async with LLRPReaderSimulator(self.world, "r") as sim:
                self.sim = sim
                self.ready.set()
                await asyncio.wait_for(self.stop_event.wait(), 60)

        self.loop.run_until_complete(run())

    def __enter__(self) -> LLRPReaderSimulator:
        self.thread.start()
        assert self.ready.wait(10)
        assert self.sim is not None
        return self.sim

    def __exit__(self, *_a: Any) -> None:
        assert self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)


def test_sllurp_receives_tag_reports_from_our_simulator() -> None:
    world = TagWorld.steady("r", tags=5, rate=200.0)
    with SimThread(world) as sim:
        host, port = sim.address
        got: list[dict[str, Any]] = []
        enough = threading.Event()

        def on_tags(_reader: Any, tags: list[dict[str, Any]]) -> None:
            got.extend(tags)
            if len(got) >= 20:
                enough.set()

        config = sllurp_llrp.LLRPReaderConfig({"antennas": [1], "report_every_n_tags": 1,
                                               "tx_power": 0, "keepalive_interval": 1000})
        client = sllurp_llrp.LLRPReaderClient(host, port, config)
        client.add_tag_report_callback(on_tags)
        client.connect()
        try:
            assert enough.wait(15), f"sllurp got {len(got)} tags; simulator saw {sim.received}"
        finally:
            client.disconnect(timeout=5)
        epcs = {t.get("EPC-96") or t.get("EPC") for t in got}
        expected = {bytes(t.epc_hex, "ascii") for t in world.tracks}
        assert epcs <= expected and len(epcs) >= 2
        assert {"GET_READER_CAPABILITIES", "ADD_ROSPEC", "ENABLE_ROSPEC"} <= set(sim.received)
        assert any(t.get("AntennaID") == 1 or t.get("ChannelIndex") for t in got)
