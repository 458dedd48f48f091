"""Keep a reader or camera running: restart it with backoff when it fails, report its health.

Drivers reconnect by themselves after I/O faults and say so with ``SourceStatus`` events; the
supervisor is the outer safety net for everything else (a driver bug, an exception out of
``events()``).  A failing source is shown as degraded and restarted; it never takes the
service down.

:class:`Supervisor` keeps the running sources, one supervised task each with a stop of its own, so
that a configuration reload restarts only the sources whose settings changed
(:meth:`Supervisor.apply`), and a stop ends them all.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers.registry import DriverNotAvailable, Source, open_source
from gateway.reads import SourceEvent, SourceStatus

log = logging.getLogger(__name__)


def restart_delay(attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**attempt)]."""
    high = min(cap, base * (2 ** min(attempt, 16)))
    return (rng or random).uniform(min(base / 2, high), high)


async def supervise_source(
    source_id: str,
    url: str,
    sink: Callable[[SourceEvent], None],
    stop: asyncio.Event,
    on_restart: Callable[[str], None] | None = None,
    healthy_after_s: float = 30.0,
) -> None:
    """Run ``url`` as ``source_id`` until ``stop``; every event goes to ``sink``.

    The backoff starts again only after the source stayed connected for ``healthy_after_s``: a
    driver that connects and then fails at once must not be restarted twice a second forever.
    """
    loop = asyncio.get_running_loop()
    attempt = 0
    while not stop.is_set():
        try:
            source = open_source(source_id, url)
        except DriverNotAvailable as exc:
            sink(SourceStatus(source_id, "error", str(exc)))
            log.error("source %s cannot start: %s", source_id, exc)
            return
        except Exception as exc:  # a bad URL parameter: the driver's own message says which
            sink(SourceStatus(source_id, "error", f"cannot open: {exc}"))
            log.error("source %s cannot open: %s", source_id, exc)
            return
        failed = False
        # A quiet source (no tag in the field, a camera seeing nothing) yields nothing for a long
        # time, so waiting for its next event to notice the stop would stall the shutdown: on stop
        # the source is closed at once, which ends ``events()`` (the Source protocol).
        closer = asyncio.create_task(_close_on(stop, source), name=f"close:{source_id}")
        connected_at: float | None = None
        try:
            async for event in source.events():
                if isinstance(event, SourceStatus):
                    if event.state == "connected" and connected_at is None:
                        connected_at = loop.time()
                    elif event.state != "connected":
                        connected_at = None
                if connected_at is not None and loop.time() - connected_at >= healthy_after_s:
                    attempt = 0
                sink(event)
                if stop.is_set():
                    break
        except asyncio.CancelledError:
            closer.cancel()
            raise
        except Exception as exc:
            failed = True
            log.exception("source %s failed: %s", source_id, type(exc).__name__)
            sink(SourceStatus(source_id, "error", f"driver failed: {type(exc).__name__}: {exc}"))
        finally:
            if stop.is_set() and not closer.cancelled():
                await asyncio.wait([closer], timeout=12.0)  # the closer is closing it (or about to)
            else:
                closer.cancel()
                await _close(source)
        if stop.is_set():
            break
        if connected_at is not None and loop.time() - connected_at >= healthy_after_s:
            attempt = 0  # it ran well for a while: this failure starts a new backoff
        attempt += 1
        if on_restart is not None and failed:
            on_restart(source_id)
        delay = restart_delay(attempt)
        sink(SourceStatus(source_id, "reconnecting", f"restarting in {delay:.1f}s", attempt=attempt))
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
    sink(SourceStatus(source_id, "stopped"))


async def _close(source: Source) -> None:
    try:
        await asyncio.wait_for(source.close(), timeout=10.0)
    except Exception as exc:  # closing a broken source must not stop the restart loop
        log.warning("source %s did not close cleanly: %s", source.source_id, exc)


async def _close_on(stop: asyncio.Event, source: Source) -> None:
    await stop.wait()
    await _close(source)


@dataclass(frozen=True, slots=True)
class SourceChanges:
    """What :meth:`Supervisor.apply` did, by source id."""

    started: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.started or self.stopped or self.restarted)


class Supervisor:
    """The running sources: each opened from its settings (the URL) and supervised by :func:`supervise_source`."""

    def __init__(self, sink: Callable[[SourceEvent], None], on_restart: Callable[[str], None] | None = None,
                 stop_timeout_s: float = 15.0) -> None:
        self.sink, self.on_restart, self.stop_timeout_s = sink, on_restart, stop_timeout_s
        self._running: dict[str, tuple[str, asyncio.Event, asyncio.Task[None]]] = {}

    @property
    def settings(self) -> dict[str, str]:
        """source id -> the settings it runs with."""
        return {source_id: url for source_id, (url, _stop, _task) in self._running.items()}

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return [task for _url, _stop, task in self._running.values()]

    def start(self, source_id: str, url: str) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(supervise_source(source_id, url, self.sink, stop, on_restart=self.on_restart),
                                   name=f"source:{source_id}")
        self._running[source_id] = (url, stop, task)

    async def stop(self, source_id: str) -> None:
        """Stop one source and wait for it (its ``stopped`` status has gone to the sink when this returns)."""
        running = self._running.pop(source_id, None)
        if running is not None:
            await self._end([running])

    async def apply(self, wanted: Mapping[str, str],
                    on_stopped: Callable[[str], None] | None = None) -> SourceChanges:
        """Run exactly ``wanted`` (source id -> settings): start the new, stop the gone, restart the changed.

        A source whose settings are the same keeps running, connection and all.  ``on_stopped(id)`` runs
        for each source stopped or about to restart, once it has stopped.
        """
        current = self.settings
        stopped = tuple(sorted(set(current) - set(wanted)))
        restarted = tuple(sorted(s for s in wanted if s in current and current[s] != wanted[s]))
        started = tuple(sorted(set(wanted) - set(current)))
        await self._end([self._running.pop(s) for s in (*stopped, *restarted)])
        for source_id in (*stopped, *restarted):
            if on_stopped is not None:
                on_stopped(source_id)
        for source_id in (*restarted, *started):
            self.start(source_id, wanted[source_id])
        return SourceChanges(started, stopped, restarted)

    async def stop_all(self) -> None:
        running, self._running = list(self._running.values()), {}
        await self._end(running)

    async def _end(self, running: list[tuple[str, asyncio.Event, asyncio.Task[None]]]) -> None:
        for _url, stop, _task in running:
            stop.set()
        tasks = [task for _url, _stop, task in running]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=self.stop_timeout_s)
        for task in pending:  # a driver that does not close: it must not hold the reload or the stop
            task.cancel()
