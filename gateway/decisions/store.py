"""The durable store of central decisions: SQLite ``decisions.sqlite`` in ``storage.path``.

Idempotent by decision id; per subject and agency the latest issue time wins:

* a new decision id is ``stored``, unless the same agency already decided the same subject later: then it is
  kept for the record but ``superseded`` (it never becomes the current one);
* the same decision id again with the same issue time is a ``duplicate`` (nothing changes);
* the same id with a later issue time replaces the stored one (``stored``), with an earlier or the same
  issue time and other content it is ``superseded`` (nothing changes).

Thread-safe (one lock): the MQTT intake's network thread and the HTTP API's workers write, the gateway's loop
reads.  Retention: kind ``decisions`` of ``storage.retention`` (:mod:`gateway.storage.retention`).

>>> from gateway.decisions.model import Decision
>>> store = DecisionStore(":memory:")
>>> d = Decision.model_validate({"decisionId": "D-1", "outcome": "hold", "agency": "SPS",
...     "issuedAt": "2025-03-01T10:00:00Z", "mrn": "25DE0040560000002A"})
>>> store.put(d), store.put(d)
('stored', 'duplicate')
>>> older = d.model_copy(update={"decision_id": "D-0", "issued_at": d.issued_at.replace(hour=9)})
>>> store.put(older)
'superseded'
>>> [x.decision_id for x in store.for_subjects([("mrn", "25DE0040560000002A")])]
['D-0', 'D-1']
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from gateway.decisions.model import Decision
from gateway.storage.files import DECISIONS_DB
from gateway.storage.schema import open_database
from gateway.storage.schemas import DECISIONS

AckStatus = Literal["stored", "duplicate", "superseded", "rejected"]
_MAX_SUBJECTS = 500  # subjects per query (SQLite's variable limit is far above; a passage has a few)


class DecisionStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = open_database(self.path, DECISIONS)

    @classmethod
    def for_storage_dir(cls, directory: str | Path) -> DecisionStore:
        return cls(Path(directory) / DECISIONS_DB)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, decision: Decision) -> AckStatus:
        """Store one decision; the answer says what it changed (see the module's rules)."""
        kind, subject = decision.subject
        issued = decision.issued_at.timestamp()
        valid = decision.valid_until.timestamp() if decision.valid_until is not None else None
        body = decision.model_dump_json(by_alias=True, exclude_none=True)
        with self._lock:
            row = self._db.execute("SELECT issued_at, body FROM decisions WHERE decision_id = ?",
                                   (decision.decision_id,)).fetchone()
            if row is not None:
                if issued <= row[0]:
                    same = issued == row[0] and (body == row[1] or _same(body, row[1]))
                    return "duplicate" if same else "superseded"
                self._db.execute(
                    "UPDATE decisions SET subject_kind = ?, subject = ?, agency = ?, outcome = ?, issued_at = ?, "
                    "valid_until = ?, body = ? WHERE decision_id = ?",
                    (kind, subject, decision.agency, decision.outcome, issued, valid, body, decision.decision_id))
                return "stored"
            later = self._db.execute(
                "SELECT 1 FROM decisions WHERE subject_kind = ? AND subject = ? AND agency = ? AND issued_at > ? "
                "LIMIT 1", (kind, subject, decision.agency, issued)).fetchone()
            self._db.execute(
                "INSERT INTO decisions (decision_id, subject_kind, subject, agency, outcome, issued_at, valid_until, "
                "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (decision.decision_id, kind, subject, decision.agency, decision.outcome, issued, valid, body))
            return "superseded" if later is not None else "stored"

    def for_subjects(self, subjects: Iterable[tuple[str, str]]) -> list[Decision]:
        """Every stored decision about these subjects (the policy picks the latest valid per agency)."""
        wanted = sorted(set(subjects))[:_MAX_SUBJECTS]
        if not wanted:
            return []
        where = " OR ".join("(subject_kind = ? AND subject = ?)" for _ in wanted)
        params = [part for pair in wanted for part in pair]
        with self._lock:
            rows = self._db.execute(f"SELECT body FROM decisions WHERE {where} ORDER BY issued_at, decision_id",
                                    params).fetchall()
        return [Decision.model_validate_json(body) for (body,) in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])


def _same(a: str, b: str) -> bool:
    return Decision.model_validate_json(a) == Decision.model_validate_json(b)
