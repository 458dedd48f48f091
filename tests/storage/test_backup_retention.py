"""``border-gateway backup`` / ``restore`` / ``purge`` on real SQLite files, through the command line.

The backup is taken while another thread keeps writing declarations (as the service would), so the copy
must be a consistent snapshot: SQLite's integrity check passes and it holds a count of declarations
that existed at one moment.  Restore checks before it replaces, refuses while a gateway holds the
storage, and keeps what it replaced.  Retention deletes by kind and age, counts in a dry run, and the
declarations' linking keys go with them.
"""

from __future__ import annotations

import json
import sqlite3
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from gateway.cli import main
from gateway.enrichment.declaration import Declaration
from gateway.enrichment.importer import import_file
from gateway.enrichment.store import Store
from gateway.publishing.outbox import Outbox, OutboxMessage
from gateway.storage.lock import StorageLock
from gateway.storage.retention import KINDS, RetentionJob, outbox_max_age, purge
from gateway.storage.schemas import ENRICHMENT, OUTBOX

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "config" / "demo-data"
DAY = 86_400.0


def _site(tmp_path: Path, **storage: object) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"site": "post1", "gateway": "gw1", "lanes": [{"id": "lane1"}],
                                    "storage": {"path": str(tmp_path / "data"), **storage}}))
    return path


def _declaration(n: int, eta: str = "2025-03-01T10:30:00Z") -> Declaration:
    return Declaration.model_validate({
        "declarationRef": {"mrn": f"25DE{n:014d}"}, "customsOfficeOfFirstEntry": "DE004056",
        "activeTransport": {"id": f"B-XY {n}", "eta": eta},
        "houseConsignments": [{"goodsItems": [{"seq": 1, "description": "goods", "hs6": "020230"}]}]})


