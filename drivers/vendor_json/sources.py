"""I/O shells for vendor JSON feeds: an MQTT subscription and an HTTP NDJSON stream.

Both turn each JSON document into reads with a mapping function from
:mod:`drivers.vendor_json.mapping`, never raise for I/O faults (they report ``SourceStatus``
and reconnect with :class:`drivers.backoff.Backoff`), and deliver undecodable JSON as a
status detail rather than dropping it silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from drivers.backoff import Backoff
from drivers.vendor_json.mapping import VendorEventError
from gateway.json_limits import loads
from gateway.reads import SourceEvent, SourceStatus

Mapper = Callable[[Any, str, float], list[SourceEvent]]
_DONE = object()


class _QueueSource:
    def __init__(self, source_id: str, mapper: Mapper) -> None:
        self.source_id = source_id
        self.mapper = mapper
        self._queue: asyncio.Queue[SourceEvent | object] = asyncio.Queue()
        self._closing = False
        self.bad_documents = 0

    def _status(self, state: str, detail: str = "", attempt: int = 0) -> None:
        self._queue.put_nowait(SourceStatus(self.source_id, state, detail, attempt=attempt))  # type: ignore[arg-type]

    def _document(self, text: str | bytes) -> None:
        """One JSON document (an event, or a batch) -> queued reads."""
        host_time = time.time()
        try:
            doc = loads(text)  # nesting bounded before parsing (JsonLimitError is a ValueError)
            events = self.mapper(doc, self.source_id, host_time)
        except (ValueError, VendorEventError) as exc:
            self.bad_documents += 1
            self._status("connected", f"ignored bad event: {exc}")
            return
        except Exception as exc:  # a case the mapper did not foresee: this document only, never the feed
            self.bad_documents += 1
            self._status("connected", f"ignored an event the mapper could not take ({type(exc).__name__})")
            return
        for e in events:
            self._queue.put_nowait(e)

    async def _drain(self) -> AsyncIterator[SourceEvent]:
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            yield item  # type: ignore[misc]


def _mqtt_url(url: str) -> tuple[str, int, str]:
    """``(host, port, topic)`` of a vendor MQTT URL; ``ValueError`` names what is missing."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r}: no broker host")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ValueError(f"{url!r}: bad port") from None
    topic = unquote(parts.path.lstrip("/"))
    if url.endswith("#"):
        topic += "#"  # '#' starts a URL fragment: put the MQTT wildcard back
    if not topic:
        raise ValueError(f"{url!r}: no topic")
    return parts.hostname, port, topic


def check_mqtt_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``)."""
    _mqtt_url(url)


class MQTTJsonSource(_QueueSource):
    """``<scheme>://host[:1883]/topic/with/#`` : subscribe and map every message."""

    def __init__(self, source_id: str, url: str, mapper: Mapper) -> None:
        super().__init__(source_id, mapper)
        parts = urlsplit(url)
        self.host, self.port, self.topic = _mqtt_url(url)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self._client: Any = None
        self.subscribed = asyncio.Event()

    async def events(self) -> AsyncIterator[SourceEvent]:
        if self._client is None:
            self._start(asyncio.get_running_loop())
        async for e in self._drain():
            yield e

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-{self.source_id}-{id(self):x}")
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.reconnect_delay_set(1, 30)  # paho's own exponential backoff between reconnects
        call = loop.call_soon_threadsafe

        def on_connect(c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            if getattr(rc, "is_failure", False):
                call(self._status, "reconnecting", f"broker refused: {rc}")
                return
            c.subscribe(self.topic, qos=1)
            call(self._status, "connected", f"mqtt://{self.host}:{self.port}/{self.topic}")

        def on_subscribe(*_a: Any) -> None:
            call(self.subscribed.set)

        def on_disconnect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            if not self._closing:
                call(self._status, "reconnecting", f"broker connection lost: {rc}")

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            call(self._document, bytes(msg.payload))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        self._client = client
        self._status("starting", f"mqtt://{self.host}:{self.port}/{self.topic}")
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._client is not None:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)
        self._status("stopped", "closed")
        self._queue.put_nowait(_DONE)


class HTTPStreamSource(_QueueSource):
    """An HTTP NDJSON stream (Impinj ``GET /api/v1/data/stream``), reconnected with backoff."""

    def __init__(self, source_id: str, http_url: str, mapper: Mapper, backoff: Backoff | None = None,
                 timeout_s: float = 30.0) -> None:
        super().__init__(source_id, mapper)
        self.http_url = http_url
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None
        self.connections = 0

    async def events(self) -> AsyncIterator[SourceEvent]:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        async for e in self._drain():
            yield e

    async def _run(self) -> None:
        import httpx

        self._status("starting", self.http_url)
        timeout = httpx.Timeout(10.0, read=self.timeout_s)
        async with httpx.AsyncClient(timeout=timeout) as http:
            while not self._closing:
                try:
                    async with http.stream("GET", self.http_url) as resp:
                        if resp.status_code != 200:
                            raise ConnectionError(f"HTTP {resp.status_code}")
                        self.connections += 1
                        self.backoff.reset()
                        self._status("connected", self.http_url)
                        async for line in resp.aiter_lines():
                            if line.strip():
                                self._document(line)
                    reason = "stream ended"
                except (httpx.HTTPError, ConnectionError, OSError) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                if self._closing:
                    return
                delay = self.backoff.next_delay()
                self._status("reconnecting", f"{reason}; retry in {delay:.2f} s", attempt=self.backoff.attempt)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._status("stopped", "closed")
        self._queue.put_nowait(_DONE)
