"""Keep a reader or camera running: restart it with backoff when it fails, report its health.

Drivers reconnect by themselves after I/O faults and say so with ``SourceStatus`` events; the
supervisor is the outer safety net for everything else (a driver bug, an exception out of
``events()``).  A failing source is shown as degraded and restarted; it never takes the
service down.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from drivers.registry import DriverNotAvailable, open_source
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
) -> None:
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
        try:
            async for event in source.events():
                if isinstance(event, SourceStatus) and event.state == "connected":
                    attempt = 0
                sink(event)
                if stop.is_set():
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = True
            log.exception("source %s failed: %s", source_id, type(exc).__name__)
            sink(SourceStatus(source_id, "error", f"driver failed: {type(exc).__name__}: {exc}"))
        finally:
            try:
                await asyncio.wait_for(source.close(), timeout=10.0)
            except Exception as exc:  # closing a broken source must not stop the restart loop
                log.warning("source %s did not close cleanly: %s", source_id, exc)
        if stop.is_set():
            break
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
