"""``border-gateway demo``: a complete demo lane with simulators, broker and dashboard."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.cli.common import not_built


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="run a demo lane: simulators + gateway + broker + dashboard")
    p.add_argument("--duration", type=float, default=0.0, metavar="SECONDS",
                   help="stop SECONDS after the scenario starts (2 s after launch), then exit cleanly "
                   "(default: run until Ctrl-C)")
    p.add_argument("--mqtt-url", metavar="URL",
                   help="use this broker (mqtt://host:port) instead of starting a local Mosquitto")
    p.add_argument("--api-port", type=int, default=None, metavar="PORT",
                   help="port of the dashboard and API on 127.0.0.1 (default: 8080, or a free port if busy)")
    p.add_argument("--seed", type=int, default=1, help="scenario seed: the same seed gives the same passages and "
                   "flags (default: 1)")
    p.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard and API")
    p.add_argument("--no-preclearance", action="store_true", help="run without the pre-clearance simulator and "
                   "without decisions back to the lane")
    p.add_argument("--config", default=None, help="demo configuration (default: the shipped demo.yaml)")
    # For tests and development: another scenario file, and the scenario played faster than real time.
    p.add_argument("--scenario", default=None, help=argparse.SUPPRESS)
    p.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    # For the dashboard test: the LLRP simulator stops at this scenario time (a reader going away).
    p.add_argument("--stop-llrp-at", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        demo = importlib.import_module("gateway.service.demo")
    except ModuleNotFoundError:
        return not_built("the demo")
    return int(demo.run_from_cli(args))
