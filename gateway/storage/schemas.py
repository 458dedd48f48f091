"""The schema history of each database (see :mod:`gateway.storage.schema` for how it is applied).

A schema change is one more :class:`~gateway.storage.schema.Migration` at the end of a history, never
an edit of an earlier one: files in the field hold every earlier version.
``tests/storage/test_migrations.py`` opens the files of release 0.1.0 (kept under
``tests/fixtures/storage/``) with the current code.

``enrichment`` (declarations, products, parties: :mod:`gateway.enrichment.store`)

1. the release-0.1.0 schema;
2. ``stored`` (epoch seconds, set by SQLite on every insert and replacement) on declarations and
   parties, what retention counts from; rows already there get the time of the upgrade.  Deleting a
   declaration row deletes its linking keys (a trigger), so that retention deletes rows of one table.
3. movements (``bx.movement.v1``: the declarations of one crossing, GVMS-like) with their linking keys
   (plates, plate skeletons, containers, MRNs), deleted with their row; and the OCR skeleton of every
   plate key already stored (``plate_sk``: confusable characters folded as in
   :func:`gateway.vehicle.plate_skeleton`), so that a one-character misread finds its declaration in
   one index probe.

``history`` (:mod:`gateway.history.store`)

1. one summary row per passage (``passages``: listing, the passage itself for re-enrichment), the
   append-only ``events`` of each passage, its linking keys and its current flags; deleting a summary
   row deletes the rest (a trigger), so that retention deletes rows of one table.
``decisions`` (central decisions: :mod:`gateway.decisions.store`)

1. decisions by decision id, with their subject, agency, outcome, issue and validity times.

``outbox`` (:mod:`gateway.publishing.outbox`)

1. the release-0.1.0 schema, including the columns that outboxes of earlier development versions
   lacked (``counter_key``, ``counter_value``);
2. ``lanes``: the lanes the gateway publishes for (it keeps a retained state per lane), so that a
   lane gone from the configuration since the last run has that state cleared at start-up.
"""

from __future__ import annotations

import sqlite3

from gateway.storage.schema import History, Migration, statements

# SQLite evaluates a parenthesised DEFAULT once per inserted row: the time of the insert, epoch seconds.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"

_ENRICHMENT_V1 = """
CREATE TABLE IF NOT EXISTS declarations (
    id INTEGER PRIMARY KEY,
    mrn TEXT NOT NULL,
    version INTEGER NOT NULL,
    current INTEGER NOT NULL DEFAULT 0,
    office TEXT,
    eta REAL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (mrn, version)
);
CREATE INDEX IF NOT EXISTS declarations_office_eta ON declarations (office, eta) WHERE current = 1;
CREATE TABLE IF NOT EXISTS decl_keys (
    key_type TEXT NOT NULL,
    key TEXT NOT NULL,
    decl_id INTEGER NOT NULL,
    PRIMARY KEY (key_type, key, decl_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decl_keys_decl ON decl_keys (decl_id);
CREATE TABLE IF NOT EXISTS products (
    gtin TEXT PRIMARY KEY,
    hs6 TEXT,
    digest TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parties (
    party_ref TEXT PRIMARY KEY,
    gln TEXT,
    eori TEXT,
    lei TEXT,
    digest TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parties_gln ON parties (gln) WHERE gln IS NOT NULL;
CREATE INDEX IF NOT EXISTS parties_eori ON parties (eori) WHERE eori IS NOT NULL;
"""

# SQLite cannot add a column with a non-constant default: the two tables are rebuilt (ids kept).
_ENRICHMENT_V2 = f"""
CREATE TABLE declarations_v2 (
    id INTEGER PRIMARY KEY,
    mrn TEXT NOT NULL,
    version INTEGER NOT NULL,
    current INTEGER NOT NULL DEFAULT 0,
    office TEXT,
    eta REAL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    stored REAL NOT NULL DEFAULT {NOW},
    UNIQUE (mrn, version)
);
INSERT INTO declarations_v2 (id, mrn, version, current, office, eta, digest, body)
    SELECT id, mrn, version, current, office, eta, digest, body FROM declarations;
DROP TABLE declarations;
ALTER TABLE declarations_v2 RENAME TO declarations;
CREATE INDEX declarations_office_eta ON declarations (office, eta) WHERE current = 1;
CREATE TRIGGER declarations_keys AFTER DELETE ON declarations
BEGIN
    DELETE FROM decl_keys WHERE decl_id = OLD.id;
END;
CREATE TABLE parties_v2 (
    party_ref TEXT PRIMARY KEY,
    gln TEXT,
    eori TEXT,
    lei TEXT,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    stored REAL NOT NULL DEFAULT {NOW}
) WITHOUT ROWID;
INSERT INTO parties_v2 (party_ref, gln, eori, lei, digest, body)
    SELECT party_ref, gln, eori, lei, digest, body FROM parties;
DROP TABLE parties;
ALTER TABLE parties_v2 RENAME TO parties;
CREATE INDEX parties_gln ON parties (gln) WHERE gln IS NOT NULL;
CREATE INDEX parties_eori ON parties (eori) WHERE eori IS NOT NULL;
"""

# gateway.vehicle.CONFUSABLE_GROUPS in SQL: every character of a group becomes the group's first one
# (tests/enrichment/test_movements.py checks the two agree).
PLATE_SKELETON_SQL = ("replace(replace(replace(replace(replace(replace(replace(replace({0}, 'O', '0'), 'D', '0'), "
                      "'Q', '0'), 'I', '1'), 'Z', '2'), 'S', '5'), 'B', '8'), 'G', '6')")

