"""Camera test helpers: scenes are rendered at test time into tmp_path (nothing large is stored)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.registry import open_source
from gateway.reads import Read, SourceEvent, SourceStatus


async def collect(url: str, *, until: Callable[[list[SourceEvent]], bool] | None = None,
                  timeout: float = 60.0, on_event: Callable[[SourceEvent], None] | None = None) -> list[SourceEvent]:
    """Every event of a source until it ends (or ``until`` holds); bounded by ``timeout``."""
    source = open_source("cam-test", url)
    events: list[SourceEvent] = []

    async def run() -> None:
        async for ev in source.events():
            events.append(ev)
            if on_event is not None:
                on_event(ev)
            if until is not None and until(events):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    finally:
        await source.close()
    return events


def reads(events: list[SourceEvent]) -> list[Read]:
    return [e for e in events if isinstance(e, Read)]


def statuses(events: list[SourceEvent]) -> list[SourceStatus]:
    return [e for e in events if isinstance(e, SourceStatus)]


@pytest.fixture(scope="session")
def clean_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 1080p frames of the ``clean`` scenario: every label kind once, with ground truth."""
    from simulators.camera_sim import write

    out = tmp_path_factory.mktemp("clean")
    write(out, "clean", 3, seed=5)
    return out
