"""The SQLite databases of a site, by name: what backup, restore and retention work on.

``storage.path`` holds the enrichment store (declarations, products, parties), the passage history
(:mod:`gateway.history.store`) and, unless
``mqtt.outbox.path`` puts it elsewhere, the outbox.  A new database is one more entry here (and in
:mod:`gateway.storage.schemas`); a test keeps these paths equal to the ones the store and the
publisher open.

>>> from gateway.config import parse_config
>>> config = parse_config({"site": "s", "gateway": "g", "lanes": [{"id": "l1"}],
...                        "storage": {"path": "/var/lib/border-gateway"}})
>>> [f"{name}: {path}" for name, path in databases(config).items()]  # doctest: +NORMALIZE_WHITESPACE
['enrichment: /var/lib/border-gateway/enrichment.sqlite', 'outbox: /var/lib/border-gateway/outbox.sqlite',
 'history: /var/lib/border-gateway/history.sqlite']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import SiteConfig

ENRICHMENT_DB = "enrichment.sqlite"
OUTBOX_DB = "outbox.sqlite"
HISTORY_DB = "history.sqlite"
DECISIONS_DB = "decisions.sqlite"


def databases(config: SiteConfig) -> dict[str, Path]:
    """Database name -> file, for one site configuration."""
    storage = Path(config.storage.path)
    out = {"enrichment": storage / ENRICHMENT_DB, "outbox": Path(config.mqtt.outbox.path or storage / OUTBOX_DB),
           "history": storage / HISTORY_DB}
    if config.decisions is not None:  # central decisions (gateway.decisions.store)
        out["decisions"] = storage / DECISIONS_DB
    return out


def companions(path: Path) -> list[Path]:
    """The WAL and shared-memory files SQLite keeps next to a database in WAL mode."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
