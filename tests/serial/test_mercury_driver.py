"""The Mercury driver against the Mercury simulator over real pseudo-terminals (and TCP)."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from drivers.mercury import commands as cmd
from drivers.mercury.frames import Frame
from simulators.mercury_sim import MercuryReader, MercurySimulator
from simulators.tag_world import TagTrack, TagWorld, synthetic_sgtin96
from tests.serial.helpers import Collector, async_test

pytestmark = pytest.mark.timeout(60)

EPC_A = "3074257bf7194e4000001a85"  # SGTIN-96, TDS example
EPC_RAW = "e2801160600002054cc2096f"  # not a GS1 EPC header (TID-like): must still be delivered


def world() -> TagWorld:
    return TagWorld([
        TagTrack("reader-1", 1, EPC_A, 0.0, 600.0, 300.0, -50.0, rate_hz=40.0, width_s=1e9),
        TagTrack("reader-1", 2, EPC_A, 0.0, 600.0, 300.0, -60.0, rate_hz=40.0, width_s=1e9),
        TagTrack("reader-1", 2, EPC_RAW, 0.0, 600.0, 300.0, -65.0, rate_hz=20.0, width_s=1e9),
    ], seed=3)


def connects(col: Collector) -> int:
    """Real connections (fault notes also carry state 'connected')."""
    return sum(s.state == "connected" and "skipped" not in s.detail for s in col.statuses)


def notes(col: Collector) -> str:
    return " ".join(s.detail for s in col.statuses)


def url(sim: MercurySimulator, extra: str = "") -> str:
    return f"mercury://{sim.path}?region=EU&power=2500&antennas=1,2&silence=1&backoff=0.05&backoff_max=0.2{extra}"


@async_test
async def test_init_sequence_and_streaming() -> None:
    with MercurySimulator(world()) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: len({r.channel for r in c.reads}) == 2 and len(c.reads) > 20)
        ops = [f.opcode for f in sim.model.commands_seen]
        # stop any old stream (+ a version probe to drain), version, protocol, region, antennas, power,
        # read filter off, start continuous; then the stop sent by close()
        assert ops == [0x2F, 0x03, 0x03, 0x93, 0x97, 0x91, 0x92, 0x9A, 0x2F, 0x2F]
        seen = sim.model.commands_seen
        assert seen[0].data == seen[-1].data == bytes.fromhex("000002")
        assert seen[-2].data == cmd.start_continuous_read().data
        state = sim.model.state
        assert (state.region, state.power, state.antennas) == (cmd.Region.EU, 2500, (1, 2))
        assert state.streaming is None  # close() stopped the continuous read
    assert col.states()[0] == "connected" and col.states()[-1] == "stopped"
    good = [r for r in col.reads if r.raw == EPC_A]
    raw = [r for r in col.reads if r.raw == EPC_RAW]
    assert good and raw
    r = good[0]
    assert r.carrier == "rfid" and r.source == "t1" and r.pc == 0x3000
    assert r.identifier is not None and r.identifier.key == "80614141123458.6789" and r.scheme == "sgtin-96"
    assert r.rssi_dbm is not None and -70 <= r.rssi_dbm <= -40
    assert r.frequency_khz in {865_700, 866_300, 866_900, 867_500}
    assert r.source_time is not None and abs(r.source_time - r.host_time) < 5
    assert r.count == 1 and "reader_ms" in r.extra
    assert raw[0].identifier is None and raw[0].error  # delivered raw, with the reason
    assert {x.antenna for x in col.reads} == {1, 2}


@async_test
async def test_garbage_and_crc_errors_are_reported_and_skipped() -> None:
    with MercurySimulator(world()) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: len(c.reads) > 5)
            sim.garbage(b"\x00\x13\x37garbage\xff\x07")
            sim.corrupt_crc(3)
            before = len(col.reads)
            await col.wait_for(lambda c: len(c.reads) > before + 20 and "crc error" in notes(c))
        details = " ".join(s.detail for s in col.statuses)
        assert "crc error(s)" in details and "garbage" in details
        assert "reconnecting" not in col.states()


@async_test
async def test_status_frames_temperature_and_return_loss() -> None:
    with MercurySimulator(world()) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: len(c.reads) > 3)
            sim.status(cmd.STATUS_HIGH_RETURN_LOSS)
            await col.wait_for(lambda c: any(s.state == "error" and "0x0505" in s.detail for s in c.statuses))
            await col.wait_for(lambda c: c.statuses[-1].state == "connected")  # reads resume: cleared
            sim.status(cmd.STATUS_TEMPERATURE)
            await col.wait_for(lambda c: any("temperature" in s.detail for s in c.statuses))


@async_test
async def test_keepalive_keeps_an_empty_field_alive() -> None:
    empty = TagWorld([], duration=600.0)
    with MercurySimulator(empty) as sim:
        async with Collector(url(sim, "&on_time=200")) as col:
            await col.wait_for(lambda c: "connected" in c.states())
            await asyncio.sleep(1.6)  # longer than silence=1: the 0x0400 frames must keep it connected
        assert "reconnecting" not in col.states() and not col.reads


@async_test
async def test_stalled_line_reconnects() -> None:
    with MercurySimulator(world()) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: len(c.reads) > 3)
            sim.stall(1.5)
            await col.wait_for(lambda c: "reconnecting" in c.states(), timeout=10)
            n = len(col.reads)
            await col.wait_for(lambda c: connects(c) >= 2 and len(c.reads) > n + 5, timeout=15)
        stalled = [s for s in col.statuses if s.state == "reconnecting"]
        assert "no data" in stalled[0].detail and stalled[0].attempt >= 1


@async_test
async def test_unplug_and_replug_reconnects_with_backoff() -> None:
    with MercurySimulator(world()) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: len(c.reads) > 3)
            sim.unplug()
            await col.wait_for(lambda c: c.states().count("reconnecting") >= 3)  # several backoff attempts
            attempts = [s.attempt for s in col.statuses if s.state == "reconnecting"]
            assert attempts == sorted(attempts) and attempts[0] == 1
            sim.replug()
            n = len(col.reads)
            await col.wait_for(lambda c: connects(c) == 2 and len(c.reads) > n + 10, timeout=15)
        # the new pty (a power-cycled reader) got a full init sequence
        assert [f.opcode for f in sim.model.commands_seen].count(0x97) >= 2


@async_test
async def test_burst_is_delivered_completely() -> None:
    with MercurySimulator(TagWorld([], duration=600.0)) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: "connected" in c.states())
            await asyncio.sleep(0.1)
            sim.burst(2000)
            await col.wait_for(lambda c: len(c.reads) >= 2000, timeout=20)
        serials = [int(r.raw, 16) & ((1 << 38) - 1) for r in col.reads]
        assert serials == list(range(2000))
        assert col.reads[0].raw == synthetic_sgtin96(0)


@async_test
async def test_command_error_status_is_reported() -> None:
    with MercurySimulator(world()) as sim:
        async with Collector(url(sim, "&power=3500")) as col:  # above the module's 30 dBm
            await col.wait_for(lambda c: any(s.state == "error" for s in c.statuses))
        err = next(s for s in col.statuses if s.state == "error")
        assert "0x0103" in err.detail and "POWER_TOO_HIGH" in err.detail
        assert not col.reads


@async_test
async def test_sequence_mode_is_lossless() -> None:
    with MercurySimulator(None, sequence_rate=2000.0) as sim:
        async with Collector(url(sim)) as col:
            await col.wait_for(lambda c: len(c.reads) >= 1500, timeout=20)
        serials = [int(r.raw, 16) & ((1 << 38) - 1) for r in col.reads]
        assert serials == list(range(len(serials)))


class TcpMercury:
    """The same device model behind a loopback TCP socket (the mercury://host:port form)."""

    def __init__(self) -> None:
        self.model = MercuryReader(world(), "reader-1")
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        import time

        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            conn.settimeout(0.01)
            t0 = time.monotonic()
            last = 0.0
            with conn:
                while not self.stop.is_set():
                    now = time.monotonic() - t0
                    try:
                        data = conn.recv(4096)
                        if not data:
                            break
                        conn.sendall(self.model.receive(data, now))
                    except TimeoutError:
                        pass
                    except OSError:
                        break
                    try:
                        conn.sendall(self.model.stream(last, now))
                    except OSError:
                        break
                    last = now

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


@async_test
async def test_tcp_socket_url() -> None:
    server = TcpMercury()
    try:
        async with Collector(f"mercury://127.0.0.1:{server.port}?region=EU&antennas=1,2&silence=2") as col:
            await col.wait_for(lambda c: len(c.reads) > 10)
        assert col.reads[0].identifier is not None or col.reads[0].error
        assert server.model.state.region == cmd.Region.EU
    finally:
        server.close()


def test_simulator_answers_unknown_opcode_with_status() -> None:
    model = MercuryReader(None, "r")
    from drivers.mercury.frames import FrameDecoder

    (reply,) = FrameDecoder().feed(model.receive(Frame(0x55, b"").encode(), 0.0))
    assert isinstance(reply, Frame) and reply.status == 0x0101
