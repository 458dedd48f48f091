"""The passage history: SQLite in the storage directory (``history.sqlite``), what ``/api/passages`` reads.

Each passage has one summary row (``passages``: what the listing shows, its current revision, its
declarations and flags, and the closed passage itself, so that late data can re-enrich it after a restart)
and an append-only list of events (``events``), each with its time, its source and a JSON body:

* ``opened`` (the lane engine): lane, direction, when;
* ``closed`` (the lane engine): the passage view (counts, identifiers with their reads, the vehicle's
  plates and container codes, triggers) and a reads summary;
* ``enriched`` (``enrichment`` at close, ``late:<reason>`` afterwards): revision N with its links, flags,
  declarations, routing and the lane decision when there is one;
* ``decision`` and ``signal`` (:meth:`HistoryStore.record`: central decisions, lane signals).

Writes never wait on the disk in the caller: they are queued to a writer thread that commits them in
batches (WAL, ``synchronous=NORMAL``: no fsync per commit), so the close path costs a queue put.  Reads
first wait for what was queued before them (bounded), so a passage recorded is a passage listed.  Sizes
are bounded: an event body over ``max_body_bytes`` is replaced by a note of its size, a passage keeps at
most ``max_events`` events (more are counted in ``dropped``), the queue holds at most ``max_queue``
writes (more are dropped and counted, never blocking the lane).  Retention is the ``passage_history``
kind of ``storage.retention`` (:mod:`gateway.storage.retention`): deleting a summary row deletes the rest.

>>> from gateway.lane.passage import Passage
>>> store = HistoryStore(":memory:")
>>> from gateway.enrichment.result import EnrichmentResult
>>> p = Passage("p-1", "lane1", "inbound", "closed", 10.0, 12.0, "quiet")
>>> store.record_closed(p, {"id": "p-1", "lane": "lane1", "closed_at": 12.0, "declarations": [],
...                         "flags": [{"code": "NO_DECLARATION", "severity": "high"}]},
...                     EnrichmentResult(passage_id="p-1", lane="lane1"), 1)
>>> store.record("p-1", "signal", 12.5, "local", {"state": "inspection"})
>>> [(e["kind"], e["source"]) for e in store.passage_history("p-1")["events"]]
[('opened', 'lane'), ('closed', 'lane'), ('enriched', 'enrichment'), ('signal', 'local')]
>>> [row["id"] for row in store.query(flag="NO_DECLARATION")], store.query(flag="OTHER")
(['p-1'], [])
>>> store.recent_flags()[0]["code"], store.passage_history("nope")
('NO_DECLARATION', None)
>>> store.close()
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from gateway.enrichment.result import EnrichmentResult
from gateway.history.codec import decode_passage, encode_passage
from gateway.history.keys import passage_keys
from gateway.lane.passage import Passage
from gateway.storage.files import HISTORY_DB
from gateway.storage.schema import open_database
from gateway.storage.schemas import HISTORY

log = logging.getLogger(__name__)

EventKind = Literal["opened", "closed", "enriched", "decision", "signal"]
EVENT_KINDS: tuple[str, ...] = ("opened", "closed", "enriched", "decision", "signal")
_IN_CHUNK = 500

Recorder = Callable[[str, str, float, str, dict[str, Any]], None]
"""``record(passage_id, kind, at, source, body)``: what other parts call to add to a passage's history."""


@dataclass(frozen=True, slots=True)
class ClosedPassage:
    """What re-enrichment needs of a recorded passage."""

    passage: Passage
    revision: int  # the last revision recorded (0: none)
    first_mrns: list[str]  # the MRNs of its first record: its observation's event hash depends on them
    signature: str | None  # :func:`result_signature` of the last revision
    row: dict[str, Any]  # the listing row of the last revision


def result_signature(result: EnrichmentResult | None) -> str:
    """What makes a revision differ from the last one: links, flags, declarations, routing, decision.

    >>> result_signature(None) == result_signature(None), len(result_signature(None))
    (True, 32)
    """
    import hashlib

    if result is None:
        body: Any = None
    else:
        body = {"links": [link.model_dump(mode="json") for link in result.links],
                "flags": sorted((f.code, f.severity, str(f.rule) if f.rule else "") for f in result.flags),
                "refs": [ref.model_dump(mode="json") for ref in result.declaration_refs],
                "routing": [r.model_dump(mode="json") for r in result.routing],
                "decision": result.decision,
                "lane": None if result.lane_decision is None else result.lane_decision.model_dump(mode="json")}
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


