"""A durable journal of open passages, so that a passage interrupted by a crash still gets its ``end``.

The gateway writes a passage here when it opens (before its ``new`` event is published), again at each
``update`` (what it has seen so far), and deletes it once its ``end`` is published.  After ``kill -9``, a
power cut or an out-of-memory kill, the passages still in the journal are the ones whose ``new`` never got
an ``end``: at start-up the gateway closes each of them with reason ``restart`` and publishes its end event,
observation and enriched record through the normal path (:meth:`Gateway.close_leftovers
<gateway.service.gateway.Gateway.close_leftovers>`).

The journal is its own SQLite file in ``storage.path`` (``open_passages.sqlite``, WAL, ``synchronous=NORMAL``:
a committed row survives the process being killed).  It holds a handful of rows (one per lane at most)
and is not backed up: it is empty whenever the gateway stopped cleanly.

A passage goes in as JSON and comes back equal:

>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, SeenIdentifier, VehicleEvidence
>>> seen = SeenIdentifier(Identifier.from_elements([("00", "106141411234567897")]),
...                       Evidence(10.0, 12.5, reads=14, best_rssi_dbm=-48.0, sources=("r1",), zones=("portal",)))
>>> plate = VehicleEvidence("plate", "BXY1234", "B-XY 1234", 0.93, "DE", ("front",), 10.0, 11.5, 3, ("anpr",),
...                         candidates=(("BXY1284", 0.4),))
>>> p = Passage("lane1-1", "lane1", "inbound", "open", 9.8, identifiers=(seen,), triggers=("gpi:r1:1",),
...             vehicle=(plate,))
>>> passage_from_json(passage_to_json(p)) == p
True
>>> import pathlib, tempfile
>>> journal = OpenPassages(pathlib.Path(tempfile.mkdtemp()) / "open_passages.sqlite")
>>> journal.put(p, now=11.0); journal.put(p, now=12.0)
>>> [(q.id, written) for q, written in journal.leftovers()]
[('lane1-1', 12.0)]
>>> journal.remove("lane1-1"); journal.leftovers()
[]
>>> journal.close()
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier, VehicleEvidence
from gateway.storage.schema import History, Migration, open_database

log = logging.getLogger(__name__)
JOURNAL_DB = "open_passages.sqlite"

HISTORY = History("open_passages", (
    Migration(1, "open passages: id, lane, when written, the passage as JSON", """
CREATE TABLE IF NOT EXISTS open_passages (
    id TEXT PRIMARY KEY,
    lane TEXT NOT NULL,
    written REAL NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
"""),
))


def passage_to_json(passage: Passage) -> str:
    return json.dumps(asdict(passage), separators=(",", ":"), ensure_ascii=False)


def passage_from_json(text: str) -> Passage:
    """The :class:`Passage` that :func:`passage_to_json` wrote (lists back to tuples)."""
    d: dict[str, Any] = json.loads(text)
    identifiers = tuple(
        SeenIdentifier(
            Identifier(s["identifier"]["key_type"], s["identifier"]["key"],
                       tuple((str(ai), str(v)) for ai, v in s["identifier"]["elements"]), s["identifier"]["uri"]),
            Evidence(**{**s["evidence"], "carriers": tuple(s["evidence"]["carriers"]),
                        "sources": tuple(s["evidence"]["sources"]), "zones": tuple(s["evidence"]["zones"])}))
        for s in d["identifiers"])
    vehicle = tuple(
        VehicleEvidence(**{**v, "positions": tuple(v["positions"]), "sources": tuple(v["sources"]),
                           "candidates": tuple((str(c[0]), c[1]) for c in v["candidates"])})
        for v in d["vehicle"])
    return Passage(id=d["id"], lane=d["lane"], direction=d["direction"], state=d["state"], opened_at=d["opened_at"],
                   closed_at=d["closed_at"], close_reason=d["close_reason"], identifiers=identifiers,
                   triggers=tuple(d["triggers"]), vehicle=vehicle)


class OpenPassages:
    """The journal (thread-safe; each call is one committed transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, HISTORY)  # WAL, synchronous=NORMAL: a committed row survives a SIGKILL

    def put(self, passage: Passage, now: float) -> None:
        """Record (or refresh) an open passage."""
        body = passage_to_json(passage)
        with self._lock:
            self._db.execute("INSERT INTO open_passages (id, lane, written, body) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT(id) DO UPDATE SET written = excluded.written, body = excluded.body",
                             (passage.id, passage.lane, now, body))

    def remove(self, passage_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM open_passages WHERE id = ?", (passage_id,))

    def leftovers(self) -> list[tuple[Passage, float]]:
        """Every passage still recorded, with when it was last written, oldest first.  A row that does
        not decode (written by a newer release) is skipped: its ``end`` cannot be rebuilt."""
        with self._lock:
            rows = self._db.execute("SELECT body, written FROM open_passages ORDER BY written, id").fetchall()
        out: list[tuple[Passage, float]] = []
        for body, written in rows:
            try:
                out.append((passage_from_json(body), float(written)))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("open-passage journal %s: a row cannot be read (%s); dropped", self.path, exc)
                with self._lock:
                    self._db.execute("DELETE FROM open_passages WHERE body = ?", (body,))
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
