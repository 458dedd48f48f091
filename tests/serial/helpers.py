"""Bounded event collection for the serial driver tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from drivers.registry import open_source
from gateway.reads import Read, SourceEvent, SourceStatus


class Collector:
    """Runs ``source.events()`` in a task; ``wait_for(predicate)`` waits (bounded) for a condition."""

    def __init__(self, url: str, source_id: str = "t1") -> None:
        self.source = open_source(source_id, url)
        self.events: list[SourceEvent] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        async def pump() -> None:
            async for event in self.source.events():
                self.events.append(event)
        self._task = asyncio.create_task(pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.wait_for(self.source.close(), 10)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except TimeoutError:
                self._task.cancel()

    @property
    def reads(self) -> list[Read]:
        return [e for e in self.events if isinstance(e, Read)]

    @property
    def statuses(self) -> list[SourceStatus]:
        return [e for e in self.events if isinstance(e, SourceStatus)]

    def states(self) -> list[str]:
        return [s.state for s in self.statuses]

    async def wait_for(self, predicate: Callable[[Collector], Any], timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            if loop.time() > deadline:
                raise AssertionError(f"condition not met in {timeout} s; states={self.states()} "
                                     f"reads={len(self.reads)}")
            await asyncio.sleep(0.02)


def async_test(fn: Callable[..., Any]) -> Callable[..., None]:
    """Run an ``async def`` test with ``asyncio.run`` (no pytest-asyncio in this project)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper
