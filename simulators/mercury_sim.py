"""A ThingMagic Mercury reader (M6e-like) on a pseudo-terminal, driven by a :class:`TagWorld`.

:class:`MercuryReader` is the device model, sans I/O: command frames in, response frames
out (with the status codes a module returns for bad parameters or unknown opcodes), and
while continuous reading is on, one 0x22 streaming record per tag read under the metadata
mask the host asked for, plus a 0x0400 "no tags found" frame for every search cycle
(on-time) without tags.  :class:`MercurySimulator` puts it behind a pty with fault
injection (:mod:`simulators.serial_runner`), and adds Mercury-specific faults: corrupt
CRCs, temperature / return-loss status frames.

>>> from drivers.mercury import commands as cmd
>>> from drivers.mercury.frames import FrameDecoder
>>> model = MercuryReader(TagWorld.steady("r1", tags=2, rate=100.0), "r1")
>>> replies = FrameDecoder().feed(model.receive(cmd.get_version().encode() + cmd.set_region(0x42).encode(), 0.0))
>>> [(f.opcode, f.status) for f in replies]
[(3, 0), (151, 267)]

CLI: ``border-gateway simulate rfid-mercury --tags 20 --rate 200`` prints the pty path,
then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import dataclass

from drivers.mercury import commands as cmd
from drivers.mercury.commands import ContinuousRead, Opcode
from drivers.mercury.errors import MercuryError
from drivers.mercury.frames import Frame, FrameDecoder
from drivers.mercury.records import GEN2, StreamBatch, TagRecord
from gateway.gs1.epc.pc import crc16_genibus
from simulators.pty_port import PtyPort
from simulators.serial_runner import SerialSimulator
from simulators.tag_world import TagWorld, synthetic_sgtin96

VERSION = cmd.VersionInfo(bytes.fromhex("14120800"), bytes.fromhex("18000000"), bytes.fromhex("20231115"),
                          bytes.fromhex("01090201"), 0x00000010)


@dataclass
class ReaderState:
    region: int = cmd.Region.NA2
    power: int = 3000
    protocol: int = GEN2
    antennas: tuple[int, ...] = (1,)
    streaming: ContinuousRead | None = None
    stream_start: float = 0.0


class MercuryReader:
    """The device model.  ``sequence=True`` replaces the world by a numbered tag stream
    (EPC serial = sequence number, one read per ``1/rate`` s) for loss checks."""

    max_power = 3000

    def __init__(self, world: TagWorld | None, reader: str, *, sequence_rate: float = 0.0) -> None:
        self.world = world
        self.reader = reader
        self.sequence_rate = sequence_rate
        self.sequence = 0
        self.state = ReaderState()
        self.decoder = FrameDecoder(responses=False)
        self.corrupt_next = 0
        self.records_sent = 0
        self.commands_seen: list[Frame] = []  # every command received, for tests and logs
        self._quiet_since = 0.0
        self._tag_crc_cache: dict[bytes, int] = {}

    def reset(self) -> None:
        """Power cycle: defaults, not streaming, partial input lost."""
        self.state = ReaderState()
        self.decoder = FrameDecoder(responses=False)

    # -- commands ------------------------------------------------------------------------------
    def receive(self, data: bytes, t: float) -> bytes:
        out = bytearray()
        for frame in self.decoder.feed(data):
            if isinstance(frame, Frame):
                if len(self.commands_seen) < 10_000:
                    self.commands_seen.append(frame)
                out += self._frame(self.answer(frame, t))
        return bytes(out)

    def answer(self, command: Frame, t: float) -> Frame:
        op, data, st = command.opcode, command.data, self.state

        def ok(payload: bytes = b"") -> Frame:
            return Frame(op, payload, status=0)

        def fail(status: int) -> Frame:
            return Frame(op, b"", status=status)

        if op == Opcode.VERSION:
            return ok(VERSION.encode())
        if op == Opcode.SET_REGION:
            if len(data) != 1:
                return fail(0x0100)
            if data[0] not in set(cmd.Region):
                return fail(0x010B)
            st.region = data[0]
            return ok()
        if op == Opcode.GET_REGION:
            return ok(bytes((st.region,)))
        if op == Opcode.SET_READ_TX_POWER:
            if len(data) != 2:
                return fail(0x0100)
            power = int.from_bytes(data, "big")
            if power > self.max_power:
                return fail(0x0103)
            st.power = power
            return ok()
        if op == Opcode.GET_READ_TX_POWER:
            return ok(b"\x00" + st.power.to_bytes(2, "big"))
        if op == Opcode.SET_TAG_PROTOCOL:
            if len(data) != 2 or int.from_bytes(data, "big") not in set(cmd.TagProtocol):
                return fail(0x0105)
            st.protocol = int.from_bytes(data, "big")
            return ok()
        if op == Opcode.GET_TAG_PROTOCOL:
            return ok(st.protocol.to_bytes(2, "big"))
        if op == Opcode.SET_ANTENNA_PORT:
            if len(data) == 2:
                st.antennas = (data[0],)
            elif len(data) >= 3 and data[0] == 2 and len(data) % 2 == 1:
                st.antennas = tuple(data[i] for i in range(1, len(data), 2))
            else:
                return fail(0x0105)
            return ok()
        if op == Opcode.GET_ANTENNA_PORT:
            return ok(bytes((st.antennas[0], st.antennas[0])))
        if op == Opcode.SET_READER_OPTIONAL_PARAMS:
            return ok() if len(data) >= 3 else fail(0x0100)
        if op == Opcode.MULTI_PROTOCOL_TAG_OP:
            try:
                request = ContinuousRead.parse(data)
            except MercuryError:
                return fail(0x0105)
            if request.start:
                st.streaming = request
                st.stream_start = t
                self._quiet_since = t
                return ok(data[2:6])
            st.streaming = None
            return ok(data[:3])
        return fail(0x0101)

    # -- streaming -----------------------------------------------------------------------------
    def _frame(self, frame: Frame) -> bytes:
        raw = frame.encode()
        if self.corrupt_next > 0:
            self.corrupt_next -= 1
            raw = raw[:-1] + bytes(((raw[-1] ^ 0x5A) or 1,))
        return raw

    def _tag_crc(self, pc_epc: bytes) -> int:
        crc = self._tag_crc_cache.get(pc_epc)
        if crc is None:
            crc = crc16_genibus(pc_epc)
            if len(self._tag_crc_cache) < 100_000:
                self._tag_crc_cache[pc_epc] = crc
        return crc

    def record_frame(self, epc_hex: str, pc: int, antenna: int, rssi: float, freq: int, phase: float,
                     t: float, streaming: ContinuousRead) -> bytes:
        epc = bytes.fromhex(epc_hex)
        ant = antenna & 0x0F
        record = TagRecord(epc=epc, pc=pc, tag_crc=self._tag_crc(pc.to_bytes(2, "big") + epc), read_count=1,
                           rssi_dbm=max(-128, min(127, round(rssi))), antenna_byte=(ant << 4) | ant,
                           frequency_khz=freq, timestamp_ms=int((t - self.state.stream_start) * 1000),
                           phase=int(phase) % 360, protocol=GEN2, gpio=0, gen2_q=4, gen2_lf=0, gen2_target=0,
                           brand_id=0)
        batch = StreamBatch((record,), streaming.metadata, 0x10, streaming.search_flags)
        self.records_sent += 1
        return self._frame(Frame(Opcode.READ_TAG_ID_MULTIPLE, batch.encode(), status=0))

    def stream(self, t0: float, t1: float) -> bytes:
        streaming = self.state.streaming
        if streaming is None:
            return b""
        out = bytearray()
        if self.sequence_rate > 0:
            start = self.state.stream_start
            while (self.sequence + 1) / self.sequence_rate <= t1 - start:
                ant = self.state.antennas[self.sequence % len(self.state.antennas)]
                t = start + self.sequence / self.sequence_rate
                out += self.record_frame(synthetic_sgtin96(self.sequence), 0x3000, ant, -50.0, 865_700, 0.0, t,
                                         streaming)
                self.sequence += 1
        elif self.world is not None:
            t0 = max(t0, self.state.stream_start, 0.0)  # nothing is read before the start command (or t0)
            for read in self.world.reads_between(self.reader, t0, t1, self.state.antennas):
                out += self.record_frame(read.epc_hex, read.pc, read.antenna, read.rssi_dbm, read.frequency_khz,
                                         read.phase_deg, read.time, streaming)
        if out:
            self._quiet_since = t1
        elif t1 - self._quiet_since >= streaming.on_time_ms / 1000.0:
            self._quiet_since = t1
            out += self._frame(Frame(Opcode.READ_TAG_ID_MULTIPLE, b"", status=cmd.STATUS_NO_TAGS))
        return bytes(out)

    def burst(self, n: int, t: float) -> bytes:
        """``n`` records at once: the world's next reads, repeated if it has too few."""
        streaming = self.state.streaming or ContinuousRead(True)
        reads = self.world.reads_between(self.reader, 0.0, float(self.world.duration or 60.0)) if self.world else []
        out = bytearray()
        for i in range(n):
            if reads:
                r = reads[i % len(reads)]
                out += self.record_frame(r.epc_hex, r.pc, r.antenna, r.rssi_dbm, r.frequency_khz, r.phase_deg, t,
                                         streaming)
            else:
                out += self.record_frame(synthetic_sgtin96(i), 0x3000, 1, -55.0, 865_700, 0.0, t, streaming)
        return bytes(out)

    def status_frame(self, status: int) -> bytes:
        return self._frame(Frame(Opcode.READ_TAG_ID_MULTIPLE, b"", status=status))


