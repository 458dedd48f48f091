"""``border-gateway``: the command line.

Each subcommand lives in its own module under :mod:`gateway.cli` and exposes
``register(subparsers)``; the work itself is delegated to the stage's own package, so the
CLI stays a thin shell.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cli import config_cmd, decode, demo, import_cmd, read, run, simulate, storage_cmd
from gateway.logs import add_logging_arguments, configure_logging

SUBCOMMANDS = (run, demo, decode, read, simulate, config_cmd, import_cmd, storage_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="border-gateway",
        description="GS1 border-lane gateway: RFID and barcode reads -> lane passages -> "
        "declaration matching -> MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_logging_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Simulators parse their own options (imported only when chosen): they accept the rest.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    configure_logging(level=args.log_level, json_lines=args.log_json)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130

