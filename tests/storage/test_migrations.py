"""Databases written by release 0.1.0 (kept in tests/fixtures/storage/) open, migrate forward and keep working."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.store import Store
from gateway.publishing.outbox import Outbox, OutboxMessage
from gateway.storage.schema import History, Migration, MigrationFailed, SchemaTooNew, migrate, version
from gateway.storage.schemas import ENRICHMENT, OUTBOX

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "storage" / "release-0.1.0"
ROOT = Path(__file__).resolve().parents[2]
MRN_AMENDED = "25DE0040560000001A"  # the fixture holds versions 1 and 2 of it


@pytest.fixture
def release_010(tmp_path: Path) -> Path:
    for name in ("enrichment.sqlite", "outbox.sqlite"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


def _tables(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        db.close()


def test_the_fixtures_are_release_010_files() -> None:
    for name in ("enrichment.sqlite", "outbox.sqlite"):
        db = sqlite3.connect(f"file:{FIXTURES / name}?mode=ro", uri=True)
        assert version(db) == 0
        db.close()
    assert "stored" not in _tables(FIXTURES / "enrichment.sqlite")["declarations"]


def test_a_release_010_store_migrates_and_works(release_010: Path) -> None:
    path = release_010 / "enrichment.sqlite"
    with Store(path) as store:
        assert version(store._db) == ENRICHMENT.latest
        assert store.counts() == {"declarations": 3, "declaration_versions": 4, "products": 4, "parties": 4,
                                  "movements": 0, "keys": store.counts()["keys"]}
        assert store.history(MRN_AMENDED) == [(1, False), (2, True)]
        assert [hit.mrn for hit in store.find("sscc", "340123450000001014")] == [MRN_AMENDED]
        assert store.product("04012345000016") is not None and store.party("p-private-buyer") is not None
        # every migrated row got a stored time; new rows get theirs from SQLite
        stored = store._db.execute("SELECT min(stored), max(stored) FROM declarations").fetchone()
        assert stored[0] is not None and stored[0] > 1.7e9
        # writes work: an amendment, and removal (the keys go with their declaration)
        body = json.loads((ROOT / "config" / "demo-data" / "declarations.json").read_text())[0]
        body["declarationRef"]["version"] = 3
        assert store.upsert_declaration(Declaration.model_validate(body)).outcome == "amended"
        assert store.delete_declaration(MRN_AMENDED) == 3
        assert store.find("sscc", "340123450000001014") == []
        orphans = store._db.execute("SELECT count(*) FROM decl_keys WHERE decl_id NOT IN "
                                    "(SELECT id FROM declarations)").fetchone()[0]
        assert orphans == 0
    # the file as it was is kept for going back to release 0.1.0
    copy = release_010 / "enrichment.sqlite.v0.bak"
    assert _tables(copy) == _tables(FIXTURES / "enrichment.sqlite")
    assert sqlite3.connect(copy).execute("SELECT count(*) FROM declarations").fetchone()[0] == 4
    with Store(path) as store:  # opening again migrates nothing
        assert version(store._db) == ENRICHMENT.latest


def test_a_release_010_outbox_migrates_and_replays(release_010: Path) -> None:
    box = Outbox(release_010 / "outbox.sqlite", clock=lambda: 1_765_000_100.0)  # the fixture's time
    try:
        assert version(box._db) == OUTBOX.latest
        pending = box.pending(after=0)
        assert [m.topic.rsplit("/", 2)[-2:] for m in pending] == [["gw-demo", "status"], ["lane1", "passage"],
                                                                  ["enriched", "lane1"]]
        assert pending[0].retain and pending[0].props == {"content_type": "application/json"}
        assert box.next_count("rev:ni:///sha-256;0000?ver=CBV2.0") == 2  # the counter survived
        [new] = box.put([OutboxMessage("bx/v1/t", b"{}")])
        assert new > pending[-1].id and box.depth() == 4
        box.ack([m.id for m in pending] + [new])
        assert box.depth() == 0
    finally:
        box.close()
    assert (release_010 / "outbox.sqlite.v0.bak").exists()


def test_new_files_are_created_at_the_latest_version_without_a_copy(tmp_path: Path) -> None:
    Store(tmp_path / "enrichment.sqlite").close()
    Outbox(tmp_path / "outbox.sqlite").close()
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak" in p.name) == []
    for name, history in (("enrichment.sqlite", ENRICHMENT), ("outbox.sqlite", OUTBOX)):
        db = sqlite3.connect(tmp_path / name)
        assert version(db) == history.latest
        db.close()


def test_a_file_from_a_newer_release_is_refused(release_010: Path) -> None:
    path = release_010 / "enrichment.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {ENRICHMENT.latest + 1}")
    db.close()
    with pytest.raises(SchemaTooNew, match=r"enrichment database .*enrichment.sqlite has schema version 4, "
                                           r"newer than this release knows \(3\)"):
        Store(path)


def test_a_failing_step_changes_nothing(tmp_path: Path) -> None:
    history = History("t", (Migration(1, "table", "CREATE TABLE t (x INTEGER)"),
                            Migration(2, "broken", "ALTER TABLE t ADD COLUMN y TEXT; INSERT INTO nowhere VALUES (1)")))
    db = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    with pytest.raises(MigrationFailed, match=r"migration to schema version 2 \(broken\) failed, nothing changed"):
        migrate(db, history, tmp_path / "t.sqlite")
    assert version(db) == 1
    assert [row[1] for row in db.execute("PRAGMA table_info(t)")] == ["x"]  # step 2 rolled back whole
    fixed = History("t", (history.steps[0], Migration(2, "fixed", "ALTER TABLE t ADD COLUMN y TEXT")))
    assert migrate(db, fixed, tmp_path / "t.sqlite") == [2]  # and the upgrade resumes at step 2
    db.close()


def test_histories_are_numbered_without_gaps() -> None:
    with pytest.raises(ValueError, match="numbered 1, 2"):
        History("t", (Migration(1, "a", ""), Migration(3, "c", "")))


def test_two_processes_opening_an_old_file_migrate_it_once(release_010: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step re-reads the version inside its transaction: a second opener that read version 0 before the
    first one migrated finds the work done and changes nothing."""
    import gateway.storage.schema as schema

    path = release_010 / "enrichment.sqlite"
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None)
    assert migrate(first, ENRICHMENT, path) == [1, 2, 3]
    stamps = first.execute("SELECT id, stored FROM declarations ORDER BY id").fetchall()
    reads = iter([0])  # the second opener's first look, taken before the first one migrated
    monkeypatch.setattr(schema, "version", lambda db: next(reads, None) or version(db))
    assert migrate(second, ENRICHMENT, path) == []
    assert second.execute("SELECT id, stored FROM declarations ORDER BY id").fetchall() == stamps
    assert version(sqlite3.connect(release_010 / "enrichment.sqlite.v0.bak")) == 0  # the copy is still the old file
    first.close()
    second.close()