class MercurySimulator(SerialSimulator):
    """A :class:`MercuryReader` on a pty.  Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, world: TagWorld | None = None, reader: str | None = None, *, sequence_rate: float = 0.0,
                 port: PtyPort | None = None, speed: float = 1.0) -> None:
        super().__init__(port, speed, name="ttyMERCURY")
        if reader is None:
            reader = world.readers[0] if world is not None and world.readers else "reader-1"
        self.model = MercuryReader(world, reader, sequence_rate=sequence_rate)

    def on_input(self, data: bytes, t: float) -> bytes:
        return self.model.receive(data, t)

    def produce(self, t0: float, t1: float) -> bytes:
        return self.model.stream(t0, t1)

    def on_replug(self) -> None:
        self.model.reset()

    def burst_bytes(self, n: int, t: float) -> bytes:
        return self.model.burst(n, t)

    @property
    def streaming(self) -> bool:
        return self.model.state.streaming is not None

    def corrupt_crc(self, frames: int = 1) -> None:
        """The next ``frames`` frames leave with a wrong CRC."""
        def act() -> None:
            self.model.corrupt_next += frames
        self.call(act)

    def status(self, status: int) -> None:
        """Send an out-of-band status frame (0x0504 temperature, 0x0505 return loss)."""
        self.call(lambda: self._write(self.model.status_frame(status)))


# -- CLI -------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--scenario", help="scenario YAML: config/scenarios/ format (GS1 tags) or TagWorld (epcs)")
    src.add_argument("--tags", type=int, default=20, help="steady world: N tags always in the field (default 20)")
    parser.add_argument("--rate", type=float, default=200.0, help="steady world: reads per second in total")
    parser.add_argument("--sequence", action="store_true",
                        help="numbered tags (EPC serial = sequence number) at --rate, for loss checks")
    parser.add_argument("--reader", help="reader id in the scenario (default: its first reader)")
    parser.add_argument("--antennas", default="1", help="steady world: antennas, e.g. 1,2")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--link", help="path of the pty symlink (default: a temp dir)")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario seconds per wall-clock second")


def build_world(args: argparse.Namespace) -> TagWorld | None:
    if args.sequence:
        return None
    if args.scenario:
        from simulators.scenario import load_world

        world = load_world(args.scenario, seed=args.seed)
        if args.reader and args.reader not in world.readers:
            raise ValueError(f"reader {args.reader!r} is not in {args.scenario} (readers: {', '.join(world.readers)})")
        return world
    antennas = tuple(int(a) for a in args.antennas.split(","))
    return TagWorld.steady(args.reader or "reader-1", args.tags, args.rate, antennas=antennas, seed=args.seed or 0)


def serve(sim: SerialSimulator) -> int:
    """Print the pty path, run until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sim.start()
    print(sim.path, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        world = build_world(args)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"simulate rfid-mercury: {exc}", file=sys.stderr)
        return 2
    port = PtyPort(path=args.link) if args.link else None
    sim = MercurySimulator(world, args.reader, sequence_rate=args.rate if args.sequence else 0.0, port=port,
                           speed=args.speed)
    return serve(sim)


if __name__ == "__main__":  # python -m simulators.mercury_sim
    _parser = argparse.ArgumentParser(description="ThingMagic Mercury reader simulator on a pty")
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
