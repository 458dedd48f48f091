"""``border-gateway backup FILE`` / ``restore FILE`` / ``purge [--dry-run]``: looking after the storage.

Each reads the site file (``--config``) for the storage directory, the outbox file and the retention
periods; the work itself is in :mod:`gateway.storage`.  Every failure is one line on standard error
and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, SiteConfig, load_config


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("backup", help="copy the storage (declarations, master data, outbox) into one "
                              "file, while the service runs")
    p.add_argument("file", help="the backup to write (a .tar.gz)")
    p.add_argument("--config", "-c", required=True, help="site YAML")
    p.set_defaults(handler=handle_backup)
    p = subparsers.add_parser("restore", help="put a backup back (the service must be stopped)")
    p.add_argument("file", help="a backup written by 'border-gateway backup'")
    p.add_argument("--config", "-c", required=True, help="site YAML")
    p.add_argument("--force", action="store_true", help="restore a backup of another site or gateway")
    p.set_defaults(handler=handle_restore)
    p = subparsers.add_parser("purge", help="delete what is older than its retention period (storage.retention)")
    p.add_argument("--config", "-c", required=True, help="site YAML")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(handler=handle_purge)


def _config(args: argparse.Namespace) -> SiteConfig | None:
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _fail(command: str, exc: Exception | str) -> int:
    print(f"border-gateway {command}: {exc}", file=sys.stderr)
    return 1


def handle_backup(args: argparse.Namespace) -> int:
    from gateway.storage.backup import BackupError, backup
    from gateway.storage.files import databases

    config = _config(args)
    if config is None:
        return 1
    try:
        manifest = backup(databases(config), Path(args.file), site=config.site, gateway=config.gateway)
    except (BackupError, OSError) as exc:
        return _fail("backup", exc)
    parts = ", ".join(f"{name} (schema {v}, {manifest.sizes.get(name, 0) / 1e6:.1f} MB)"
                      for name, v in manifest.databases.items())
    print(f"{args.file}: {parts}; site {manifest.site}, gateway {manifest.gateway}, {manifest.created_iso}")
    return 0


def handle_restore(args: argparse.Namespace) -> int:
    from gateway.storage.backup import BackupError, restore
    from gateway.storage.files import databases
    from gateway.storage.lock import StorageLocked

    config = _config(args)
    if config is None:
        return 1
    storage = Path(config.storage.path)
    try:
        manifest = restore(Path(args.file), databases(config), storage, site=config.site, gateway=config.gateway,
                           force=args.force)
    except StorageLocked as exc:
        return _fail("restore", f"{exc}: stop it first (systemctl stop border-gateway)")
    except (BackupError, OSError) as exc:
        return _fail("restore", exc)
    print(f"restored {args.file} (made {manifest.created_iso} by release {manifest.release}) into {storage}/: "
          f"{', '.join(manifest.databases)}; the replaced files are kept as *.pre-restore")
    return 0


def handle_purge(args: argparse.Namespace) -> int:
    import sqlite3

    from gateway.storage.files import databases
    from gateway.storage.lock import holder
    from gateway.storage.retention import purge

    config = _config(args)
    if config is None:
        return 1
    # A running gateway holds the outbox's queue in memory too: it applies the passages' period itself.
    running = holder(config.storage.path) is not None
    try:
        results = purge(databases(config), config.storage.retention, time.time(), dry_run=args.dry_run,
                        skip=("outbox",) if running else ())
    except (sqlite3.Error, OSError) as exc:
        return _fail("purge", exc)
    for result in results:
        print(result)
    return 0