_REVISION_FIELDS = ("declarations", "flags", "routing", "matches", "linked_by", "links", "lane_decision",
                    "enrichment")
_CLOSED_FIELDS = ("direction", "state", "opened_at", "closed_at", "close_reason", "counts", "identifiers",
                  "truncated", "vehicle", "triggers")


def revision_of(customs_id: str | None) -> int:
    """The revision in a customs record's CloudEvents id (``{hash}#customs/r{n}``); 0 without a record.

    >>> revision_of("ni:///sha-256;ab?ver=CBV2.0#customs/r2"), revision_of(None)
    (2, 0)
    """
    if not customs_id:
        return 0
    tail = customs_id.rpartition("/r")[2]
    return int(tail) if tail.isdigit() else 0


def revision_body(record: dict[str, Any], revision: int, result: EnrichmentResult | None = None,
                  reason: str | None = None) -> dict[str, Any]:
    """An ``enriched`` event's body: the closed-passage record's enrichment (:func:`~gateway.service.views.
    result_view`: MRNs, flags, routing, matches, lane decision) with the links and declaration versions."""
    body: dict[str, Any] = {key: record[key] for key in _REVISION_FIELDS if key in record}
    body["revision"] = revision
    if result is not None:
        body["links"] = [link.model_dump(mode="json", by_alias=True, exclude_none=True) for link in result.links]
        body["declaration_refs"] = [ref.model_dump(mode="json", by_alias=True, exclude_none=True)
                                    for ref in result.declaration_refs]
    if reason:
        body["reason"] = reason
    return body