def _filled(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    with Store(data / "enrichment.sqlite") as store:
        for what in ("parties", "products", "declarations"):
            assert import_file(store, what, DEMO_DATA / f"{what}.json").failed_rows == 0
    box = Outbox(data / "outbox.sqlite")
    box.put([OutboxMessage("bx/v1/t", b"{}", lane="lane1")])
    box.close()
    return data


def test_backup_while_writing_then_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site, data = _site(tmp_path), _filled(tmp_path)
    stop, written = threading.Event(), [0]

    def writer() -> None:  # the service keeps storing declarations while the backup is taken
        with Store(data / "enrichment.sqlite") as store:
            n = 1
            while not stop.is_set() and n < 5000:
                store.upsert_declaration(_declaration(n))
                written[0] = n
                n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            time.sleep(0.01)
        assert main(["backup", str(tmp_path / "b.tar.gz"), "-c", str(site)]) == 0
    finally:
        stop.set()
        thread.join(30)
    out = capsys.readouterr().out
    assert f"enrichment (schema {ENRICHMENT.latest}," in out and f"outbox (schema {OUTBOX.latest}," in out
    assert "site post1, gateway gw1" in out
    with tarfile.open(tmp_path / "b.tar.gz") as archive:
        assert sorted(archive.getnames()) == ["databases/enrichment.sqlite", "databases/outbox.sqlite",
                                              "manifest.json"]
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
        archive.extract("databases/enrichment.sqlite", tmp_path / "x", filter="data")
    assert manifest["databases"] == {"enrichment": ENRICHMENT.latest, "outbox": OUTBOX.latest}
    copy = sqlite3.connect(tmp_path / "x" / "databases" / "enrichment.sqlite")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    in_copy = copy.execute("SELECT count(*) FROM declarations WHERE mrn LIKE '25DE0000%'").fetchone()[0]
    keys = copy.execute("SELECT count(*) FROM decl_keys k JOIN declarations d ON d.id = k.decl_id "
                        "WHERE d.mrn LIKE '25DE0000%'").fetchone()[0]
    copy.close()
    assert 20 <= in_copy <= written[0] and keys == 3 * in_copy  # its MRN, plate and plate skeleton keys: no half rows

    # Later changes are undone by the restore; the replaced files are kept.
    with Store(data / "enrichment.sqlite") as store:
        store.upsert_declaration(_declaration(99_999))
    assert main(["restore", str(tmp_path / "b.tar.gz"), "-c", str(site)]) == 0
    assert "the replaced files are kept as *.pre-restore" in capsys.readouterr().out
    with Store(data / "enrichment.sqlite") as store:
        assert store.declaration(f"25DE{99_999:014d}") is None
        assert store.counts()["declarations"] == 5 + in_copy  # the demo data's five, and the copied ones
    assert (data / "enrichment.sqlite.pre-restore").exists() and not (data / "enrichment.sqlite-wal").exists()
    box = Outbox(data / "outbox.sqlite")
    assert box.depth() == 1
    box.close()


def test_restore_refuses_while_a_gateway_holds_the_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site, data = _site(tmp_path), _filled(tmp_path)
    assert main(["backup", str(tmp_path / "b.tar.gz"), "-c", str(site)]) == 0
    before = (data / "enrichment.sqlite").stat().st_mtime_ns
    with StorageLock(data):
        assert main(["restore", str(tmp_path / "b.tar.gz"), "-c", str(site)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is in use by another gateway (pid" in err[0] and "stop it first" in err[0]
    assert (data / "enrichment.sqlite").stat().st_mtime_ns == before


def test_restore_checks_before_it_replaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site, _data = _site(tmp_path), _filled(tmp_path)
    assert main(["backup", str(tmp_path / "b.tar.gz"), "-c", str(site)]) == 0
    other = tmp_path / "other.yaml"
    other.write_text(site.read_text().replace("gw1", "gw2"))
    assert main(["restore", str(tmp_path / "b.tar.gz"), "-c", str(other)]) == 1
    assert "is a backup of post1/gw1, not of post1/gw2 (--force restores it anyway)" in capsys.readouterr().err
    (tmp_path / "junk.tar.gz").write_bytes(b"not a backup")
    assert main(["restore", str(tmp_path / "junk.tar.gz"), "-c", str(site)]) == 1
    assert "is not a border-gateway backup" in capsys.readouterr().err
    # a damaged database inside a well-formed archive
    with tarfile.open(tmp_path / "b.tar.gz") as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    damaged = tmp_path / "unpacked" / "databases" / "enrichment.sqlite"
    raw = bytearray(damaged.read_bytes())
    raw[4096:8192] = b"\xff" * 4096
    damaged.write_bytes(bytes(raw))
    with tarfile.open(tmp_path / "damaged.tar.gz", "w:gz") as archive:
        for name in ("manifest.json", "databases/enrichment.sqlite", "databases/outbox.sqlite"):
            archive.add(tmp_path / "unpacked" / name, arcname=name)
    assert main(["restore", str(tmp_path / "damaged.tar.gz"), "-c", str(site)]) == 1
    assert "enrichment database is damaged" in capsys.readouterr().err
    assert not list((tmp_path / "data").glob("*.pre-restore"))  # nothing was touched


def test_purge_by_kind_and_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path, retention={"declarations": 30, "parties": 10, "passages": 2})
    data = _filled(tmp_path)
    with Store(data / "enrichment.sqlite") as store:
        store.upsert_declaration(_declaration(1, eta="2099-01-01T00:00:00Z"))  # expected in the future: kept
        store._db.execute("UPDATE declarations SET stored = stored - 40 * 86400")  # received 40 days ago
        store._db.execute("UPDATE parties SET stored = stored - 5 * 86400")
        store._db.execute("UPDATE parties SET stored = stored - 20 * 86400 WHERE party_ref = 'p-private-buyer'")
    db = sqlite3.connect(data / "outbox.sqlite")
    db.execute("UPDATE outbox SET created = created - 3 * 86400")
    db.commit()
    db.close()

    assert main(["purge", "-c", str(site), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "passages: 1 older than 2 days (dry run)", "declarations: 5 older than 30 days (dry run)",
        "parties: 1 older than 10 days (dry run)", "movements: 0 older than 30 days (dry run)",
        "passage_history: no database yet"]
    with StorageLock(data):  # a gateway runs: it applies the passages' period itself
        assert main(["purge", "-c", str(site)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "passages: left to the running gateway (outbox database)", "declarations: 5 older than 30 days",
        "parties: 1 older than 10 days", "movements: 0 older than 30 days", "passage_history: no database yet"]
    with Store(data / "enrichment.sqlite") as store:
        assert list(store.iter_mrns()) == [f"25DE{1:014d}"]
        assert store.party("p-private-buyer") is None and store.counts()["parties"] == 3
        orphans = store._db.execute("SELECT count(*) FROM decl_keys WHERE decl_id NOT IN "
                                    "(SELECT id FROM declarations)").fetchone()[0]
        assert orphans == 0  # the linking keys (plates, SSCCs, EORIs) went with their declarations
    assert main(["purge", "-c", str(site)]) == 0  # no gateway: the outbox rows go too
    assert capsys.readouterr().out.splitlines()[0] == "passages: 1 older than 2 days"
    assert sqlite3.connect(data / "outbox.sqlite").execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_retention_kinds_and_defaults() -> None:
    assert [(k.name, k.default_days) for k in KINDS] == [("passages", None), ("declarations", 90.0),
                                                         ("parties", 365.0), ("movements", 30.0),
                                                         ("passage_history", 30.0), ("decisions", 90.0)]
    assert outbox_max_age({}, 7 * DAY) == 7 * DAY
    assert outbox_max_age({"passages": 2}, 7 * DAY) == 2 * DAY
    assert outbox_max_age({"passages": 30}, 7 * DAY) == 7 * DAY
    with pytest.raises(ValueError, match=r"unknown kinds of data \['plates'\]"):
        purge({}, {"plates": 3}, 0.0)


def test_the_service_job_purges_at_start_and_leaves_the_outbox(tmp_path: Path) -> None:
    data = _filled(tmp_path)
    with Store(data / "enrichment.sqlite") as store:
        store._db.execute("UPDATE declarations SET stored = 0")  # the ETAs (2025-03-01) count then
    job = RetentionJob({"enrichment": data / "enrichment.sqlite", "outbox": data / "outbox.sqlite"},
                       {"passages": 1, "parties": None}, clock=lambda: 1_740_823_200 + 91 * DAY)
    job.start()
    try:
        deadline = time.monotonic() + 20
        while not job.runs and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        job.stop()
    assert [str(r) for r in job.runs[0]] == ["passages: left to the running gateway (outbox database)",
                                             "declarations: 5 older than 90 days", "parties: kept (no period set)",
                                             "movements: 0 older than 30 days"]  # no history database here


@pytest.mark.parametrize("outbox", [None, "elsewhere/outbox.sqlite"])
def test_the_files_backed_up_are_the_files_the_service_opens(tmp_path: Path, outbox: str | None) -> None:
    from gateway.config import load_config
    from gateway.history.store import HistoryStore
    from gateway.publishing.publisher import Publisher
    from gateway.storage.files import databases

    site = _site(tmp_path)
    if outbox is not None:
        raw = yaml.safe_load(site.read_text())
        raw["mqtt"] = {"outbox": {"path": str(tmp_path / outbox)}}
        site.write_text(yaml.safe_dump(raw))
    config = load_config(site)
    files = databases(config)
    with Store.for_storage_dir(config.storage.path) as store:
        assert Path(store.path) == files["enrichment"]
    history = HistoryStore.for_storage_dir(config.storage.path)
    try:
        assert Path(history.path) == files["history"]
    finally:
        history.close()
    publisher = Publisher.from_site(config)
    try:
        assert publisher.outbox.path == files["outbox"]
    finally:
        publisher.outbox.close()
