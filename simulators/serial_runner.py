"""The I/O loop and fault injection shared by the serial reader simulators.

A :class:`SerialSimulator` runs a device model in a thread behind a :class:`PtyPort`: it
answers input with :meth:`SerialSimulator.on_input`, and every ``tick`` seconds writes what
the model produced for the elapsed scenario time (:meth:`SerialSimulator.produce`).  Faults
are queued from any thread and applied between two writes, so they land on frame/line
boundaries unless the fault itself is about splitting:

* :meth:`garbage` - raw bytes on the line (baud mismatch, noise);
* :meth:`stall` - the device goes quiet (no output, input ignored) for some seconds;
* :meth:`unplug` / :meth:`replug` - the pty disappears / a new one appears at the same path;
* :meth:`burst` - many records at once (a reader flushing its buffer).

Scenario time: ``clock()`` seconds since :meth:`start`, times ``speed``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Self

from simulators.pty_port import PtyPort


class SerialSimulator:
    tick = 0.005

    def __init__(self, port: PtyPort | None = None, speed: float = 1.0, name: str = "ttySIM") -> None:
        self.port = port or PtyPort(name=name)
        self.speed = speed
        self._actions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._stall_until = 0.0
        self._last_t = 0.0
        self.unplugs = 0

    @property
    def path(self) -> str:
        return self.port.path

    # -- model hooks ---------------------------------------------------------------------------
    def on_input(self, data: bytes, t: float) -> bytes:
        return b""

    def produce(self, t0: float, t1: float) -> bytes:
        return b""

    def on_replug(self) -> None:
        """The device was power-cycled: reset its state."""

    def burst_bytes(self, n: int, t: float) -> bytes:
        return b""

    # -- control (any thread) --------------------------------------------------------------------
    def scenario_time(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def start(self, t0: float | None = None) -> Self:
        """Run; scenario time 0 is ``t0`` on ``time.monotonic()`` (default now, may be in the future)."""
        self._t0 = time.monotonic() if t0 is None else t0
        self._thread = threading.Thread(target=self._run, name=f"sim:{self.path}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.port.close()

    def __enter__(self) -> Self:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, action: Callable[[], None], wait: float = 2.0) -> None:
        """Run ``action`` in the simulator thread, between writes; wait for it."""
        done = threading.Event()

        def wrapped() -> None:
            try:
                action()
            finally:
                done.set()

        self._actions.put(wrapped)
        if self._thread is not None and self._thread.is_alive():
            done.wait(wait)
        else:
            wrapped()

    def garbage(self, data: bytes) -> None:
        self.call(lambda: self._write(data))

    def stall(self, seconds: float) -> None:
        def act() -> None:
            self._stall_until = time.monotonic() + seconds
        self.call(act)

    def unplug(self) -> None:
        def act() -> None:
            self.port.unplug()
            self.unplugs += 1
        self.call(act)

    def replug(self) -> None:
        def act() -> None:
            self.port.replug()
            self.on_replug()
        self.call(act)

    def burst(self, n: int) -> None:
        self.call(lambda: self._write(self.burst_bytes(n, self.scenario_time())))

    def write_raw(self, data: bytes) -> None:
        self.call(lambda: self._write(data))

    # -- thread ----------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if data and self.port.plugged:
            self.port.write(data)

    def _run(self) -> None:
        self._last_t = min(0.0, self.scenario_time())  # negative while waiting for a future t0
        while not self._stop.is_set():
            while True:
                try:
                    self._actions.get_nowait()()
                except queue.Empty:
                    break
            if not self.port.plugged:
                time.sleep(self.tick)
                self._last_t = self.scenario_time()
                continue
            stalled = time.monotonic() < self._stall_until
            if self.port.wait_readable(self.tick):
                data = self.port.read()
                if data and not stalled:
                    self._write(self.on_input(data, self.scenario_time()))
            now = self.scenario_time()
            if stalled:
                self._last_t = now  # a stalled device loses that time: it does not catch up later
                continue
            if now - self._last_t >= self.tick * self.speed:
                out = self.produce(self._last_t, now)
                self._last_t = now
                self._write(out)
