"""Schema versions: every database says which version of its schema it holds, and moves forward at start-up.

A database's version is SQLite's ``user_version`` (0 in files written before versions existed, i.e.
release 0.1.0).  Its history is a list of :class:`Migration` steps numbered 1, 2, ...; opening a
database runs the steps above its version, each in its own transaction together with the new version
number, so a step is applied entirely or not at all and an interrupted upgrade resumes where it
stopped.  Step 1 of each history creates the release-0.1.0 schema (``IF NOT EXISTS``), so that a new
file and an old one take the same path from there on.

Before a file that holds data is migrated, a copy is kept next to it (``outbox.sqlite.v0.bak``):
the way back to the previous release.  A file written by a newer release (a version above the
newest step known here) is refused with :class:`SchemaTooNew` rather than guessed at.

>>> import sqlite3
>>> history = History("example", (
...     Migration(1, "a table", "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT)"),
...     Migration(2, "a column with a default", "ALTER TABLE t ADD COLUMN seen REAL NOT NULL DEFAULT 0"),
... ))
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> migrate(db, history)
[1, 2]
>>> version(db), migrate(db, history)
(2, [])
>>> db.execute("PRAGMA user_version = 3")  # doctest: +ELLIPSIS
<sqlite3.Cursor object at ...>
>>> migrate(db, history)
Traceback (most recent call last):
...
gateway.storage.schema.SchemaTooNew: example database :memory: has schema version 3, newer than ... (2): ...
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

Step = str | Callable[[sqlite3.Connection], None]


class SchemaError(RuntimeError):
    """A database cannot be brought to the schema this release uses."""


class SchemaTooNew(SchemaError):
    def __init__(self, name: str, where: str, found: int, known: int) -> None:
        super().__init__(f"{name} database {where} has schema version {found}, newer than this release knows "
                         f"({known}): it was written by a later release; run that release, or restore a backup")
        self.found, self.known = found, known


class MigrationFailed(SchemaError):
    def __init__(self, name: str, where: str, step: Migration, exc: BaseException) -> None:
        super().__init__(f"{name} database {where}: migration to schema version {step.version} "
                         f"({step.summary}) failed, nothing changed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Migration:
    """One step: ``apply`` (SQL statements, or a function of the connection) brings version-1 to ``version``."""

    version: int
    summary: str
    apply: Step


@dataclass(frozen=True, slots=True)
class History:
    """The steps of one database, oldest first; :attr:`latest` is the version this release writes."""

    name: str
    steps: tuple[Migration, ...]

    def __post_init__(self) -> None:
        numbers = [step.version for step in self.steps]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{self.name}: migrations must be numbered 1, 2, ... without gaps, got {numbers}")

    @property
    def latest(self) -> int:
        return self.steps[-1].version if self.steps else 0


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one by one (``executescript`` would commit our transaction).

    >>> list(statements("CREATE TABLE a (x); CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;"))
    ['CREATE TABLE a (x);', 'CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;']
    """
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \n\t;"):
        yield pending.strip().rstrip(";")


def migrate(db: sqlite3.Connection, history: History, path: Path | None = None) -> list[int]:
    """Bring ``db`` (a connection in autocommit mode) to ``history.latest``; returns the versions applied.

    ``path``, the database's file, is where the copy of a file holding data is kept before its first
    step runs; in-memory databases have none.
    """
    where = str(path) if path is not None else ":memory:"
    current = version(db)
    if current > history.latest:
        raise SchemaTooNew(history.name, where, current, history.latest)
    pending = [step for step in history.steps if step.version > current]
    if not pending:
        return []
    existing = _holds_data(db)
    done: list[int] = []
    for step in pending:
        db.execute("BEGIN IMMEDIATE")
        found = version(db)
        if found >= step.version:  # another process opening the same file migrated it meanwhile
            db.execute("COMMIT")
            continue
        try:
            if path is not None and existing and not done:  # under our write lock: the file as it was
                _keep_copy(path, found)
            if isinstance(step.apply, str):
                for statement in statements(step.apply):
                    db.execute(statement)
            else:
                step.apply(db)
            db.execute(f"PRAGMA user_version = {int(step.version)}")
        except BaseException as exc:
            db.execute("ROLLBACK")
            if isinstance(exc, Exception):
                raise MigrationFailed(history.name, where, step, exc) from exc
            raise
        db.execute("COMMIT")
        done.append(step.version)
        if existing:  # a new file is not "migrated": it is created at the latest version
            log.info("%s database %s migrated to schema version %d (%s)", history.name, where, step.version,
                     step.summary)
    return done


def open_database(path: str | Path, history: History, *, timeout: float = 5.0) -> sqlite3.Connection:
    """A store's connection: its folder made, autocommit (the stores open their own transactions), usable from
    any thread (each store serialises with its own lock), WAL with ``synchronous=NORMAL`` for a file (a
    committed row survives a crash or SIGKILL), and the schema brought to ``history.latest`` (:func:`migrate`).
    ``":memory:"`` is a private in-memory database.  ``timeout``: how long to wait for another process's
    write lock (``border-gateway purge``)."""
    name = str(path)
    memory = name == ":memory:"
    if not memory:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(name, check_same_thread=False, isolation_level=None, timeout=timeout)
    if not memory:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    migrate(db, history, None if memory else Path(name))
    return db


def _holds_data(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])


def _keep_copy(path: Path, current: int) -> None:
    """A consistent copy of the file as it was (SQLite online backup), for going back to the old release.

    Read through a connection of its own: the migrating one holds the write lock (no writer can change
    the file meanwhile), and SQLite cannot back up from a connection inside a write transaction.
    """
    copy = path.with_name(f"{path.name}.v{current}.bak")
    source, target = sqlite3.connect(path, timeout=30.0), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    log.warning("%s: upgrading from schema version %d; the previous file is kept as %s", path, current, copy)
