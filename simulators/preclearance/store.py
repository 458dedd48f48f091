"""The central store: enriched records in PostgreSQL, idempotent by CloudEvents id, per-passage order restored.

Several consumer processes share one MQTT 5 shared subscription, so the revisions of one passage may
reach different members and be stored in any order, and a message may come twice (a gateway's outbox
replays after a crash with the same ids; a broker redelivers what was not acknowledged).  Three tables
(in a schema of their own, ``bx_central`` by default) make that harmless:

``enriched`` (history): one row per CloudEvents id, ``INSERT ... ON CONFLICT (ce_id) DO NOTHING``.
    A repeated id is a no-op; each revision of an event hash (``{hash}#customs/r1``, ``r2`` ...) is a
    different id, so every revision is kept.  ``payload`` is the message as received, byte for byte
    (type ``json``: validated and queryable with ``->``; ``jsonb`` would re-encode it and, measured here,
    halve the insert rate).
``passage`` (current): one row per passage ``(site, gateway, passage_id)`` holding the highest revision
    seen, written by ``INSERT ... ON CONFLICT DO UPDATE ... WHERE passage.revision < EXCLUDED.revision``.
    PostgreSQL locks the row for the comparison, so of two members racing, the higher revision wins
    whatever the order of arrival and commit; an older revision arriving later changes nothing.
``decision``: the decisions this simulator issued, one row per decision id.

A consumer therefore recovers per-passage order without any coordination between members: order by
``revision`` within a passage (the history), or read ``passage`` for the latest.  Each batch is one
transaction; its rows are written in key order (history by id, then passages by key), so two members
never wait on each other in a cycle, and a deadlock, were one to happen, retries the batch.  The
consumer acknowledges its MQTT messages only after the commit: a crash before it means redelivery,
which the ids make harmless (at-least-once delivery, exactly-once rows).

``stored_at`` is ``clock_timestamp()`` when the row is written (the batch commits right after);
``received_at`` is when the consumer's client handed the message over.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.decisions.model import Decision
from simulators.preclearance.records import EnrichedRecord

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "bx_central"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.enriched (
    ce_id       text PRIMARY KEY,
    event_hash  text NOT NULL,
    revision    integer NOT NULL CHECK (revision >= 1),
    site        text NOT NULL,
    gateway     text NOT NULL,
    lane        text NOT NULL,
    passage_id  text NOT NULL,
    ce_type     text NOT NULL,
    ce_time     timestamptz,
    subject     text,
    payload     json NOT NULL,
    received_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    consumer    text NOT NULL
);
CREATE INDEX IF NOT EXISTS enriched_passage ON {s}.enriched (site, gateway, passage_id, revision);
CREATE TABLE IF NOT EXISTS {s}.passage (
    site           text NOT NULL,
    gateway        text NOT NULL,
    passage_id     text NOT NULL,
    lane           text NOT NULL,
    event_hash     text NOT NULL,
    revision       integer NOT NULL,
    ce_id          text NOT NULL,
    local_decision text,
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (site, gateway, passage_id)
);
CREATE TABLE IF NOT EXISTS {s}.decision (
    decision_id text PRIMARY KEY,
    subject_kind text NOT NULL,
    subject     text NOT NULL,
    agency      text NOT NULL,
    outcome     text NOT NULL,
    topic       text NOT NULL,
    payload     jsonb NOT NULL,
    issued_at   timestamptz NOT NULL,
    consumer    text NOT NULL
);
"""


class StoreError(OSError):
    """PostgreSQL is unreachable or refused the schema (one line for the command line)."""


@dataclass(frozen=True, slots=True)
class Received:
    """A record as the consumer got it: when, and from which member."""

    record: EnrichedRecord
    received_at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    stored: int  # new history rows
    duplicates: int  # ids already stored (no-ops)
    current: int  # passages whose current revision this batch set
    rejected: tuple[str, ...] = ()  # ids PostgreSQL refused (e.g. a payload jsonb cannot hold)


