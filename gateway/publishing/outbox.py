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

import collections
import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from gateway.storage.schema import migrate
from gateway.storage.schemas import OUTBOX

log = logging.getLogger(__name__)

FullPolicy = Literal["drop_oldest", "reject_new"]
DropReason = Literal["full", "age"]

def _props_json(props: Mapping[str, object]) -> str:
    """The stored form of a message's MQTT 5 properties (flat strings and numbers: orjson, compact)."""
    return orjson.dumps(props).decode("utf-8")


AUTOCHECKPOINT_PAGES = 20_000  # 80 MB of WAL: only reached when nobody calls Outbox.checkpoint()
_INSERT = ("INSERT INTO outbox (topic, payload, qos, retain, props, lane, created, counter_key, counter_value) "
           "VALUES ")
_ROW = "(?,?,?,?,?,?,?,?,?)"
_CHUNK = 500  # rows per INSERT statement (9 parameters each; SQLite allows 32766)


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
    """SQLite-backed FIFO of messages awaiting their PUBACK.  Thread-safe.

    Writers call :meth:`put` (one transaction per call, committed before it returns).  The sender
    reads with :meth:`take`, which serves rows committed by this process from memory (no SELECT,
    no JSON decoding) and falls back to SQLite for anything older, e.g. rows left by a previous run;
    :meth:`pending` always reads SQLite.  Acknowledgements may be deferred (``ack(ids, defer=True)``):
    their DELETE is committed in batches by :meth:`flush_acks` (the publisher's sender thread, off the
    writers' path) or, when nobody flushes, by the next :meth:`put` once :attr:`DELETE_BATCH` are
    waiting; until then the rows still count in :meth:`depth` and a crash only means they are sent
    again, with the same ids.
    """

    #: rows kept in memory for :meth:`take` before it falls back to reading SQLite
    MEMORY_ROWS = 20_000
    #: a :meth:`put` first deletes the deferred acknowledgements once this many are waiting
    DELETE_BATCH = 256

    def __init__(self, path: Path, *, max_messages: int = 200_000, max_age_s: float = 7 * 86_400,
                 when_full: FullPolicy = "drop_oldest",
                 on_drop: Callable[[DropReason, int], None] | None = None,
                 clock: Callable[[], float] = time.time, counter_retention_s: float = 90 * 86_400) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.when_full = when_full
        self.on_drop = on_drop
        self.stats = OutboxStats()
        self._clock = clock
        self._lock = threading.Lock()  # the SQLite connection
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed row survives a crash or SIGKILL of the process.
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Writers do not checkpoint (copying the WAL into the database and fsyncing it is the slow,
        # bursty part of SQLite); :meth:`checkpoint`, called by the sender thread on its own
        # connection, does it alongside.  The large automatic threshold is only a safety net.
        self._db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        migrate(self._db, OUTBOX, path)  # the schema and its migrations: gateway.storage.schemas.OUTBOX
        self._checkpointer: sqlite3.Connection | None = None
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        # Rows with an id above ``_floor`` are all in ``_recent`` (in id order) until taken.
        self._mem_lock = threading.Lock()  # _recent and _floor: never held across SQLite calls
        self._recent: collections.deque[OutboxMessage] = collections.deque()
        self._floor = self._max_id()
        self._acked: list[int] = []  # acknowledged, DELETE not yet committed (under _mem_lock)
        self._db.execute("DELETE FROM counters WHERE updated < ?", (clock() - counter_retention_s,))
        self._counters: dict[str, int] = dict(self._db.execute("SELECT key, value FROM counters"))
        self._last_put = time.monotonic()

    def _max_id(self) -> int:
        row = self._db.execute("SELECT MAX(id) FROM outbox").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        self.flush_acks()
        with self._lock:
            self._db.close()
            if self._checkpointer is not None:
                self._checkpointer.close()

    def checkpoint(self) -> None:
        """Copy the WAL into the database without blocking writers (SQLite PASSIVE checkpoint).

        Called from one thread (the publisher's sender) on a connection of its own.
        """
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._checkpointer.execute("PRAGMA synchronous=NORMAL")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    # -- writing -----------------------------------------------------------------------------

    def put(self, messages: Sequence[OutboxMessage], counters: Mapping[str, int] | None = None) -> list[int]:
        """Store ``messages`` atomically; returns their row ids (the replay order).

        ``counters`` (from :meth:`next_count`) are persisted atomically with the messages.  Usually
        this is one SQLite statement: its implicit transaction is the only commit (each statement
        also hands the GIL to the network threads and back, so fewer statements matter).
        """
        dropped = removed = refused = 0
        ids: list[int] = []
        now = self._clock()
        extra = list((counters or {}).items())
        rows = [(m.topic, m.payload, m.qos, int(m.retain), _props_json(m.props), m.lane, m.created or now,
                 *(extra.pop() if extra else (None, None))) for m in messages]
        if extra:
            raise ValueError(f"more counters than messages: {len(counters or {})} for {len(messages)}")
        with self._lock:
            # Deleting in runs of hundreds frees whole pages: fewer page writes than a few rows per put.
            if len(self._acked) >= self.DELETE_BATCH:
                removed = self._commit_deletes()
            overflow = self._depth - removed + len(rows) - self.max_messages
            if overflow > 0 and self.when_full == "reject_new":
                refused = len(rows)
            elif overflow > 0 or len(rows) > _CHUNK:
                db = self._db
                db.execute("BEGIN IMMEDIATE")
                try:
                    if overflow > 0:
                        dropped = self._delete_oldest(overflow)
                    ids = self._insert(rows)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            elif rows:
                ids = self._insert(rows)  # autocommit: one statement, atomic on its own
            self._depth += len(ids) - dropped
            self.stats.enqueued += len(ids)
            self.stats.dropped_full += dropped
            self.stats.rejected += refused
            self._last_put = time.monotonic()
            with self._mem_lock:
                if dropped or len(self._recent) + len(ids) > self.MEMORY_ROWS:
                    self._forget_recent(ids[-1] if ids else self._floor)
                elif ids:
                    self._recent.extend(
                        OutboxMessage(m.topic, m.payload, m.qos, m.retain, m.props, m.lane, i, r[6])
                        for m, i, r in zip(messages, ids, rows, strict=True))
        if refused:
            log.error("outbox full (%d messages, policy reject_new): refusing %d new message(s)",
                      self._depth, refused)
            self._report("full", refused)
            raise OutboxFull(f"outbox {self.path} holds {self.max_messages} messages (policy reject_new)")
        if dropped:
            log.error("outbox full (max %d, policy drop_oldest): dropped the %d oldest message(s)",
                      self.max_messages, dropped)
            self._report("full", dropped)
        return ids

    def _insert(self, rows: Sequence[tuple[object, ...]]) -> list[int]:
        """Multi-row INSERTs (one statement per ``_CHUNK`` rows, not one per row)."""
        ids: list[int] = []
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            cursor = self._db.execute(_INSERT + ",".join([_ROW] * len(chunk)), [x for row in chunk for x in row])
            last = int(cursor.lastrowid or 0)
            # AUTOINCREMENT, one statement, single writer: the rows got consecutive ids, in order.
            ids.extend(range(last - len(chunk) + 1, last + 1))
        return ids

    def _forget_recent(self, floor: int) -> None:
        """Stop serving from memory up to ``floor`` (after drops, or when memory is full): read SQLite."""
        self._recent.clear()
        self._floor = max(self._floor, floor)

    def next_count(self, key: str) -> int:
        """The next value of a persistent counter (1, 2, ...); persist it with ``put(..., counters=)``.

        The publisher numbers re-enrichments of one observation this way, in the same transaction as
        the messages that carry the number.  Counters live in memory (loaded when the outbox opens);
        those untouched for ``counter_retention_s`` are forgotten at the next open.
        """
        with self._mem_lock:
            value = self._counters[key] = self._counters.get(key, 0) + 1
        return value

    def _delete_oldest(self, count: int) -> int:
        cursor = self._db.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (count,))
        return cursor.rowcount

    def ack(self, ids: Iterable[int], *, defer: bool = False) -> None:
        """The broker acknowledged these rows: forget them.

        With ``defer`` the DELETE waits for the next :meth:`put` or :meth:`flush_acks` (see the class).
        """
        ids = list(ids)
        if not ids:
            return
        with self._mem_lock:
            self._acked.extend(ids)
        if not defer:
            self.flush_acks()

    def deferred_acks(self) -> int:
        """Acknowledged rows whose DELETE is not committed yet."""
        return len(self._acked)

    def idle_for(self) -> float:
        """Seconds since the last :meth:`put` (the sender flushes deferred acks once writers pause)."""
        return time.monotonic() - self._last_put

    def flush_acks(self) -> int:
        """Commit the deletion of every acknowledged row now; returns how many rows went."""
        with self._lock:
            return self._commit_deletes()

    def _commit_deletes(self) -> int:
        """Delete the acknowledged rows (caller holds ``_lock``): one autocommit DELETE per 200 id ranges.

        Deletions need no atomicity with anything else: a row deleted late is only sent again.
        """
        acked = self._swap_acked()
        ranges = _ranges(sorted(acked))
        removed = 0
        try:
            for start in range(0, len(ranges), 200):
                chunk = ranges[start:start + 200]
                sql = "DELETE FROM outbox WHERE " + " OR ".join(["id BETWEEN ? AND ?"] * len(chunk))
                removed += self._db.execute(sql, [x for r in chunk for x in r]).rowcount
                done = chunk[-1][1]
                acked = [i for i in acked if i > done]
        except BaseException:
            self._restore_acked(acked)
            raise
        finally:
            self._depth -= removed
            self.stats.acked += removed
        return removed

    def _swap_acked(self) -> list[int]:
        with self._mem_lock:
            acked, self._acked = self._acked, []
        return acked

    def _restore_acked(self, acked: list[int]) -> None:
        with self._mem_lock:
            self._acked[:0] = acked

    def expire(self) -> int:
        """Drop rows older than ``max_age_s`` (counted, logged and reported); returns how many."""
        cutoff = self._clock() - self.max_age_s
        with self._lock:
            removed = self._db.execute("DELETE FROM outbox WHERE created < ?", (cutoff,)).rowcount
            self._depth -= removed
            self.stats.dropped_age += removed
            if removed:
                floor = self._max_id()
                with self._mem_lock:
                    self._forget_recent(floor)
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

    def take(self, after: int, limit: int = 500) -> list[OutboxMessage]:
        """Like :meth:`pending`, for the single sender: from memory when possible.

        Rows up to ``after`` are treated as handed over and leave the memory queue.
        """
        with self._mem_lock:
            if after >= self._floor:
                recent = self._recent
                while recent and recent[0].id <= after:
                    recent.popleft()
                return list(itertools.islice(recent, limit))
        return self.pending(after, limit)

    def pending(self, after: int, limit: int = 500) -> list[OutboxMessage]:
        """Rows with an id greater than ``after``, oldest first (read from SQLite)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, props, lane, created FROM outbox WHERE id > ? "
                "ORDER BY id LIMIT ?", (after, limit)).fetchall()
        return [OutboxMessage(topic=r[1], payload=bytes(r[2]), qos=int(r[3]), retain=bool(r[4]),
                              props=orjson.loads(r[5]), lane=r[6], id=int(r[0]), created=float(r[7]))
                for r in rows]

    def depth(self) -> int:
        """Messages waiting for their PUBACK (metric ``bx_outbox_depth``)."""
        return self._depth

    def oldest_age(self) -> float:
        """Seconds since the oldest waiting message was stored; 0 when empty (``bx_outbox_age_seconds``)."""
        with self._lock:
            row = self._db.execute("SELECT MIN(created) FROM outbox").fetchone()
        return max(0.0, self._clock() - float(row[0])) if row and row[0] is not None else 0.0


def _ranges(ids: Sequence[int]) -> list[tuple[int, int]]:
    """``[1, 2, 3, 7, 8]`` -> ``[(1, 3), (7, 8)]`` (acks mostly arrive in order)."""
    out: list[tuple[int, int]] = []
    for i in ids:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        elif not out or i > out[-1][1]:
            out.append((i, i))
    return out
