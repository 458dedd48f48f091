"""The pre-clearance simulator's NATS intake: a JetStream durable pull consumer that N members share.

NATS's MQTT listener (nats-server 2.9/2.10) has no MQTT 5 and no shared subscriptions: a
``$share/{group}/...`` filter is an ordinary filter there and receives nothing.  But every MQTT PUBLISH
is also an ordinary NATS message on the mapped subject (``/`` -> ``.``, ``.`` -> ``//``), so

* a **stream** (``--nats-stream``, default ``BX_ENRICHED``, work-queue retention: a message is removed
  once acknowledged) captures ``bx.v1.customs.*.*.enriched.*``, the gateways' enriched records;
* one **durable pull consumer** on it, named after the group (``--group``), is shared by every member:
  each ``fetch`` hands a member messages no other member holds;
* a member acknowledges a message only after the PostgreSQL commit that stored it; what it held when it
  died is redelivered, to any member, after ``ack_wait`` (the store's ids make that harmless).
  ``max_ack_pending`` bounds what the group holds unacknowledged.

Stream and consumer are created by the first member that starts (idempotent; a member that finds them
already there binds to them as they are).  Create the stream before the gateways publish: NATS keeps
only what a stream captures.  In a cluster use ``--nats-replicas 3``.

The asyncio client runs in a thread of its own; :class:`NatsIntake` hands each message to a callback
(the simulator's queue) and takes acknowledgements from any thread.

>>> subject_to_topic("bx.v1.customs.post-1.gw-1.enriched.lane1")
'bx/v1/customs/post-1/gw-1/enriched/lane1'
>>> subject_to_topic("bx.v1.customs.a//b.gw.enriched.l")  # an MQTT '.' is '//' on NATS
'bx/v1/customs/a.b/gw/enriched/l'
>>> topic_filter_to_subject("bx/v1/customs/+/+/enriched/+")
'bx.v1.customs.*.*.enriched.*'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


def subject_to_topic(subject: str) -> str:
    """The MQTT topic a NATS subject carries (NATS's MQTT mapping reversed)."""
    return "/".join(token.replace("//", ".") for token in subject.split("."))


def topic_filter_to_subject(topic_filter: str) -> str:
    """An MQTT topic filter as a NATS subject filter (``+`` -> ``*``, ``#`` -> ``>``)."""
    tokens = []
    for level in topic_filter.split("/"):
        tokens.append("*" if level == "+" else ">" if level == "#" else level.replace(".", "//"))
    return ".".join(tokens)


@dataclass(frozen=True)
class NatsSettings:
    servers: tuple[str, ...]  # nats://host:port, one or more (a cluster's nodes)
    subject: str  # e.g. bx.v1.customs.*.*.enriched.*
    stream: str = "BX_ENRICHED"
    durable: str = "preclearance"
    replicas: int = 1
    ack_wait_s: float = 30.0
    max_ack_pending: int = 4000
    fetch_batch: int = 200
    backlog_max: int = 1000  # stop fetching while the worker has this many messages waiting


class NatsIntake:
    """``start()`` (stream and consumer ensured, fetching), ``ack(messages)``, ``stop_fetching()``, ``close()``."""

    def __init__(self, settings: NatsSettings, deliver: Callable[[str, bytes, Any], None],
                 backlog: Callable[[], int]) -> None:
        self.settings = settings
        self._deliver = deliver
        self._backlog = backlog
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bx-preclearance-nats", daemon=True)
        self._nc: Any = None
        self._fetcher: asyncio.Future[None] | None = None
        self._fetching = threading.Event()
        self._acks: list[Any] = []  # futures of the acknowledgements under way
        self._last_error = ""  # the client's latest error, logged once per change

    def start(self, timeout: float = 20.0) -> None:
        """Connect, ensure the stream and the durable consumer, start fetching; ConnectionError if NATS is
        unreachable or refuses them."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(self._connect(), timeout), self._loop)
        try:
            future.result(timeout + 5)
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, TimeoutError) and self._last_error:
                text = f"not ready within {timeout:.0f} s ({self._last_error})"
            self.close()
            raise ConnectionError(f"NATS {','.join(self.settings.servers)}: {text}") from None

    async def _connect(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import BadRequestError, NotFoundError

        s = self.settings

        async def on_error(exc: Exception) -> None:
            text = str(exc) or type(exc).__name__
            if text != self._last_error and self._nc is not None:  # once per change; before the first
                log.warning("NATS: %s", text)  # connection the start-up error says it in one line
            self._last_error = text

        try:  # once connected, the client reconnects for ever; the first connection gets 15 s
            self._nc = await asyncio.wait_for(nats.connect(
                servers=list(s.servers), connect_timeout=5, max_reconnect_attempts=-1, reconnect_time_wait=1,
                error_cb=on_error, name=f"bx-preclearance-{s.durable}"), 15)
        except TimeoutError:
            raise ConnectionError(f"cannot connect ({self._last_error or 'no answer'})") from None
        js = self._nc.jetstream(timeout=10)
        for attempt in range(5):  # JetStream may still be electing leaders, members may race
            try:
                try:
                    await js.stream_info(s.stream)
                except NotFoundError:
                    await js.add_stream(StreamConfig(
                        name=s.stream, subjects=[s.subject], retention=RetentionPolicy.WORK_QUEUE,
                        storage=StorageType.FILE, num_replicas=s.replicas))
                try:
                    await js.consumer_info(s.stream, s.durable)
                except NotFoundError:
                    await js.add_consumer(s.stream, ConsumerConfig(
                        durable_name=s.durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                        ack_wait=s.ack_wait_s, max_ack_pending=s.max_ack_pending, filter_subject=s.subject,
                        max_waiting=512))
                break
            except (TimeoutError, BadRequestError, nats.errors.TimeoutError) as exc:
                if attempt == 4:
                    raise
                log.warning("NATS: stream/consumer not ready (%s): retrying", exc)
                await asyncio.sleep(0.5 * (attempt + 1))
        sub = await js.pull_subscribe_bind(s.durable, s.stream)
        self._fetching.set()
        self._fetcher = asyncio.ensure_future(self._fetch(sub))

    async def _fetch(self, sub: Any) -> None:
        import nats

        s = self.settings
        busy = False
        while self._fetching.is_set():
            if self._backlog() >= s.backlog_max:
                await asyncio.sleep(0.01)
                continue
            # A pull that finds nothing waiting lingers on the server until its batch is full or it expires:
            # idle, ask for one message (handed over the moment it arrives); busy, for a batch, which
            # returns what is waiting at once and lingers at most 20 ms for the rest.
            try:
                messages = await (sub.fetch(s.fetch_batch, timeout=0.02) if busy else sub.fetch(1, timeout=0.5))
            except (TimeoutError, nats.errors.TimeoutError):
                busy = False
                continue
            except Exception as exc:  # a node went away, a reconnect: try again
                log.warning("NATS fetch: %s", exc)
                await asyncio.sleep(0.5)
                continue
            busy = True
            now = time.time()
            for message in messages:
                self._deliver(subject_to_topic(message.subject), message.data, (message, now))

    def ack(self, messages: Sequence[Any]) -> None:
        """Acknowledge (from any thread; after the commit).  A lost ack only means a redelivery."""
        if not messages or self._nc is None or not self._loop.is_running():
            return

        async def ack_all() -> None:
            for message in messages:
                try:
                    await message.ack()
                except Exception as exc:
                    log.warning("NATS ack: %s", exc)
                    return

        future = asyncio.run_coroutine_threadsafe(ack_all(), self._loop)
        self._acks = [f for f in self._acks if not f.done()] + [future]

    def stop_fetching(self, timeout: float = 5.0) -> None:
        self._fetching.clear()
        if self._fetcher is not None and self._loop.is_running():
            fetcher = self._fetcher

            async def wait() -> None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(fetcher), timeout)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(wait(), self._loop).result(timeout + 1)

    def close(self) -> None:
        """Flush the acknowledgements sent so far, close the connection and the loop's thread."""
        self.stop_fetching()
        for future in self._acks:
            with contextlib.suppress(Exception):
                future.result(5)
        if self._loop.is_running():
            if self._nc is not None:
                nc = self._nc

                async def drain() -> None:
                    with contextlib.suppress(Exception):
                        await nc.flush(timeout=5)
                    with contextlib.suppress(Exception):
                        await nc.close()

                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(drain(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
