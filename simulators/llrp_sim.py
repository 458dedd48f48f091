"""An LLRP reader on a TCP port: :class:`~simulators.llrp_reader.ReaderModel` behind asyncio, plus faults.

The connection rules follow §20.1 of LLRP 1.1: the first message on a new connection is a
READER_EVENT_NOTIFICATION with a ConnectionAttemptEvent (Success), and a second client
while one is connected gets status 2 ("a client initiated connection already exists") and
is closed.  Keepalives go out every KeepaliveSpec interval; after ``max_missed_acks``
unanswered ones the reader sends a ConnectionCloseEvent and closes.  ROSpecs and reports
outlive a connection, as on a real reader: reports made while no client is connected are
buffered and burst out on the next connection (the Zebra FX behaviour).

Faults (:class:`Faults`): response delays, messages written in tiny TCP segments, a dropped
connection, a reader that goes silent (socket open, nothing sent: only a keepalive watchdog
notices), a reboot (connection dropped, ROSpecs and config forgotten, port dead for a while),
a clock that was never set (timestamps in the year 2000), periodic empty reports, and the
quirks of the llrpkit emulator: an ERROR_MESSAGE answering ENABLE_EVENTS_AND_REPORTS, an
enabled ROSpec that waits for START_ROSPEC whatever its start trigger, and a connection
dropped on GET_ROSPECS while a ROSpec is Inactive.  Without faults the reader follows the standard.
:meth:`LLRPReaderSimulator.inject` writes raw bytes (garbage, malformed or truncated messages).

``max_version`` chooses the reader generation: 2 (default) speaks LLRP 1.1 and negotiates,
1 is a 1.0.1-only reader (most Impinj Speedway firmwares) that refuses the version messages.

General-purpose outputs: :attr:`LLRPReaderSimulator.gpo` is what the outputs drive now and
:attr:`LLRPReaderSimulator.gpo_history` every write with its scenario time (a reboot sets them all low).

General-purpose inputs: ``gpi`` is the scenario's loop timeline for this reader (:class:`GpiEdge`
from :mod:`simulators.scenario`, played on the scenario clock and repeated with the world), and
:meth:`LLRPReaderSimulator.set_gpi` drives a port by hand; either way the edge goes through the
reader model (enabled ports only) and out on the real connection as a GPIEvent.

>>> import asyncio
>>> from simulators.tag_world import TagWorld
>>> async def demo() -> str:
...     async with LLRPReaderSimulator(TagWorld.steady("r", 2, 50.0), "r") as sim:
...         reader, writer = await asyncio.open_connection(*sim.address)
...         from drivers.llrp.framing import LLRPFramer
...         first = LLRPFramer().feed(await reader.read(100))[0]
...         writer.close()
...         return first.params[0].params[1].name
>>> asyncio.run(demo())
'ConnectionAttemptEvent'

CLI: ``border-gateway simulate rfid-llrp --port 0 --tags 20 --rate 500`` prints ``host:port``, then a
``gpo 1=high 2=low 3=low 4=low`` line each time a client changes the outputs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from types import TracebackType

from drivers.llrp.constants import (
    VERSION_1_0_1,
    VERSION_1_1,
    ConnectionAttemptStatus,
    MessageType,
    ROSpecState,
    StatusCode,
)
from drivers.llrp.framing import LLRPFramer
from drivers.llrp.messages import Message
from drivers.llrp.params import Param
from simulators.llrp_reader import REPORT_BUFFER_LIMIT, Y2K_EPOCH_S, ReaderModel
from simulators.scenario import GpiEdge, edges_between
from simulators.tag_world import TagWorld

M = MessageType


@dataclass
class Faults:
    delay_s: float = 0.0  # before every response
    split_segments: bool = False  # every write cut into random 1..9 byte TCP segments
    drop_after_s: float | None = None  # abort each connection this long after it opened
    silent_after_s: float | None = None  # then send nothing more (socket stays open)
    reboot_after_s: float | None = None  # reboot once, this long after the first connection
    reboot_s: float = 0.3  # connections are refused (closed at once) while rebooting
    clock_2000: bool = False  # reader clock never set: UTC timestamps start at 2000-01-01
    empty_report_every_s: float | None = None  # FX9600 quirk: 10-byte RO_ACCESS_REPORTs
    error_on_enable_events: bool = False  # llrpkit quirk: ERROR_MESSAGE for a message that has no response
    start_on_start_only: bool = False  # llrpkit quirk: an Immediate start trigger does not start the ROSpec
    drop_on_get_rospecs: bool = False  # llrpkit 0.3 quirk: GET_ROSPECS with an Inactive ROSpec drops the connection
    buffer_while_disconnected: bool = True  # burst the backlog on the next connection
    seed: int = 0


@dataclass
class _Session:
    writer: asyncio.StreamWriter
    opened: float
    holding: bool = False
    silent: bool = False
    missed_acks: int = 0
    closed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # split writes must not interleave


class LLRPReaderSimulator:
    """``async with LLRPReaderSimulator(world, "reader-1") as sim: host, port = sim.address``."""

    def __init__(self, world: TagWorld, reader: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, speed: float = 1.0, antennas: int = 4, tick_s: float = 0.01,
                 max_missed_acks: int = 3, max_version: int = VERSION_1_1,
                 gpi: tuple[GpiEdge, ...] = ()) -> None:
        self.world = world
        self.reader = reader or (world.readers[0] if world.readers else "reader-1")
        self.host, self.port = host, port
        self.faults = faults or Faults()
        self.speed = speed
        self.antennas = antennas
        self.tick_s = tick_s
        self.max_missed_acks = max_missed_acks
        if max_version not in (VERSION_1_0_1, VERSION_1_1):
            raise ValueError(f"max_version must be 1 (LLRP 1.0.1) or 2 (LLRP 1.1), not {max_version}")
        self.max_version = max_version
        self.gpi = tuple(edge for edge in gpi if edge.reader == self.reader)
        self._gpi_played = -1e-9  # scenario time up to which the GPI timeline has been played
        self.rng = random.Random(self.faults.seed)
        self.model = self._new_model()
        self.connections = 0  # accepted (successful) connections
        self.refused = 0
        self.received: list[str] = []  # names of the messages clients sent, in order
        self.reboots = 0
        self._session: _Session | None = None
        self._server: asyncio.Server | None = None
        self._t0 = 0.0
        self._loop_task: asyncio.Task[None] | None = None
        self._rebooting_until = 0.0
        self._reboot_done = False

    def _new_model(self) -> ReaderModel:
        base = Y2K_EPOCH_S if self.faults.clock_2000 else time.time()
        return ReaderModel(self.world, self.reader, antennas=self.antennas, clock_base=base,
                           max_version=self.max_version, immediate_start=not self.faults.start_on_start_only)

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def now(self) -> float:
        """Virtual scenario seconds."""
        return (asyncio.get_running_loop().time() - self._t0) * self.speed

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, t0: float | None = None) -> tuple[str, int]:
        """Listen; scenario time 0 is ``t0`` on the loop's clock (``time.monotonic()``), default now.

        Several simulators playing one scenario (the demo) share a ``t0``, possibly a little in the
        future so that the gateway is connected before the first truck arrives."""
        loop = asyncio.get_running_loop()
        self._t0 = loop.time() if t0 is None else t0
        if not self.faults.clock_2000:  # the reader's UTC clock says t0 when scenario time is 0
            self.model.clock_base = time.time() + (self._t0 - loop.time())
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop_task = asyncio.create_task(self._run())
        return self.address

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._session:
            await self._end_session(self._session, abort=True)
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def __aenter__(self) -> LLRPReaderSimulator:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def gpo(self) -> dict[int, bool]:
        """What the reader's general-purpose outputs drive now (port -> high)."""
        return dict(self.model.gpo_state)

    @property
    def gpo_history(self) -> list[tuple[float, int, bool]]:
        """Every output write since the last power-up: (scenario seconds, port, high)."""
        return list(self.model.gpo_history)

    def go_silent(self) -> None:
        """Stop sending anything on the current connection (a network black hole)."""
        if self._session:
            self._session.silent = True

    async def set_gpi(self, port: int, high: bool) -> None:
        """The loop wired to ``port`` became occupied (``high``) or free, now."""
        await self._gpi_messages(self.model.set_gpi(port, high, self.now()))

    async def _gpi_messages(self, msgs: list[Message]) -> None:
        s = self._session
        if msgs and s is not None and not s.holding:
            await self._send(s, msgs)
        elif msgs and self.faults.buffer_while_disconnected:
            self.model.outbox.extend(m for m in msgs if m.type == M.RO_ACCESS_REPORT)

    async def inject(self, data: bytes) -> bool:
        """Write raw bytes on the current connection (fault injection: garbage, malformed or truncated
        messages).  False when no client is connected."""
        s = self._session
        if s is None or s.closed:
            return False
        async with s.lock:
            await self._write(s, data)
        return True

    def drop(self) -> None:
        """Abort the current connection without a ConnectionCloseEvent."""
        if self._session:
            self._session.writer.transport.abort()

    async def reboot(self) -> None:
        """Power-cycle: the connection drops, ROSpecs/config are forgotten, the port is dead for a while."""
        self.reboots += 1
        self._rebooting_until = asyncio.get_running_loop().time() + self.faults.reboot_s
        if self._session:
            await self._end_session(self._session, abort=True)
        self.model = self._new_model()
        self.model.last_tick = self.now()

    # -- the reader's clock: inventory, reports, keepalives ------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_keepalive = loop.time()
        next_empty = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = self.now()
            if self.gpi:
                for edge in edges_between(self.gpi, self._gpi_played, now, self.world.repeat_s):
                    await self._gpi_messages(self.model.set_gpi(edge.port, edge.high, edge.time))
                self._gpi_played = max(self._gpi_played, now)
            reports = self.model.tick(now)
            s = self._session
            if reports:
                if s is not None and not s.holding:
                    await self._send(s, reports)
                elif self.faults.buffer_while_disconnected:
                    room = REPORT_BUFFER_LIMIT - len(self.model.outbox)
                    self.model.outbox.extend(reports[:max(room, 0)])
            if s is None or s.closed or s.silent:  # a silent reader sends nothing and closes nothing
                continue
            t = loop.time()
            if self.faults.empty_report_every_s and t >= next_empty:
                next_empty = t + self.faults.empty_report_every_s
                self.model.next_id += 1
                await self._send(s, [Message(int(M.RO_ACCESS_REPORT), self.model.next_id)])
            if self.model.keepalive_ms and t >= next_keepalive:
                next_keepalive = t + self.model.keepalive_ms / 1000.0
                if s.missed_acks >= self.max_missed_acks:
                    close = self.model.event(Param.make("ConnectionCloseEvent"), now=now)
                    await self._send(s, [close])
                    await self._end_session(s)
                    continue
                s.missed_acks += 1
                await self._send(s, [self.model.keepalive()])
            elif not self.model.keepalive_ms:
                next_keepalive = t

    # -- connections ------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if loop.time() < self._rebooting_until:
            writer.transport.abort()
            self.refused += 1
            return
        if self._session is not None:
            # §20.1: only one client connection; the newcomer is told why and closed.
            self.refused += 1
            status = ConnectionAttemptStatus.FAILED_CLIENT_INITIATED_EXISTS
            msg = self.model.event(Param.make("ConnectionAttemptEvent", Status=int(status)), now=self.now())
            with contextlib.suppress(ConnectionError):
                writer.write(msg.encode())
                await writer.drain()
            writer.close()
            return
        s = _Session(writer, loop.time(), holding=self.model.hold_events_on_reconnect)
        self._session = s
        self.model.new_connection()
        self.connections += 1
        hello = self.model.event(Param.make("ConnectionAttemptEvent", Status=0), now=self.now())
        await self._send(s, [hello])
        if not s.holding:
            await self._send(s, self.model.tick(self.now()))  # the backlog burst
        f = self.faults
        if f.drop_after_s is not None:
            s.tasks.append(asyncio.create_task(self._later(f.drop_after_s, lambda: writer.transport.abort())))
        if f.silent_after_s is not None:
            s.tasks.append(asyncio.create_task(self._later(f.silent_after_s, lambda: setattr(s, "silent", True))))
        if f.reboot_after_s is not None and not self._reboot_done:
            self._reboot_done = True
            s.tasks.append(asyncio.create_task(self._later_async(f.reboot_after_s, self.reboot)))
        try:
            await self._serve(s, reader)
        finally:
            await self._end_session(s, abort=True)

    async def _later(self, delay: float, action: object) -> None:
        await asyncio.sleep(delay)
        action()  # type: ignore[operator]

    async def _later_async(self, delay: float, action: object) -> None:
        await asyncio.sleep(delay)
        await action()  # type: ignore[operator]

    async def _serve(self, s: _Session, reader: asyncio.StreamReader) -> None:
        framer = LLRPFramer()
        while not s.closed:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                return
            if not data:
                return
            try:
                msgs = framer.feed(data)
            except Exception:  # FramingError: the stream is lost, as a real reader would drop it
                return
            for msg in msgs:
                self.received.append(msg.name)
                if msg.type == M.KEEPALIVE_ACK:
                    s.missed_acks = 0
                    continue
                if msg.type == M.ENABLE_EVENTS_AND_REPORTS:
                    s.holding = False
                    if self.faults.error_on_enable_events:
                        await self._send(s, [Message(int(M.ERROR_MESSAGE), msg.id, {}, (Param.make(
                            "LLRPStatus", Status=int(StatusCode.M_UnsupportedMessage),
                            ErrorDescription="unsupported"),), msg.version)])
                    else:
                        await self._send(s, self.model.tick(self.now()))
                    continue
                if (msg.type == M.GET_ROSPECS and self.faults.drop_on_get_rospecs
                        and any(e.state == ROSpecState.INACTIVE for e in self.model.rospecs.values())):
                    await self._end_session(s, abort=True)
                    return
                replies = self.model.handle(msg, self.now())
                if self.faults.delay_s:
                    await asyncio.sleep(self.faults.delay_s)
                await self._send(s, replies)
                if msg.type == M.CLOSE_CONNECTION:
                    await self._end_session(s)
                    return

    async def _send(self, s: _Session, msgs: list[Message]) -> None:
        if not msgs or s.silent or s.closed:
            return
        v = self.model.version  # reports buffered under an earlier connection go out in this one's version
        data = b"".join((m if m.version == v or m.type != M.RO_ACCESS_REPORT else replace(m, version=v)).encode()
                        for m in msgs)
        async with s.lock:
            await self._write(s, data)

    async def _write(self, s: _Session, data: bytes) -> None:
        w = s.writer
        try:
            if self.faults.split_segments:
                pos = 0
                while pos < len(data):
                    step = self.rng.randint(1, 9)
                    w.write(data[pos:pos + step])
                    pos += step
                    await w.drain()
                    await asyncio.sleep(0)
            else:
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            s.closed = True

    async def _end_session(self, s: _Session, abort: bool = False) -> None:
        if self._session is s:
            self._session = None
        if s.closed and not abort:
            return
        s.closed = True
        current = asyncio.current_task()
        for t in s.tasks:
            if t is not current:
                t.cancel()
        if abort:
            s.writer.transport.abort()
        else:
            s.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.writer.wait_closed(), 1.0)


