"""How long each kind of data is kept: the answer to data-protection rules.

Each kind of data the gateway keeps is one row of :data:`KINDS`: the database and table that hold it,
and the time its retention period counts from.  ``storage.retention`` in the site file sets the
period of each kind in days (``null``: kept until deleted by hand); the service applies the periods
at start-up and then daily, and ``border-gateway purge [--dry-run]`` applies them at once.  A new kind
of data is one more row: number plates are kept in declarations (their transport means) and in
movements (``movements``, 30 days by default; the lane's own plate readings live only in the passages
on their way to the broker).

Rows are deleted with SQLite's ``secure_delete`` on, so that their content is overwritten in the file
rather than left in free pages.  The passage history (``passage_history``, :mod:`gateway.history.store`)
is deleted by its summary rows, which take their events, keys and flags with them (a trigger).  Passages'
messages live in the outbox only until the broker acknowledges them;
the running service applies their period through the outbox's own age bound (the smaller of
``mqtt.outbox.max_age_s`` and this period), since it holds the queue in memory too, and ``purge``
deletes outbox rows only while no gateway runs on the storage.

>>> import sqlite3, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> db = sqlite3.connect(folder / "enrichment.sqlite")
>>> _ = db.execute("CREATE TABLE parties (party_ref TEXT, stored REAL)")
>>> _ = db.executemany("INSERT INTO parties VALUES (?, ?)", [("old", 0.0), ("new", 400 * 86400.0)])
>>> db.commit(); db.close()
>>> [str(r) for r in purge({"enrichment": folder / "enrichment.sqlite"}, {"declarations": None},
...                        now=500 * 86400.0, dry_run=True)][:3]
['passages: kept (no period set)', 'declarations: kept (no period set)', 'parties: 1 older than 365 days (dry run)']
>>> [r.rows for r in purge({"enrichment": folder / "enrichment.sqlite"}, {}, now=500 * 86400.0)]
[0, 0, 1, 0]
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of data: ``name`` is its key under ``storage.retention``."""

    name: str
    database: str  # a name of gateway.storage.files.databases
    table: str
    since: str  # SQL expression: the epoch second the period counts from
    default_days: float | None
    holds: str  # what it holds, for people (the config schema, the README)


KINDS: tuple[Kind, ...] = (
    Kind("passages", "outbox", "outbox", "created", None,
         "passage events, observations and enriched records (identifiers, flags, declaration links) not yet "
         "acknowledged by the broker; counted from the passage's message"),
    Kind("declarations", "enrichment", "declarations", "MAX(stored, COALESCE(eta, 0))", 90.0,
         "pre-arrival declarations, every version (parties, plates, goods); counted from the later of "
         "the expected arrival and the receipt"),
    Kind("parties", "enrichment", "parties", "stored", 365.0,
         "party master data (names, addresses, EORI, GLN); counted from when the record was last stored"),
    Kind("movements", "enrichment", "movements", "MAX(stored, COALESCE(eta, 0))", 30.0,
         "movements (the declarations of one crossing): vehicle and trailer number plates, container "
         "numbers, declaration references; counted from the later of the expected arrival and the receipt"),
    Kind("passage_history", "history", "passages", "COALESCE(closed_at, opened_at, updated)", 30.0,
         "each passage's history (identifiers and their reads, number plates, container codes, triggers, every "
         "enrichment revision with its declaration links and flags, decisions and lane signals); counted from "
         "the passage's close"),
    Kind("decisions", "decisions", "decisions", "MAX(received, COALESCE(valid_until, 0))", 90.0,
         "central decisions (outcome, agency, reason codes, declaration or movement reference); counted from "
         "the later of the receipt and the end of validity"),
)
BY_NAME = {kind.name: kind for kind in KINDS}


def periods(configured: Mapping[str, float | None]) -> dict[str, float | None]:
    """Days per kind: the configured ones, the defaults for the rest."""
    unknown = set(configured) - set(BY_NAME)
    if unknown:
        raise ValueError(f"unknown kinds of data {sorted(unknown)} (known: {', '.join(BY_NAME)})")
    return {kind.name: configured.get(kind.name, kind.default_days) for kind in KINDS}


def outbox_max_age(configured: Mapping[str, float | None], max_age_s: float) -> float:
    """The outbox's age bound once the passages' period applies too (seconds)."""
    days = periods(configured)["passages"]
    return max_age_s if days is None else min(max_age_s, days * DAY_S)


@dataclass(frozen=True, slots=True)
class Purged:
    kind: str
    days: float | None
    rows: int
    note: str = ""  # why nothing was done, when nothing was
    dry_run: bool = False

    def __str__(self) -> str:
        if self.note:
            return f"{self.kind}: {self.note}"
        return f"{self.kind}: {self.rows} older than {self.days:g} days" + (" (dry run)" if self.dry_run else "")


def purge(databases: Mapping[str, Path], configured: Mapping[str, float | None], now: float, *,
          dry_run: bool = False, skip: Collection[str] = ()) -> list[Purged]:
    """Delete (or, with ``dry_run``, count) the rows of every kind older than its period.

    ``skip`` names databases left alone (with a note), e.g. the outbox of a running service.
    """
    out: list[Purged] = []
    for kind, days in ((BY_NAME[name], days) for name, days in periods(configured).items()):
        path = databases.get(kind.database)
        if days is None:
            out.append(Purged(kind.name, None, 0, "kept (no period set)"))
        elif kind.database not in databases:
            continue  # a database this site does not have (decisions without a decisions section)
        elif kind.database in skip:
            out.append(Purged(kind.name, days, 0, f"left to the running gateway ({kind.database} database)"))
        elif path is None or not path.exists():
            out.append(Purged(kind.name, days, 0, "no database yet"))
        else:
            rows = _purge_table(path, kind, now - days * DAY_S, dry_run)
            out.append(Purged(kind.name, days, rows, dry_run=dry_run) if rows >= 0 else
                       Purged(kind.name, days, 0, f"no {kind.table} table in {path.name} yet"))
    return out


def _purge_table(path: Path, kind: Kind, cutoff: float, dry_run: bool) -> int:
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)  # waits for the service's writers
    try:
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        if db.execute(exists, (kind.table,)).fetchone() is None:
            return -1
        where = f"FROM {kind.table} WHERE {kind.since} < ?"
        if dry_run:
            return int(db.execute(f"SELECT count(*) {where}", (cutoff,)).fetchone()[0])
        db.execute("PRAGMA secure_delete = ON")  # overwrite what is deleted, do not just unlink it
        return int(db.execute(f"DELETE {where}", (cutoff,)).rowcount)
    finally:
        db.close()


class RetentionJob:
    """The service's purge: once at start-up, then every ``interval_s``, on a thread of its own."""

    def __init__(self, databases: Mapping[str, Path], configured: Mapping[str, float | None], *,
                 skip: Collection[str] = ("outbox",), interval_s: float = DAY_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.databases, self.configured, self.skip = dict(databases), dict(configured), tuple(skip)
        self.interval_s, self.clock = interval_s, clock
        self.runs: list[list[Purged]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=35.0)

    def run_once(self) -> list[Purged]:
        results = purge(self.databases, self.configured, self.clock(), skip=self.skip)
        self.runs.append(results)
        removed = [r for r in results if r.rows]
        if removed:  # counts only: never an identifier in the log
            log.info("retention: removed %s", ", ".join(str(r) for r in removed))
        return results

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a locked or damaged file: said loudly, tried again next time
                log.exception("retention purge failed")
            self._stop.wait(self.interval_s)
