"""ASCII-line readers: formats, line splitting, and the driver against the simulator over real ptys."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ascii_serial import LineError, LineSplitter, compile_pattern, parse_line
from simulators.ascii_sim import AsciiSimulator
from simulators.tag_world import TagTrack, TagWorld
from tests.serial.helpers import Collector, async_test

pytestmark = pytest.mark.timeout(60)
SAMPLES = json.loads((Path(__file__).parents[1] / "fixtures" / "serial" / "ascii_samples.json").read_text())
EPC_A = "3074257bf7194e4000001a85"


@pytest.mark.parametrize("fmt", ["hex", "alien", "rifidi"])
def test_format_samples(fmt: str) -> None:
    for line, expected in SAMPLES[fmt]:
        got = parse_line(line.encode(), fmt)
        if expected is None:
            assert got is None
            continue
        assert got is not None
        for key, value in expected.items():
            assert getattr(got, key) == value, (line, key)


@pytest.mark.parametrize("fmt", ["hex", "alien", "rifidi"])
def test_garbage_lines_raise_typed_error(fmt: str) -> None:
    for line in SAMPLES["garbage"]:
        with pytest.raises(LineError):
            parse_line(line.encode(), fmt)


def test_user_regex() -> None:
    pattern = compile_pattern(r"^(?P<timestamp_ms>\d+);(?P<epc>[0-9A-F]+);(?P<antenna>\d);(?P<rssi>-?\d+)$")
    got = parse_line(b"1714557600250;3074257BF7194E4000001A85;3;-58", "regex", pattern)
    assert got is not None and (got.epc_hex, got.antenna, got.rssi_dbm, got.source_time) == (
        EPC_A, 3, -58.0, 1714557600.25)
    with pytest.raises(LineError):
        compile_pattern(r"(?P<tag>.*)")  # no epc group
    with pytest.raises(LineError):
        parse_line(b"nope", "regex", pattern)


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
@settings(max_examples=100)
@given(cuts=st.lists(st.integers(0, 200), max_size=12))
def test_any_segmentation_and_line_ending(ending: bytes, cuts: list[int]) -> None:
    lines = [b"AAAA", b"BBBB01", b"CC", b"DDDDDD"]
    stream = b"".join(line + ending for line in lines)
    points = sorted({min(c, len(stream)) for c in cuts})
    splitter = LineSplitter()
    got: list[bytes] = []
    for a, b in zip([0, *points], [*points, len(stream)], strict=True):
        got += splitter.feed(stream[a:b])
    assert got == lines


def reconnected(col: Collector) -> bool:
    """A real 'connected' (detail = the port) after the first 'reconnecting'."""
    states = col.statuses
    first = next((i for i, s in enumerate(states) if s.state == "reconnecting"), None)
    return first is not None and any(s.state == "connected" and "skipped" not in s.detail for s in states[first:])


def world() -> TagWorld:
    return TagWorld([TagTrack("reader-1", 2, EPC_A, 0.0, 600.0, 300.0, -50.0, rate_hz=50.0, width_s=1e9)])


@pytest.mark.parametrize(("fmt", "ending"), [("hex", "\r\n"), ("alien", "\r"), ("rifidi", "\n")])
@async_test
async def test_driver_reads_each_format(fmt: str, ending: str) -> None:
    with AsciiSimulator(world(), fmt=fmt, ending=ending) as sim:
        async with Collector(f"serial-ascii://{sim.path}?format={fmt}&antenna=9") as col:
            await col.wait_for(lambda c: len(c.reads) >= 10)
    read = col.reads[0]
    assert read.raw == EPC_A and read.identifier is not None and read.identifier.key == "80614141123458.6789"
    assert read.channel == ("9" if fmt == "hex" else "2")
    if fmt != "hex":
        assert read.source_time is not None and abs(read.source_time - read.host_time) < 5


@async_test
async def test_garbage_partial_lines_burst_and_replug() -> None:
    with AsciiSimulator(world(), fmt="alien") as sim:
        async with Collector(f"serial-ascii://{sim.path}?format=alien&backoff=0.05&backoff_max=0.2") as col:
            await col.wait_for(lambda c: len(c.reads) >= 5)
            sim.garbage_line()
            sim.split_lines(3)
            await col.wait_for(lambda c: any("garbage line" in s.detail for s in c.statuses))
            n = len(col.reads)
            sim.burst(500)
            await col.wait_for(lambda c: len(c.reads) >= n + 500)
            sim.unplug()
            await col.wait_for(lambda c: "reconnecting" in c.states())
            sim.replug()
            n = len(col.reads)
            await col.wait_for(lambda c: reconnected(c) and len(c.reads) > n + 5)
    assert all(r.error is None for r in col.reads)  # split lines were re-assembled, not garbage
    assert col.source.garbage_lines >= 1  # type: ignore[attr-defined]  # + partial lines cut by the unplug


@async_test
async def test_stalled_line_with_silence_limit() -> None:
    with AsciiSimulator(world()) as sim:
        async with Collector(f"serial-ascii://{sim.path}?silence=0.5&backoff=0.05") as col:
            await col.wait_for(lambda c: len(c.reads) >= 3)
            sim.stall(1.0)
            await col.wait_for(lambda c: "reconnecting" in c.states())
            await col.wait_for(reconnected)


@async_test
async def test_tcp_socket_url_and_regex() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        # pyserial's socket:// open() flushes whatever arrived during the connect: let it finish
        threading.Event().wait(0.3)
        with conn:
            for i in range(20):
                conn.sendall(f"{i};{EPC_A.upper()};1\r".encode()[:7])
                conn.sendall(f"{i};{EPC_A.upper()};1\r".encode()[7:] + b"\n" + (b"junk\r\n" if i == 5 else b""))
            threading.Event().wait(3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    pattern = r"^\d+;(?P<epc>[0-9A-F]{24});(?P<antenna>\d)$".replace("+", "%2B").replace(";", "%3B")
    try:
        async with Collector(f"serial-ascii://127.0.0.1:{port}?format=regex&pattern={pattern}") as col:
            await col.wait_for(lambda c: len(c.reads) >= 20 and any("garbage" in s.detail for s in c.statuses))
    finally:
        server.close()
    assert {r.raw for r in col.reads} == {EPC_A} and {r.channel for r in col.reads} == {"1"}