_ENRICHMENT_V3 = f"""
CREATE TABLE IF NOT EXISTS movements (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL,
    version INTEGER NOT NULL,
    current INTEGER NOT NULL DEFAULT 0,
    office TEXT,
    eta REAL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    stored REAL NOT NULL DEFAULT {NOW},
    UNIQUE (ref, version)
);
CREATE INDEX IF NOT EXISTS movements_office_eta ON movements (office, eta) WHERE current = 1;
CREATE TABLE IF NOT EXISTS movement_keys (
    key_type TEXT NOT NULL,
    key TEXT NOT NULL,
    movement_id INTEGER NOT NULL,
    PRIMARY KEY (key_type, key, movement_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS movement_keys_movement ON movement_keys (movement_id);
CREATE TRIGGER IF NOT EXISTS movements_keys AFTER DELETE ON movements
BEGIN
    DELETE FROM movement_keys WHERE movement_id = OLD.id;
END;
INSERT OR IGNORE INTO decl_keys (key_type, key, decl_id)
    SELECT 'plate_sk', {PLATE_SKELETON_SQL.format("key")}, decl_id FROM decl_keys WHERE key_type = 'plate';
"""

ENRICHMENT = History("enrichment", (
    Migration(1, "release 0.1.0", _ENRICHMENT_V1),
    Migration(2, "stored times for retention; keys deleted with their declaration", _ENRICHMENT_V2),
    Migration(3, "movements; OCR skeletons of plate keys", _ENRICHMENT_V3),
))

_OUTBOX_V1 = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    props TEXT NOT NULL,
    lane TEXT,
    created REAL NOT NULL,
    counter_key TEXT,
    counter_value INTEGER
);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, updated REAL NOT NULL);
"""
# A counter travels on a message row and is saved by this trigger, so that one INSERT statement (one
# implicit transaction, one commit) stores the messages and the counter together.
_OUTBOX_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS outbox_counter AFTER INSERT ON outbox WHEN NEW.counter_key IS NOT NULL
BEGIN
    INSERT INTO counters (key, value, updated) VALUES (NEW.counter_key, NEW.counter_value, NEW.created)
    ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value), updated = excluded.updated;
END;
"""


def _outbox_v1(db: sqlite3.Connection) -> None:
    for statement in statements(_OUTBOX_V1):
        db.execute(statement)
    columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    for column, kind in (("counter_key", "TEXT"), ("counter_value", "INTEGER")):
        if column not in columns:  # an outbox written by a development version before 0.1.0
            db.execute(f"ALTER TABLE outbox ADD COLUMN {column} {kind}")
    for statement in statements(_OUTBOX_TRIGGER):
        db.execute(statement)


_OUTBOX_V2 = """
CREATE TABLE lanes (id TEXT PRIMARY KEY, since REAL NOT NULL) WITHOUT ROWID;
"""

OUTBOX = History("outbox", (
    Migration(1, "release 0.1.0", _outbox_v1),
    Migration(2, "the lanes published for, to clear a removed lane's retained state", _OUTBOX_V2),
))

_HISTORY_V1 = """
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY,
    lane TEXT,
    direction TEXT,
    opened_at REAL,
    closed_at REAL,
    close_reason TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    first_mrns TEXT NOT NULL DEFAULT '[]',
    declarations TEXT NOT NULL DEFAULT '[]',
    signature TEXT,
    signal TEXT,
    events INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    row TEXT,
    passage TEXT,
    updated REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passages_closed ON passages (closed_at);
CREATE INDEX IF NOT EXISTS passages_lane_closed ON passages (lane, closed_at);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_passage ON events (passage_id, seq);
CREATE TABLE IF NOT EXISTS passage_keys (
    key TEXT NOT NULL,
    passage_id TEXT NOT NULL,
    closed_at REAL NOT NULL,
    PRIMARY KEY (key, passage_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passage_keys_passage ON passage_keys (passage_id);
CREATE TABLE IF NOT EXISTS passage_flags (
    passage_id TEXT NOT NULL,
    code TEXT NOT NULL,
    severity TEXT,
    lane TEXT,
    at REAL NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (passage_id, code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passage_flags_at ON passage_flags (at);
CREATE INDEX IF NOT EXISTS passage_flags_code ON passage_flags (code, at);
CREATE TRIGGER IF NOT EXISTS passages_gone AFTER DELETE ON passages
BEGIN
    DELETE FROM events WHERE passage_id = OLD.id;
    DELETE FROM passage_keys WHERE passage_id = OLD.id;
    DELETE FROM passage_flags WHERE passage_id = OLD.id;
END;
"""

HISTORY = History("history", (
    Migration(1, "passage history: summaries, append-only events, linking keys, flags", _HISTORY_V1),
))

_DECISIONS_V1 = f"""
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    agency TEXT NOT NULL,
    outcome TEXT NOT NULL,
    issued_at REAL NOT NULL,
    valid_until REAL,
    received REAL NOT NULL DEFAULT {NOW},
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_subject ON decisions (subject_kind, subject, agency);
CREATE INDEX IF NOT EXISTS decisions_received ON decisions (received);
"""

DECISIONS = History("decisions", (
    Migration(1, "central decisions (bx.decision.v1) by decision id, indexed by subject", _DECISIONS_V1),
))

HISTORIES = {history.name: history for history in (ENRICHMENT, OUTBOX, HISTORY, DECISIONS)}
