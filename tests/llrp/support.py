"""Helpers for the LLRP tests: a raw LLRP socket peer and bounded event collection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from drivers.llrp.framing import LLRPFramer
from drivers.llrp.messages import Message
from gateway.reads import Read, SourceEvent, SourceStatus


class RawPeer:
    """A test-side LLRP endpoint on a real socket (no client logic)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = LLRPFramer(strict=True)
        self.inbox: list[Message] = []

    @classmethod
    async def connect(cls, host: str, port: int) -> RawPeer:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        return cls(r, w)

    async def recv(self, timeout: float = 5.0) -> Message:
        while not self.inbox:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise EOFError("peer closed")
            self.inbox += self.framer.feed(data)
        return self.inbox.pop(0)

    async def recv_until(self, pred: Callable[[Message], bool], timeout: float = 5.0, limit: int = 10_000) -> Message:
        for _ in range(limit):
            msg = await self.recv(timeout)
            if pred(msg):
                return msg
        raise AssertionError("message not seen")

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the peer closes (draining whatever it still sends)."""
        for _ in range(100_000):
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return True
        return False

    async def send(self, msg: Message) -> None:
        self.writer.write(msg.encode())
        await self.writer.drain()

    async def request(self, msg: Message, timeout: float = 5.0) -> Message:
        """Send and return the next non-report, non-keepalive message."""
        await self.send(msg)
        return await self.recv_until(lambda m: m.name not in ("RO_ACCESS_REPORT", "KEEPALIVE"), timeout)

    def close(self) -> None:
        self.writer.transport.abort()


async def collect(source: Any, reads: int = 0, until: Callable[[list[SourceEvent]], bool] | None = None,
                  timeout: float = 10.0, max_events: int = 100_000) -> list[SourceEvent]:
    """Events of ``source`` until ``reads`` reads (or ``until``) - bounded in time and count."""
    out: list[SourceEvent] = []

    async def run() -> None:
        async for ev in source.events():
            out.append(ev)
            n = sum(1 for e in out if isinstance(e, Read))
            if (reads and n >= reads) or (until is not None and until(out)) or len(out) >= max_events:
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        pass
    return out


def reads_of(events: list[SourceEvent]) -> list[Read]:
    return [e for e in events if isinstance(e, Read)]


def statuses(events: list[SourceEvent]) -> list[SourceStatus]:
    return [e for e in events if isinstance(e, SourceStatus)]
