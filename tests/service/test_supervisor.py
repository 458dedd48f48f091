"""The source supervisor: a driver that fails is restarted with backoff, shown as degraded, and a
stop ends even a source that is quiet (nothing in the field) at once.

The drivers shipped with the project reconnect by themselves and never raise (the service test
``test_run_service.py`` shows an unreachable LLRP reader retried and degraded).  What the supervisor
guards against is a driver *bug*: an exception out of ``events()``.  That cannot be provoked in a real
driver without breaking it, so a small driver registered under its own URL scheme plays the bug.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drivers import registry
from gateway.reads import SourceEvent, SourceStatus
from gateway.service.supervisor import restart_delay, supervise_source


class FlakySource:
    """Fails right after connecting on its first ``failures`` opens; then connects and stays quiet."""

    opens = 0
    closes = 0
    failures = 2

    def __init__(self, source_id: str, url: str) -> None:
        self.source_id = source_id
        type(self).opens += 1
        self.fail = type(self).opens <= type(self).failures
        self._closed = asyncio.Event()

    async def events(self) -> AsyncIterator[SourceEvent]:
        yield SourceStatus(self.source_id, "connected")
        if self.fail:
            raise RuntimeError("driver bug")
        await self._closed.wait()  # a reader with no tag in its field yields nothing

    async def close(self) -> None:
        type(self).closes += 1
        self._closed.set()


def open_flaky(source_id: str, url: str) -> FlakySource:
    return FlakySource(source_id, url)


def test_a_failing_driver_is_restarted_with_backoff_and_a_stop_ends_a_quiet_source(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.DRIVERS, "flaky", f"{__name__}:open_flaky")
    FlakySource.opens = FlakySource.closes = 0
    seen: list[SourceStatus] = []
    restarts: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(supervise_source("rdr", "flaky://x", lambda e: seen.append(e)  # type: ignore[arg-type]
                                                    if isinstance(e, SourceStatus) else None, stop,
                                                    on_restart=restarts.append))
        for _ in range(200):  # bounded: two restarts take at most 0.5 s + 1 s of backoff
            if FlakySource.opens == 3 and seen[-1].state == "connected":
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=5)  # the quiet source is closed, not waited for

    asyncio.run(scenario())
    states = [s.state for s in seen]
    assert states == ["connected", "error", "reconnecting", "connected", "error", "reconnecting", "connected",
                      "stopped"], states
    assert [s.attempt for s in seen if s.state == "reconnecting"] == [1, 2]
    assert "driver failed: RuntimeError: driver bug" in seen[1].detail
    assert restarts == ["rdr", "rdr"]
    assert FlakySource.closes == 3  # every instance closed once, the last one by the stop


def test_restart_delay_is_jittered_within_bounds() -> None:
    import random

    rng = random.Random(4)
    for attempt in range(1, 30):
        delay = restart_delay(attempt, base=0.5, cap=30.0, rng=rng)
        assert 0.25 <= delay <= min(30.0, 0.5 * 2 ** attempt)
