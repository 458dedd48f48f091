"""``border-gateway run --config FILE``: the gateway service."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.cli.common import not_built


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run the gateway service from a site configuration")
    p.add_argument("--config", "-c", required=True, help="site YAML (see config/site.example.yaml)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        service = importlib.import_module("gateway.service.app")
    except ModuleNotFoundError:
        return not_built("the service ('run')")
    return int(service.run_from_cli(args))
