"""``border-gateway demo``: a complete demo lane with simulators, broker and dashboard."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.cli.common import not_built


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="run a demo lane: simulators + gateway + broker + dashboard")
    p.add_argument("--duration", type=float, default=0.0, help="stop after SECONDS (0: until Ctrl-C)")
    p.add_argument("--mqtt-url", help="use this broker instead of starting one")
    p.add_argument("--api-port", type=int, default=8080)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-dashboard", action="store_true")
    p.add_argument("--config", default=None, help="demo configuration (default: config/demo.yaml)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        demo = importlib.import_module("gateway.service.demo")
    except ModuleNotFoundError:
        return not_built("the demo")
    return int(demo.run_from_cli(args))