# -- CLI: ``border-gateway simulate rfid-llrp`` --------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5084, help="TCP port (0: any free port; default 5084)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--scenario", help="scenario YAML: config/scenarios/ format (GS1 tags) or TagWorld (epcs)")
    src.add_argument("--tags", type=int, default=20, help="steady world: N tags always in the field (default 20)")
    parser.add_argument("--rate", type=float, default=200.0, help="steady world: reads per second in total")
    parser.add_argument("--reader", help="reader id in the scenario (default: its first reader)")
    parser.add_argument("--antennas", default="1", help="steady world: antennas, e.g. 1,2")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--speed", type=float, default=1.0, help="scenario seconds per wall-clock second")
    parser.add_argument("--clock-2000", action="store_true", help="fault: reader clock never set")
    parser.add_argument("--split-segments", action="store_true", help="fault: write in tiny TCP segments")
    parser.add_argument("--delay", type=float, default=0.0, help="fault: seconds before every response")
    parser.add_argument("--drop-after", type=float, default=None, help="fault: drop each connection after S s")
    parser.add_argument("--silent-after", type=float, default=None, help="fault: go silent after S s")
    parser.add_argument("--reboot-after", type=float, default=None, help="fault: reboot once after S s")
    parser.add_argument("--llrp-version", choices=("1.0.1", "1.1"), default="1.1",
                        help="highest LLRP version the reader speaks (1.0.1: refuses version negotiation)")


