"""The outbox's shell: store composed messages, hand committed rows to the broker, delete them on PUBACK.

:class:`Sender` is the only part of publishing with threads.  :meth:`Sender.store` commits a call's
messages to the SQLite outbox (one statement) and then hands them to paho in row order (per-lane order
follows), from the calling thread when no other thread is sending, else through the sender thread.
A row is deleted after its PUBACK: the sender thread commits the deletions in batches (SQLite runs
without the GIL, so a batch overlaps with the next call's Python work); until then a crash only
re-sends, with the same ids.  After a broker outage paho re-sends what was in flight; after a crash
the next start replays every row still on disk, byte for byte, in row order.

Durability, and what it costs (``benchmarks/bench_publishing.py`` measures both modes against a
bare paho QoS 1 loop in the same run):

* ``durability="call"`` (the default; configured by ``mqtt.outbox.durability``): a call returns
  once its messages are committed.  Every guarantee holds at the call boundary: a passage whose
  ``publish_*`` returned survives a SIGKILL the next instant.  One SQLite commit per call.
* ``durability="group"``: a call only queues its messages; the sender thread commits everything
  queued meanwhile in one statement, then publishes it (group commit).  Nothing is published before
  it is on disk, ids and order are the same, but a SIGKILL loses the calls of the last few
  milliseconds that had returned and were not committed yet -- as it loses the reads the lane
  engine was holding in memory anyway.  It spends less CPU per message (fewer commits, and the
  caller only builds), so choose it when the publishing rate matters more than that window.

>>> import tempfile, pathlib, threading
>>> from gateway.publishing.outbox import Outbox, OutboxMessage
>>> class Link:  # what the sender needs of the broker connection (gateway.publishing.mqtt_client.MqttLink)
...     connected = threading.Event()
...     def publish(self, topic, payload, qos, retain, props):
...         return 1
>>> link = Link(); link.connected.set()
>>> sender = Sender(Outbox(pathlib.Path(tempfile.mkdtemp()) / "o.sqlite"), link)
>>> sender.store([OutboxMessage("bx/v1/t", b"{}")])  # committed, then handed to the link (paho mid 1)
>>> sender.outbox.depth()
1
>>> sender.on_ack(1, True)  # its PUBACK
>>> sender.start(); sender.wait_idle(5.0)  # the sender thread matches it to the row and deletes the row
True
>>> sender.stop(0.0)
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from gateway.publishing.outbox import Outbox, OutboxMessage

log = logging.getLogger(__name__)

ACK_LINGER_S = 0.005  # sender's poll while messages are in flight; commits deferred deletions after this pause
FLUSH_IDLE_S = 0.05  # the sender commits deferred deletions once writers paused this long ...
SENDER_DELETE_BATCH = 128  # ... or this many are waiting (before a writer's put would have to: see Outbox.put)
CHECKPOINT_S = 1.0  # the sender checkpoints the outbox's WAL this often (writers never do; each one fsyncs)
EXPIRE_S = 60.0  # the sender drops rows older than mqtt.outbox.max_age_s this often
Durability = Literal["call", "group"]


class Link(Protocol):
    """The broker connection as the sender uses it (:class:`~gateway.publishing.mqtt_client.MqttLink`)."""

    @property
    def connected(self) -> threading.Event: ...

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, props: Mapping[str, Any]) -> int: ...


class Sender:
    """Outbox rows to the broker, in row order, each deleted after its PUBACK.  Thread-safe."""

    def __init__(self, outbox: Outbox, link: Link, *, durability: Durability = "call", window: int = 1000) -> None:
        self.outbox, self.link = outbox, link
        self.durability = durability
        self.window = window  # rows handed to paho and not acknowledged yet, at most
        self.rejected_by_broker = 0
        self._queue: collections.deque[tuple[list[OutboxMessage], Mapping[str, int] | None]] = collections.deque()
        self._acks: collections.deque[tuple[int, bool]] = collections.deque()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id (under _send_lock)
        self._send_lock = threading.Lock()
        self._last_handed = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="bx-publisher", daemon=True)
        self._thread.start()

    def stop(self, flush_timeout: float) -> None:
        """Wait up to ``flush_timeout`` for the outbox to drain (while connected), then stop the thread."""
        deadline = time.monotonic() + flush_timeout
        while (self.outbox.depth() or self._queue) and self.link.connected.is_set() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._commit_queued()  # a call that raced with stop(): on disk, sent at the next start

    def wait_idle(self, timeout: float) -> bool:
        """True once every stored message has been acknowledged (tests, benchmarks, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0 and not self._queue:
                return True
            self._wake.set()
            time.sleep(0.01)
        return self.outbox.depth() == 0 and not self._queue

    def wake(self) -> None:
        """Look for work now (e.g. the connection is back)."""
        self._wake.set()

    def on_ack(self, mid: int, ok: bool) -> None:
        """A PUBACK (paho's thread, inside paho's locks: only noted; whoever holds the send lock next, a
        writer handing over or the sender thread within ACK_LINGER_S, matches it to its row)."""
        self._acks.append((mid, ok))

    # -- storing -----------------------------------------------------------------------------------

    def store(self, messages: list[OutboxMessage], counters: Mapping[str, int] | None = None) -> None:
        """Store ``messages``; nothing reaches paho before its outbox row is committed.

        ``durability="call"``: commit now (the call returns with the messages on disk), then hand them
        to paho from this thread if nobody else is sending (saves a thread switch per call).
        ``durability="group"`` (sender running): queue them; the sender thread commits everything
        queued meanwhile in one statement (group commit), then hands it over.
        """
        if self.durability == "group" and self._thread is not None and not self._stopping.is_set():
            self._queue.append((messages, counters))
            if not self._wake.is_set():
                self._wake.set()
            return
        self.outbox.put(messages, counters)
        if self._send_lock.acquire(blocking=False):
            try:
                self._send()
            finally:
                self._send_lock.release()
        else:
            self._wake.set()

    # -- the sender thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        last_expire = last_checkpoint = time.monotonic()
        outbox = self.outbox
        while not self._stopping.is_set():
            busy = self._inflight or self._acks or outbox.deferred_acks()
            self._wake.wait(ACK_LINGER_S if busy else 0.2)
            self._wake.clear()
            self._commit_queued()
            with self._send_lock:
                self._send()
            # Deletions are committed here, in batches, so that a writer's call only inserts: SQLite runs
            # without the GIL, so the DELETE overlaps with the writers building their next messages.
            if outbox.deferred_acks() and (outbox.idle_for() >= FLUSH_IDLE_S
                                           or outbox.deferred_acks() >= SENDER_DELETE_BATCH):
                outbox.flush_acks()
            if time.monotonic() - last_checkpoint > CHECKPOINT_S:
                last_checkpoint = time.monotonic()
                outbox.checkpoint()
            if time.monotonic() - last_expire > EXPIRE_S:
                last_expire = time.monotonic()
                outbox.expire()
        self._commit_queued()
        with self._send_lock:
            self._match_acks()
        outbox.flush_acks()

    def _commit_queued(self) -> None:
        """Group commit: everything queued by ``durability="group"`` writers, in one transaction."""
        batch: list[OutboxMessage] = []
        counters: dict[str, int] = {}
        while self._queue:
            messages, more = self._queue.popleft()
            batch += messages
            counters.update(more or {})
        if batch:
            try:
                self.outbox.put(batch, counters)
            except Exception:  # OutboxFull (reject_new) or a disk error: counted, reported, never silent
                log.exception("outbox refused %d queued message(s)", len(batch))

    def _send(self) -> None:
        """Match PUBACKs to rows, then hand over every committed row not handed yet, in row order
        (which keeps each lane's order).  Caller holds ``_send_lock``."""
        self._match_acks()
        if not self.link.connected.is_set():
            return
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        for row in self.outbox.take(after=self._last_handed, limit=room):
            try:
                mid = self.link.publish(row.topic, row.payload, row.qos, row.retain, row.props)
            except (RuntimeError, ValueError) as exc:
                log.warning("publish failed, will retry: %s", exc)
                break
            if row.qos == 0:
                self.outbox.ack([row.id], defer=True)  # QoS 0: no PUBACK will come
            else:
                self._inflight[mid] = row.id
            self._last_handed = row.id

    def _match_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            mid, ok = self._acks.popleft()
            row = self._inflight.pop(mid, None)
            if row is None:
                continue  # birth, capabilities, command responses: not outbox rows
            if not ok:
                self.rejected_by_broker += 1
                log.error("broker refused outbox row %d (not authorised?): dropped", row)
            done.append(row)
        self.outbox.ack(done, defer=True)
