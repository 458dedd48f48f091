"""``border-gateway backup FILE`` and ``restore FILE``: a consistent copy of the storage, taken while it runs.

A backup is one gzip-compressed tar file holding ``manifest.json`` (release, site, gateway, time,
and each database's schema version) and a copy of each database of the site
(:func:`gateway.storage.files.databases`) made with SQLite's online backup API: a consistent snapshot
of each file, taken while the service keeps writing (in WAL mode readers do not block writers).
Each database is consistent in itself; the two are copied one after the other.

``restore`` refuses while a gateway holds the storage (:mod:`gateway.storage.lock`) and holds the lock
itself while it works, so that no gateway starts on half-restored files.  Before it touches anything it
checks every database in the archive (SQLite's integrity check, and a schema version this release can
open) and that the archive is of the same site and gateway (``force`` overrides that one).  It folds
each replaced database's WAL into it and keeps it as ``*.pre-restore``, then moves the restored files
in.  A backup from an earlier release is migrated forward at the next start, like any old file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway import __version__
from gateway.storage.files import companions
from gateway.storage.lock import StorageLock
from gateway.storage.schema import version
from gateway.storage.schemas import HISTORIES

MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(RuntimeError):
    """The backup cannot be made or restored; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Manifest:
    site: str
    gateway: str
    created: float
    release: str = __version__
    format: int = FORMAT
    databases: dict[str, int] = field(default_factory=dict)  # name -> schema version
    sizes: dict[str, int] = field(default_factory=dict)  # name -> bytes

    @property
    def created_iso(self) -> str:
        return datetime.fromtimestamp(self.created, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def backup(databases: Mapping[str, Path], target: Path, *, site: str, gateway: str,
           clock: Callable[[], float] = time.time) -> Manifest:
    """Write a backup of every existing database to ``target`` (atomically: a partial file is never left)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bx-backup-", dir=target.parent) as work:
        versions: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for name, path in databases.items():
            if not path.exists():
                continue
            copy = Path(work) / f"{name}.sqlite"
            _online_copy(path, copy)
            db = sqlite3.connect(copy)
            try:
                versions[name] = version(db)
            finally:
                db.close()
            sizes[name] = copy.stat().st_size
        if not versions:
            raise BackupError(f"nothing to back up: none of {', '.join(str(p) for p in databases.values())} exists")
        manifest = Manifest(site=site, gateway=gateway, created=clock(), databases=versions, sizes=sizes)
        partial = Path(work) / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(asdict(manifest), indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(manifest.created), 0o600
            archive.addfile(info, io.BytesIO(data))
            for name in versions:
                archive.add(Path(work) / f"{name}.sqlite", arcname=f"databases/{name}.sqlite")
        partial.chmod(0o600)  # it holds personal data
        os.replace(partial, target)
    return manifest


def _online_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=30.0)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: a snapshot as of one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no WAL beside it
    finally:
        dst.close()
        src.close()


def read_manifest(archive_path: Path) -> Manifest:
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            data = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive_path} is not a border-gateway backup ({type(exc).__name__}: {exc})") from None
    if data.get("format") != FORMAT:
        raise BackupError(f"{archive_path}: backup format {data.get('format')!r} is not known to this release")
    return Manifest(**data)


def restore(archive_path: Path, databases: Mapping[str, Path], storage_dir: Path, *, site: str, gateway: str,
            force: bool = False) -> Manifest:
    """Put a backup back in place of the site's databases (see the module docstring for the checks)."""
    manifest = read_manifest(archive_path)
    if (manifest.site, manifest.gateway) != (site, gateway) and not force:
        raise BackupError(f"{archive_path} is a backup of {manifest.site}/{manifest.gateway}, not of {site}/{gateway} "
                          "(--force restores it anyway)")
    unknown = set(manifest.databases) - set(databases)
    if unknown:
        raise BackupError(f"{archive_path} holds databases this site does not have: {sorted(unknown)}")
    # StorageLock raises StorageLocked while a gateway runs on the storage
    with StorageLock(storage_dir), tempfile.TemporaryDirectory(prefix=".bx-restore-", dir=storage_dir) as work:
        staged = _unpack_and_check(archive_path, manifest, Path(work))
        for name, path in databases.items():
            _set_aside(path)
            if name in staged:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged[name], path)
    return manifest


def _unpack_and_check(archive_path: Path, manifest: Manifest, work: Path) -> dict[str, Path]:
    staged: dict[str, Path] = {}
    with tarfile.open(archive_path, "r:*") as archive:
        for name in manifest.databases:  # only the members the manifest names, written by us: no path tricks
            member = archive.extractfile(f"databases/{name}.sqlite")
            if member is None:
                raise BackupError(f"{archive_path}: {name} database missing from the archive")
            out = work / f"{name}.sqlite"
            with out.open("wb") as handle:
                while chunk := member.read(1 << 20):
                    handle.write(chunk)
            staged[name] = out
    for name, path in staged.items():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            found = version(db)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{archive_path}: {name} database is damaged ({exc})") from None
        finally:
            db.close()
        if check != "ok":
            raise BackupError(f"{archive_path}: {name} database is damaged ({check})")
        history = HISTORIES.get(name)
        if history is not None and found > history.latest:
            raise BackupError(f"{archive_path}: {name} database has schema version {found}, newer than this release "
                              f"knows ({history.latest}); restore it with the release that made it "
                              f"({manifest.release})")
    return staged


def _set_aside(path: Path) -> None:
    """Keep the current file as ``*.pre-restore``, its WAL folded in; nothing of it stays at ``path``."""
    if path.exists():
        db = sqlite3.connect(path, timeout=30.0)
        try:
            with contextlib.suppress(sqlite3.DatabaseError):  # a damaged file is kept as it is
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        os.replace(path, path.with_name(path.name + ".pre-restore"))
    for companion in companions(path):
        companion.unlink(missing_ok=True)
