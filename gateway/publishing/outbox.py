"""A durable outbox: every MQTT message is on disk before it is published.

Rows are written (SQLite, WAL) by :meth:`Outbox.put` before the publisher sees them and deleted
by :meth:`Outbox.ack` only once the broker's PUBACK arrived, so a broker outage of any length or a
SIGKILL of the gateway loses nothing: on restart the rows are replayed, byte for byte (same
CloudEvents ids), in insertion order, which keeps every lane's messages in order.

>>> import tempfile, pathlib
>>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.sqlite", max_messages=10)
>>> first = box.put([OutboxMessage("bx/v1/t", b"{}", lane="L1")])
>>> [m.topic for m in box.pending(after=0)], box.depth()
(['bx/v1/t'], 1)
>>> box.ack(first); box.depth()
0

Bounds: ``max_messages`` with an explicit policy when full (``drop_oldest`` or ``reject_new``)
and ``max_age_s`` for rows nobody could deliver.  Nothing is dropped silently: each drop counts in
:attr:`Outbox.stats`, is logged, and is reported to ``on_drop`` (the publisher turns that into a
status event).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

FullPolicy = Literal["drop_oldest", "reject_new"]
DropReason = Literal["full", "age"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    props TEXT NOT NULL,
    lane TEXT,
    created REAL NOT NULL
);
"""


class OutboxFull(RuntimeError):
    """The outbox reached ``max_messages`` and its policy is ``reject_new``."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One MQTT publication as stored: ``props`` are the MQTT 5 properties (see :mod:`mqtt_client`)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    props: dict[str, object] = field(default_factory=dict)
    lane: str | None = None
    id: int = 0  # row id once stored
    created: float = 0.0


@dataclass
class OutboxStats:
    enqueued: int = 0
    acked: int = 0
    dropped_full: int = 0
    dropped_age: int = 0
    rejected: int = 0


class Outbox:
    """SQLite-backed FIFO of messages awaiting their PUBACK.  Thread-safe."""

    def __init__(self, path: Path, *, max_messages: int = 200_000, max_age_s: float = 7 * 86_400,
                 when_full: FullPolicy = "drop_oldest",
                 on_drop: Callable[[DropReason, int], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.when_full = when_full
        self.on_drop = on_drop
        self.stats = OutboxStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed row survives a crash or SIGKILL of the process.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -----------------------------------------------------------------------------

    def put(self, messages: Sequence[OutboxMessage]) -> list[int]:
        """Store ``messages`` in one transaction; returns their row ids (the replay order)."""
        dropped = 0
        now = self._clock()
        with self._lock:
            overflow = self._depth + len(messages) - self.max_messages
            if overflow > 0 and self.when_full == "reject_new":
                self.stats.rejected += len(messages)
                log.error("outbox full (%d messages, policy reject_new): refusing %d new message(s)",
                          self._depth, len(messages))
                refused = len(messages)
            else:
                refused = 0
            if not refused:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if overflow > 0:
                        dropped = self._delete_oldest(overflow)
                    ids = [self._insert(m, now) for m in messages]
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._depth += len(ids) - dropped
                self.stats.enqueued += len(ids)
                self.stats.dropped_full += dropped
        if refused:
            self._report("full", refused)
            raise OutboxFull(f"outbox {self.path} holds {self.max_messages} messages (policy reject_new)")
        if dropped:
            log.error("outbox full (max %d, policy drop_oldest): dropped the %d oldest message(s)",
                      self.max_messages, dropped)
            self._report("full", dropped)
        return ids

    def _insert(self, m: OutboxMessage, now: float) -> int:
        cursor = self._db.execute(
            "INSERT INTO outbox (topic, payload, qos, retain, props, lane, created) VALUES (?,?,?,?,?,?,?)",
            (m.topic, m.payload, m.qos, int(m.retain), json.dumps(m.props, separators=(",", ":")), m.lane,
             m.created or now))
        return int(cursor.lastrowid or 0)

    def _delete_oldest(self, count: int) -> int:
        cursor = self._db.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (count,))
        return cursor.rowcount

    def ack(self, ids: Iterable[int]) -> None:
        """The broker acknowledged these rows: forget them."""
        batch = [(i,) for i in ids]
        if not batch:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            removed = self._db.executemany("DELETE FROM outbox WHERE id = ?", batch).rowcount
            self._db.execute("COMMIT")
            self._depth -= removed
            self.stats.acked += removed

    def expire(self) -> int:
        """Drop rows older than ``max_age_s`` (counted, logged and reported); returns how many."""
        cutoff = self._clock() - self.max_age_s
        with self._lock:
            removed = self._db.execute("DELETE FROM outbox WHERE created < ?", (cutoff,)).rowcount
            self._depth -= removed
            self.stats.dropped_age += removed
        if removed:
            log.error("outbox: dropped %d message(s) older than %.0f s that could not be delivered",
                      removed, self.max_age_s)
            self._report("age", removed)
        return removed

    def _report(self, reason: DropReason, count: int) -> None:
        if self.on_drop is not None:
            try:
                self.on_drop(reason, count)
            except Exception:  # a faulty observer must not break the outbox
                log.exception("outbox on_drop callback failed")

    # -- reading -----------------------------------------------------------------------------

    def pending(self, after: int, limit: int = 500) -> list[OutboxMessage]:
        """Rows with an id greater than ``after``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, props, lane, created FROM outbox WHERE id > ? "
                "ORDER BY id LIMIT ?", (after, limit)).fetchall()
        return [OutboxMessage(topic=r[1], payload=bytes(r[2]), qos=int(r[3]), retain=bool(r[4]),
                              props=json.loads(r[5]), lane=r[6], id=int(r[0]), created=float(r[7]))
                for r in rows]

    def depth(self) -> int:
        """Messages waiting for their PUBACK (metric ``bx_outbox_depth``)."""
        return self._depth

    def oldest_age(self) -> float:
        """Seconds since the oldest waiting message was stored; 0 when empty (``bx_outbox_age_seconds``)."""
        with self._lock:
            row = self._db.execute("SELECT MIN(created) FROM outbox").fetchone()
        return max(0.0, self._clock() - float(row[0])) if row and row[0] is not None else 0.0