class CentralStore:
    """One connection; :meth:`store` writes a batch in one transaction (see the module doc)."""

    def __init__(self, dsn: str, schema: str = DEFAULT_SCHEMA, consumer: str = "consumer") -> None:
        if not _IDENT.match(schema):
            raise ValueError(f"schema name {schema!r}: lower-case letters, digits and _ only")
        import psycopg

        self.schema, self.consumer, self._dsn = schema, consumer, dsn
        try:
            self.conn = psycopg.connect(dsn, autocommit=False, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None
        try:
            with self.conn.transaction():
                # CREATE ... IF NOT EXISTS races between processes: serialise it
                self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"bx-central-ddl:{schema}",))
                self.conn.execute(_DDL.format(s=schema))
        except psycopg.Error as exc:
            self.conn.close()
            raise StoreError(f"cannot create the schema {schema}: {_first_line(exc)}") from None
        s = schema
        self._insert = (f"INSERT INTO {s}.enriched (ce_id, event_hash, revision, site, gateway, lane, passage_id, "
                        "ce_type, ce_time, subject, payload, received_at, consumer) VALUES (%s, %s, %s, %s, %s, %s, "
                        "%s, %s, %s, %s, %s::json, %s, %s) ON CONFLICT (ce_id) DO NOTHING RETURNING ce_id")
        self._current = (f"INSERT INTO {s}.passage AS p (site, gateway, passage_id, lane, event_hash, revision, ce_id, "
                         "local_decision) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                         "ON CONFLICT (site, gateway, passage_id) DO UPDATE SET lane = EXCLUDED.lane, "
                         "event_hash = EXCLUDED.event_hash, revision = EXCLUDED.revision, ce_id = EXCLUDED.ce_id, "
                         "local_decision = EXCLUDED.local_decision, updated_at = clock_timestamp() "
                         "WHERE p.revision < EXCLUDED.revision RETURNING p.passage_id")
        self._decision = (f"INSERT INTO {s}.decision (decision_id, subject_kind, subject, agency, outcome, topic, "
                          "payload, issued_at, consumer) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s) "
                          "ON CONFLICT (decision_id) DO NOTHING")

    def close(self) -> None:
        self.conn.close()

    def reconnect(self) -> None:
        """A new connection after PostgreSQL went away (the schema is already there)."""
        import psycopg

        with contextlib.suppress(psycopg.Error):
            self.conn.close()
        try:
            self.conn = psycopg.connect(self._dsn, autocommit=False, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None

    # -- writing ---------------------------------------------------------------------------------

    def store(self, batch: Sequence[Received], attempts: int = 3) -> BatchOutcome:
        """Write a batch in one transaction; a batch PostgreSQL refuses is retried row by row, so one bad
        payload costs only itself."""
        import psycopg

        if not batch:
            return BatchOutcome(0, 0, 0)
        for attempt in range(attempts):
            try:
                return self._write(batch)
            except psycopg.errors.DeadlockDetected:
                log.warning("deadlock while storing %d records (attempt %d): retrying", len(batch), attempt + 1)
                time.sleep(0.01 * (attempt + 1))
            except (psycopg.errors.DataError, psycopg.errors.IntegrityError):
                break  # one row is bad: find it below
        stored = duplicates = current = 0
        rejected: list[str] = []
        for item in batch:
            try:
                one = self._write([item])
            except psycopg.Error as exc:
                log.error("PostgreSQL refused an enriched record (%s): skipped", _first_line(exc))
                rejected.append(item.record.ce_id)
                continue
            stored, duplicates, current = stored + one.stored, duplicates + one.duplicates, current + one.current
        return BatchOutcome(stored, duplicates, current, tuple(rejected))

    def _write(self, batch: Sequence[Received]) -> BatchOutcome:
        rows = sorted(batch, key=lambda r: r.record.ce_id)
        unique = {r.record.ce_id: r for r in rows}  # the same id twice in one batch: one row
        latest: dict[tuple[str, str, str], EnrichedRecord] = {}
        for r in rows:
            key = (r.record.site, r.record.gateway, r.record.passage_id)
            if key not in latest or latest[key].revision < r.record.revision:
                latest[key] = r.record
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(self._insert, [self._history_row(r) for r in unique.values()], returning=True)
            stored = _count_returned(cur)
            cur.executemany(self._current, [(rec.site, rec.gateway, rec.passage_id, rec.lane, rec.event_hash,
                                             rec.revision, rec.ce_id, rec.local_decision)
                                            for _key, rec in sorted(latest.items())], returning=True)
            current = _count_returned(cur)
        return BatchOutcome(stored, len(batch) - stored, current)

    def _history_row(self, r: Received) -> tuple[Any, ...]:
        rec = r.record
        return (rec.ce_id, rec.event_hash, rec.revision, rec.site, rec.gateway, rec.lane, rec.passage_id,
                rec.ce_type, rec.time, rec.subject, rec.payload.decode("utf-8"),
                datetime.fromtimestamp(r.received_at, UTC), self.consumer)

    def record_decisions(self, sent: Sequence[tuple[str, Decision]]) -> None:
        """Keep the decisions this simulator published (topic, decision); a repeated id is a no-op."""
        if not sent:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(self._decision, [
                (d.decision_id, d.subject[0], d.subject[1], d.agency, d.outcome, topic,
                 d.model_dump_json(by_alias=True, exclude_none=True), d.issued_at, self.consumer)
                for topic, d in sorted(sent, key=lambda s: s[1].decision_id)])

    # -- reading (tests, benchmarks, the report) ----------------------------------------------

    def counts(self) -> dict[str, int]:
        s = self.schema
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(f"SELECT (SELECT count(*) FROM {s}.enriched), (SELECT count(DISTINCT ce_id) FROM "
                        f"{s}.enriched), (SELECT count(*) FROM {s}.passage), (SELECT count(*) FROM {s}.decision)")
            row = cur.fetchone()
        assert row is not None
        return {"rows": int(row[0]), "ids": int(row[1]), "passages": int(row[2]), "decisions": int(row[3])}


def _count_returned(cur: Any) -> int:
    """Rows RETURNING gave over all the statements of an ``executemany(..., returning=True)``."""
    n = 0
    while True:
        n += len(cur.fetchall())
        if not cur.nextset():
            return n


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
