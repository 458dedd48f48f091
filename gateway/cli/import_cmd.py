"""``border-gateway import declarations|products|parties FILE``."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.cli.common import not_built


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="import declarations, products or parties (JSON or CSV)")
    p.add_argument("what", choices=("declarations", "products", "parties", "movements"))
    p.add_argument("file")
    p.add_argument("--config", "-c", help="site YAML (for the storage path)")
    p.add_argument("--db", help="SQLite file (overrides the config's storage path)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module("gateway.enrichment.importer")
    except ModuleNotFoundError:
        return not_built("import")
    return int(module.run_from_cli(args))