class HistoryStore:
    """The history of every passage.  Thread-safe; writes are queued, reads see every earlier write."""

    def __init__(self, path: str | Path = ":memory:", *, max_body_bytes: int = 256 * 1024, max_events: int = 500,
                 max_queue: int = 20_000, batch: int = 500) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.max_body_bytes, self.max_events, self.batch = max_body_bytes, max_events, batch
        self.dropped_writes = 0  # writes refused because the queue was full (never silent: logged, counted)
        # one writer connection (the writer thread) and one reader connection (API, re-enrichment); an
        # in-memory database is one connection for both (SQLite gives each connection its own ":memory:")
        # a purge from another process (``border-gateway purge``) may hold the write lock a while: wait for it
        self._db = open_database(self.path, HISTORY, timeout=30.0)
        self._read = self._db if memory else sqlite3.connect(self.path, check_same_thread=False,
                                                             isolation_level=None)
        self._write_lock = threading.Lock()
        self._read_lock = self._write_lock if memory else threading.Lock()
        self._queue: queue.Queue[Callable[[sqlite3.Connection], None] | threading.Event | None] = \
            queue.Queue(maxsize=max_queue)
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="history-writer", daemon=True)
        self._writer.start()

    @classmethod
    def for_storage_dir(cls, directory: str | Path, **kwargs: Any) -> HistoryStore:
        return cls(Path(directory) / HISTORY_DB, **kwargs)

    def close(self) -> None:
        if self._closed:
            return
        self.flush(10.0)
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout=10.0)
        with self._write_lock:
            self._db.close()
            if self._read is not self._db:
                self._read.close()

    # -- writes (queued) ----------------------------------------------------------------------------------

    def _submit(self, op: Callable[[sqlite3.Connection], None]) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(op)
        except queue.Full:
            self.dropped_writes += 1
            if self.dropped_writes == 1 or self.dropped_writes % 1000 == 0:
                log.error("passage history: %d writes dropped (the writer cannot keep up)", self.dropped_writes)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued before this call is committed."""
        if self._closed or threading.current_thread() is self._writer:
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            ops = [first]
            while len(ops) < self.batch:
                try:
                    ops.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(op is None for op in ops)
            events = [op for op in ops if isinstance(op, threading.Event)]
            work = [op for op in ops if op is not None and not isinstance(op, threading.Event)]
            if work:
                with self._write_lock:
                    self._apply(work)
            for event in events:
                event.set()
            if stop:
                return

    def _apply(self, work: Sequence[Callable[[sqlite3.Connection], None]]) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            for op in work:
                db.execute("SAVEPOINT op")
                try:
                    op(db)
                except Exception:  # one bad write (a body that is not JSON) never costs the others
                    log.exception("passage history: a write failed")
                    db.execute("ROLLBACK TO op")
                db.execute("RELEASE op")
            db.execute("COMMIT")
        except sqlite3.Error:
            log.exception("passage history: a batch of %d writes failed", len(work))
            if db.in_transaction:
                db.execute("ROLLBACK")

    def record(self, passage_id: str, kind: str, at: float, source: str, body: dict[str, Any]) -> None:
        """Append an event to a passage's history (``decision``, ``signal`` ...); never blocks, never raises
        for a bad body (it is logged).  An event for a passage not recorded yet starts its summary row."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown history event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
        text = self._body(body)

        def op(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR IGNORE INTO passages (id, opened_at, updated) VALUES (?, ?, ?)",
                       (passage_id, at, at))
            if kind == "signal" and isinstance(body.get("state"), str):
                db.execute("UPDATE passages SET signal = ? WHERE id = ?", (body["state"], passage_id))
            self._append(db, passage_id, kind, at, source, text)

        self._submit(op)

    def record_closed(self, passage: Passage, record: dict[str, Any], result: EnrichmentResult | None,
                      revision: int, at: float | None = None) -> None:
        """A passage closed: its summary row, ``opened``, ``closed`` and (when enriched) ``enriched`` r1.

        ``record`` is the closed-passage record (:func:`gateway.service.views.result_view`); the work
        (keys, JSON) is done on the writer thread.
        """
        closed_at = passage.closed_at if passage.closed_at is not None else (at or time.time())
        opened = {"lane": passage.lane, "direction": passage.direction}

        def op(db: sqlite3.Connection) -> None:
            row = dict(record, revision=revision)
            closed: dict[str, Any] = {key: record[key] for key in _CLOSED_FIELDS if key in record}
            closed["reads"] = _reads_summary(passage)
            first_mrns = result.mrns if result is not None else []
            db.execute("INSERT INTO passages (id, lane, direction, opened_at, closed_at, close_reason, revision, "
                       "first_mrns, declarations, signature, row, passage, updated) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                       "lane = excluded.lane, direction = excluded.direction, opened_at = excluded.opened_at, "
                       "closed_at = excluded.closed_at, close_reason = excluded.close_reason, "
                       "revision = excluded.revision, first_mrns = excluded.first_mrns, "
                       "declarations = excluded.declarations, signature = excluded.signature, row = excluded.row, "
                       "passage = excluded.passage, updated = excluded.updated",
                       (passage.id, passage.lane, passage.direction, passage.opened_at, closed_at,
                        passage.close_reason, revision, json.dumps(first_mrns),
                        json.dumps(record.get("declarations", [])), result_signature(result), _dumps(row),
                        _dumps(encode_passage(passage)), closed_at))
            self._append(db, passage.id, "opened", passage.opened_at, "lane", self._body(opened))
            self._append(db, passage.id, "closed", closed_at, "lane", self._body(closed))
            if result is not None:
                self._append(db, passage.id, "enriched", closed_at, "enrichment",
                             self._body(revision_body(record, revision, result)))
            self._keys(db, passage, result, closed_at)
            self._flags(db, passage, record, revision, closed_at)

        self._submit(op)

    def record_revision(self, passage: Passage, record: dict[str, Any], result: EnrichmentResult, revision: int,
                        at: float, source: str, reason: str | None = None) -> None:
        """A later revision of the enriched record (late data, a decision): summary, keys, flags, event."""
        closed_at = passage.closed_at if passage.closed_at is not None else at

        def op(db: sqlite3.Connection) -> None:
            row = dict(record, revision=revision)
            db.execute("UPDATE passages SET revision = ?, declarations = ?, signature = ?, row = ?, updated = ? "
                       "WHERE id = ?", (revision, json.dumps(record.get("declarations", [])),
                                        result_signature(result), _dumps(row), at, passage.id))
            body = self._body(revision_body(record, revision, result, reason))
            self._append(db, passage.id, "enriched", at, source, body)
            self._keys(db, passage, result, closed_at)
            self._flags(db, passage, record, revision, at)

        self._submit(op)

    def _body(self, body: dict[str, Any]) -> str:
        text = _dumps(body)
        if len(text) > self.max_body_bytes:
            return _dumps({"truncated": True, "bytes": len(text), "fields": sorted(body)[:50]})
        return text

    def _append(self, db: sqlite3.Connection, passage_id: str, kind: str, at: float, source: str, body: str) -> None:
        row = db.execute("SELECT events FROM passages WHERE id = ?", (passage_id,)).fetchone()
        if row is not None and row[0] >= self.max_events:
            db.execute("UPDATE passages SET dropped = dropped + 1 WHERE id = ?", (passage_id,))
            return
        db.execute("INSERT INTO events (passage_id, kind, at, source, body) VALUES (?, ?, ?, ?, ?)",
                   (passage_id, kind, at, source, body))
        db.execute("UPDATE passages SET events = events + 1 WHERE id = ?", (passage_id,))

    @staticmethod
    def _keys(db: sqlite3.Connection, passage: Passage, result: EnrichmentResult | None, closed_at: float) -> None:
        db.executemany("INSERT OR IGNORE INTO passage_keys (key, passage_id, closed_at) VALUES (?, ?, ?)",
                       [(key, passage.id, closed_at) for key in sorted(passage_keys(passage, result))])

    @staticmethod
    def _flags(db: sqlite3.Connection, passage: Passage, record: dict[str, Any], revision: int, at: float) -> None:
        """The passage's current flags: those gone are removed, new ones get the time of this revision."""
        flags = {str(f.get("code")): f for f in record.get("flags", []) if isinstance(f, dict)}
        known = {row[0] for row in db.execute("SELECT code FROM passage_flags WHERE passage_id = ?", (passage.id,))}
        db.executemany("DELETE FROM passage_flags WHERE passage_id = ? AND code = ?",
                       [(passage.id, code) for code in known - set(flags)])
        db.executemany("INSERT OR IGNORE INTO passage_flags (passage_id, code, severity, lane, at, revision) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(passage.id, code, flags[code].get("severity"), passage.lane, at, revision)
                        for code in sorted(set(flags) - known)])

    # -- reads --------------------------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self.flush()
        with self._read_lock:
            return list(self._read.execute(sql, params).fetchall())

    def query(self, *, lane: str | None = None, flag: str | None = None, mrn: str | None = None,
              since: float | None = None, until: float | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Closed passages, newest first, as their listing rows (the last revision's record)."""
        where: list[str] = ["row IS NOT NULL"]
        params: list[Any] = []
        if lane is not None:
            where.append("lane = ?")
            params.append(lane)
        if since is not None:
            where.append("closed_at >= ?")
            params.append(since)
        if until is not None:
            where.append("closed_at < ?")
            params.append(until)
        if flag is not None:
            where.append("id IN (SELECT passage_id FROM passage_flags WHERE code = ?)")
            params.append(flag)
        if mrn is not None:  # linked now (the last revision), found through the keys' index
            where.append("id IN (SELECT passage_id FROM passage_keys WHERE key = ?) "
                         "AND EXISTS (SELECT 1 FROM json_each(passages.declarations) WHERE value = ?)")
            params += [f"mrn:{mrn}", mrn]
        sql = (f"SELECT row, signal FROM passages WHERE {' AND '.join(where)} "
               "ORDER BY closed_at DESC, id DESC LIMIT ?")
        out = []
        for row, signal in self._rows(sql, [*params, limit]):
            view = json.loads(row)
            if signal is not None:
                view["signal_state"] = signal
            out.append(view)
        return out

    def passage_history(self, passage_id: str) -> dict[str, Any] | None:
        """The whole story of one passage: its summary and every event in order (``None``: unknown)."""
        rows = self._rows("SELECT lane, direction, opened_at, closed_at, close_reason, revision, declarations, "
                          "signal, events, dropped, row FROM passages WHERE id = ?", (passage_id,))
        if not rows:
            return None
        lane, direction, opened, closed, reason, revision, decls, signal, _count, dropped, row = rows[0]
        events = self._rows("SELECT seq, kind, at, source, body FROM events WHERE passage_id = ? ORDER BY seq",
                            (passage_id,))
        return {"id": passage_id, "lane": lane, "direction": direction, "opened_at": opened, "closed_at": closed,
                "close_reason": reason, "revision": revision, "declarations": json.loads(decls),
                "signal_state": signal, "events_dropped": dropped,
                "summary": json.loads(row) if row is not None else None,
                "events": [{"seq": seq, "kind": kind, "at": at, "source": source, "body": json.loads(body)}
                           for seq, kind, at, source, body in events]}

    def recent_flags(self, *, limit: int = 100, lane: str | None = None, since: float | None = None,
                     severity: str | None = None) -> list[dict[str, Any]]:
        """The passages' current flags, newest first: time, lane, passage id, code, severity, MRNs."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        for column, value in (("f.lane = ?", lane), ("f.at >= ?", since), ("f.severity = ?", severity)):
            if value is not None:
                where.append(column)
                params.append(value)
        sql = ("SELECT f.at, f.lane, f.passage_id, f.code, f.severity, f.revision, p.declarations "
               f"FROM passage_flags f JOIN passages p ON p.id = f.passage_id WHERE {' AND '.join(where)} "
               "ORDER BY f.at DESC, f.passage_id DESC, f.code LIMIT ?")
        return [{"time": at, "lane": lane_, "passage_id": pid, "code": code, "severity": sev, "revision": rev,
                 "declarations": json.loads(decls)}
                for at, lane_, pid, code, sev, rev, decls in self._rows(sql, [*params, limit])]

    def closed_passage(self, passage_id: str) -> ClosedPassage | None:
        """The recorded passage, rebuilt (``None``: unknown, or never closed)."""
        rows = self._rows("SELECT passage, revision, first_mrns, signature, row FROM passages WHERE id = ?",
                          (passage_id,))
        if not rows or rows[0][0] is None:
            return None
        passage, revision, first_mrns, signature, row = rows[0]
        return ClosedPassage(decode_passage(json.loads(passage)), int(revision), json.loads(first_mrns), signature,
                             json.loads(row) if row else {})

    def candidates(self, keys: Iterable[str], since: float) -> list[str]:
        """Passages closed at or after ``since`` that carry one of ``keys``, oldest first."""
        unique = sorted(set(keys))
        found: dict[str, float] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            for pid, closed in self._rows(
                    f"SELECT passage_id, closed_at FROM passage_keys WHERE key IN ({','.join('?' * len(chunk))}) "
                    "AND closed_at >= ?", (*chunk, since)):
                found[pid] = closed
        return sorted(found, key=lambda pid: (found[pid], pid))

    def mrns_since(self, since: float) -> dict[str, list[str]]:
        """MRN -> passages closed since ``since`` linked to it (for late party master data)."""
        out: dict[str, list[str]] = {}
        for key, pid in self._rows("SELECT key, passage_id FROM passage_keys WHERE key >= 'mrn:' AND key < 'mrn;' "
                                   "AND closed_at >= ?", (since,)):
            out.setdefault(key[4:], []).append(pid)
        return out

    def counts(self) -> dict[str, int]:
        rows = self._rows("SELECT (SELECT count(*) FROM passages), (SELECT count(*) FROM events)", ())
        return {"passages": int(rows[0][0]), "events": int(rows[0][1]), "dropped_writes": self.dropped_writes}


def _reads_summary(passage: Passage) -> dict[str, Any]:
    """How the passage was read: reads in all, per carrier and per source, vehicle readings."""
    carriers: dict[str, int] = {}
    sources: dict[str, int] = {}
    total = 0
    for seen in passage.identifiers:
        ev = seen.evidence
        total += ev.reads
        for carrier in ev.carriers:
            carriers[carrier] = carriers.get(carrier, 0) + ev.reads
        for source in ev.sources:
            sources[source] = sources.get(source, 0) + ev.reads
    return {"identifiers": len(passage.identifiers), "reads": total, "by_carrier": carriers, "by_source": sources,
            "vehicle_reads": sum(v.reads for v in passage.vehicle)}


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