def build_world(args: argparse.Namespace) -> TagWorld:
    if args.scenario:
        from simulators.scenario import load_world

        world = load_world(args.scenario, seed=args.seed)
        if args.reader and args.reader not in world.readers:
            raise ValueError(f"reader {args.reader!r} is not in {args.scenario} (readers: {', '.join(world.readers)})")
        return world
    antennas = tuple(int(a) for a in str(args.antennas).split(","))
    return TagWorld.steady(args.reader or "reader-1", args.tags, args.rate, antennas=antennas, seed=args.seed or 0)


def main(args: argparse.Namespace) -> int:
    try:
        world = build_world(args)
    except (OSError, ValueError) as exc:
        print(f"simulate rfid-llrp: {exc}", file=sys.stderr)
        return 2
    faults = Faults(delay_s=args.delay, split_segments=args.split_segments, drop_after_s=args.drop_after,
                    silent_after_s=args.silent_after, reboot_after_s=args.reboot_after, clock_2000=args.clock_2000)

    async def run() -> None:
        sim = LLRPReaderSimulator(world, args.reader, args.host, args.port, faults, speed=args.speed,
                                  max_version=VERSION_1_1 if args.llrp_version == "1.1" else VERSION_1_0_1)
        host, port = await sim.start()
        print(f"{host}:{port}", flush=True)
        watch = asyncio.create_task(_print_outputs(sim))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        watch.cancel()
        await sim.stop()

    asyncio.run(run())
    return 0


def format_outputs(levels: dict[int, bool]) -> str:
    """The status line printed when a client changes the outputs.

    >>> format_outputs({1: True, 2: False})
    'gpo 1=high 2=low'
    """
    return "gpo " + " ".join(f"{port}={'high' if high else 'low'}" for port, high in sorted(levels.items()))


async def _print_outputs(sim: LLRPReaderSimulator, every_s: float = 0.05) -> None:
    """CLI status: one line on stdout each time the outputs change (after the ``host:port`` line)."""
    last = sim.gpo
    while True:
        await asyncio.sleep(every_s)
        now = sim.gpo
        if now != last:
            print(format_outputs(now), flush=True)
            last = now
