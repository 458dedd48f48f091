"""What the serial drivers (Mercury, ASCII line) share: URL parsing and a reconnecting I/O thread
that hands events to asyncio (their EPCs go through :mod:`drivers.rfid`, as every RFID driver's).

Serial I/O is blocking in pyserial, so each source owns one thread that opens the port,
runs the driver's session and pushes batches of events to the event loop with
``call_soon_threadsafe`` (one hop per ``read()``, not per tag).  Codecs stay pure; this
module is the only place that touches the port.

>>> t = SerialTarget.parse("mercury:///dev/ttyUSB0?baud=115200&region=EU")
>>> t.port_url, t.baud, t.params["region"]
('/dev/ttyUSB0', 115200, 'EU')
>>> SerialTarget.parse("serial-ascii://127.0.0.1:4001?format=hex").port_url
'socket://127.0.0.1:4001'
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, cast
from urllib.parse import parse_qsl, urlsplit

import serial

from drivers.backoff import Backoff
from gateway.reads import SourceEvent, SourceState, SourceStatus

log = logging.getLogger(__name__)


class Port(Protocol):
    """The part of a pyserial port the drivers use (a tty or ``socket://``)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def flush(self) -> None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class SerialURLError(ValueError):
    """A serial source URL is malformed (names the URL)."""


@dataclass(frozen=True, slots=True)
class SerialTarget:
    """A parsed ``scheme:///dev/tty...?k=v`` or ``scheme://host:port?k=v`` URL."""

    url: str
    port_url: str  # what pyserial's serial_for_url() opens
    baud: int
    params: dict[str, str]

    @classmethod
    def parse(cls, url: str, default_baud: int = 115200) -> SerialTarget:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.netloc:
            if parts.port is None or not parts.hostname:
                raise SerialURLError(f"{url!r}: TCP form needs host:port")
            port_url = f"socket://{parts.hostname}:{parts.port}"
        elif parts.path:
            port_url = parts.path
        else:
            raise SerialURLError(f"{url!r}: no device path or host:port")
        try:
            baud = int(params.get("baud", default_baud))
        except ValueError as exc:
            raise SerialURLError(f"{url!r}: baud must be an integer") from exc
        if not 1 <= baud <= 10_000_000:
            raise SerialURLError(f"{url!r}: baud must be 1..10000000, got {baud}")
        return cls(url, port_url, baud, params)

    def float_param(self, name: str, default: float) -> float:
        """A parameter in seconds (or another non-negative quantity); ``nan``/``inf`` are refused."""
        try:
            value = float(self.params.get(name, default))
        except ValueError as exc:
            raise SerialURLError(f"{self.url!r}: {name} must be a number") from exc
        if not (math.isfinite(value) and value >= 0):
            raise SerialURLError(f"{self.url!r}: {name} must be a finite number >= 0, got {value}")
        return value

    def only(self, known: frozenset[str]) -> None:
        """Refuse parameters the driver does not know (a typo must not be silently ignored)."""
        unknown = sorted(set(self.params) - known - COMMON_PARAMS)
        if unknown:
            raise SerialURLError(f"{self.url!r}: unknown parameter(s) {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(known | COMMON_PARAMS))})")


# parameters of every serial driver (SerialTarget.parse and SerialSource)
COMMON_PARAMS = frozenset({"baud", "silence", "backoff", "backoff_max"})


class SessionError(Exception):
    """The device answered, but not as expected: reconnect."""


class Stalled(Exception):
    """No bytes for longer than the silence limit."""


@dataclass
class FaultCounter:
    """Counts discarded input and says so at most once per ``every`` seconds (never silently)."""

    every: float = 1.0
    counts: dict[str, int] = field(default_factory=dict)
    _reported: dict[str, int] = field(default_factory=dict)
    _last: float = 0.0

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def due(self, now: float) -> str | None:
        if self.counts == self._reported or now - self._last < self.every:
            return None
        self._last = now
        new = {k: v - self._reported.get(k, 0) for k, v in self.counts.items() if v != self._reported.get(k, 0)}
        self._reported = dict(self.counts)
        return "skipped " + ", ".join(f"{n} {k}" for k, n in sorted(new.items()))


class SerialSource:
    """Base class: a reconnecting serial port session feeding an asyncio consumer.

    Subclasses implement :meth:`start_session` (initialise the device; blocking I/O on
    ``port`` allowed) and :meth:`on_bytes` (bytes -> events, pure).  URL parameters
    ``silence`` (seconds without a byte before reconnecting; default 5), ``backoff`` (base
    seconds, default 0.5) and ``backoff_max`` (default 30) apply to every serial driver.
    """

    default_silence = 5.0
    read_timeout = 0.05

    def __init__(self, source_id: str, url: str) -> None:
        self.source_id = source_id
        self.target = SerialTarget.parse(url)
        self.silence = self.target.float_param("silence", self.default_silence)
        self.backoff = Backoff(base=self.target.float_param("backoff", 0.5),
                               cap=self.target.float_param("backoff_max", 30.0))
        self.faults = FaultCounter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[list[SourceEvent] | None] | None = None
        self._port: Port | None = None

    # -- subclass hooks ----------------------------------------------------------------------
    def start_session(self, port: Port) -> list[SourceEvent]:
        return []

    def on_bytes(self, data: bytes, host_time: float) -> list[SourceEvent]:
        raise NotImplementedError

    def end_session(self) -> None:
        """Drop partial input after a disconnect."""

    def finish_session(self, port: Port) -> None:
        """Best-effort goodbye on a live port when the source is closed (e.g. stop reading)."""

    # -- asyncio side ---------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[SourceEvent]:
        if self._queue is None:
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue()
            self._thread = threading.Thread(target=self._run, name=f"serial:{self.source_id}", daemon=True)
            self._thread.start()
        queue = self._queue
        while True:
            batch = await queue.get()
            if batch is None:
                queue.put_nowait(None)  # let other consumers finish too
                return
            for event in batch:
                yield event

    async def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, 5.0)
        if self._queue is not None:
            self._queue.put_nowait(None)

    # -- I/O thread -----------------------------------------------------------------------------
    def _emit(self, batch: list[SourceEvent]) -> None:
        if batch and self._loop is not None and self._queue is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, batch)
            except RuntimeError:  # loop closed while we were reading
                self._stop.set()

    def _status(self, state: SourceState, detail: str = "", attempt: int = 0) -> None:
        log.info("source %s %s %s", self.source_id, state, detail)
        self._emit([SourceStatus(self.source_id, state, detail, attempt=attempt)])

    def _run(self) -> None:
        connected_once = False
        while not self._stop.is_set():
            port: Port | None = None
            stage = "open"
            try:
                port = cast(Port, serial.serial_for_url(self.target.port_url, baudrate=self.target.baud,
                                                        timeout=self.read_timeout, write_timeout=2.0))
                self._port = port
                stage = "initialise"
                self._emit(self.start_session(port))
                self.backoff.reset()
                self._status("connected", self.target.port_url)
                connected_once = True
                stage = "read"
                self._pump(port)
            except (serial.SerialException, OSError, SessionError, Stalled, ValueError) as exc:
                if self._stop.is_set():
                    break
                attempt = self.backoff.attempt + 1
                detail = f"{stage} {self.target.port_url}: {type(exc).__name__}: {exc}"
                # "error" until the device has been reached once; afterwards every failed
                # attempt is part of reconnecting.
                self._status("reconnecting" if connected_once or stage == "read" else "error", detail, attempt)
            finally:
                self._port = None
                if port is not None and self._stop.is_set():
                    try:
                        self.finish_session(port)
                    except Exception:  # the device may already be gone
                        pass
                self.end_session()
                if port is not None:
                    try:
                        port.close()
                    except Exception:  # closing a dead port may fail: it is gone either way
                        pass
            if self._stop.is_set():
                break
            self._stop.wait(self.backoff.next_delay())
        self._status("stopped")

    def _pump(self, port: Port) -> None:
        last_rx = time.monotonic()
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            now = time.monotonic()
            if data:
                last_rx = now
                batch = self.on_bytes(data, time.time())
                note = self.faults.due(now)
                if note:
                    log.warning("source %s: %s", self.source_id, note)
                    batch.append(SourceStatus(self.source_id, "connected", note))
                self._emit(batch)
            elif now - last_rx > self.silence:
                raise Stalled(f"no data for {self.silence:g} s")
