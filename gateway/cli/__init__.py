"""``border-gateway``: the command line.

Each subcommand lives in its own module under :mod:`gateway.cli` and exposes
``register(subparsers)``; the work itself is delegated to the stage's own package, so the
CLI stays a thin shell.

Errors are handled here, once for every subcommand: a malformed argument is one line on
standard error and a non-zero exit status, never a traceback.  Usage errors (exit 2) come from
:class:`~gateway.cli.common.CLIParser`; an exception escaping a subcommand is reported by
:func:`report_error`: a bad value (``ValueError``, e.g. a reader URL's ``ConfigError``) exits 2,
anything else 1, and only ``--log-level DEBUG`` adds the traceback.

>>> report_error("border-gateway read", ValueError("'llrp://h?start=0': start must be immediate or null"))
2

(the line, ``border-gateway read: 'llrp://h?start=0': start must be immediate or null``, goes to
standard error).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cli import config_cmd, decode, demo, import_cmd, read, run, simulate, storage_cmd
from gateway.cli.common import CLIParser
from gateway.logs import add_logging_arguments, configure_logging

SUBCOMMANDS = (run, demo, decode, read, simulate, config_cmd, import_cmd, storage_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = CLIParser(
        prog="border-gateway",
        description="GS1 border-lane gateway: RFID and barcode reads -> lane passages -> "
        "declaration matching -> MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_logging_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(subparsers)
    _name_subcommands(parser)
    return parser


def _name_subcommands(parser: argparse.ArgumentParser) -> None:
    """Each (sub)subcommand records its full name, ``border-gateway config check``, for its error lines."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(cli_prog=sub.prog)
                _name_subcommands(sub)


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
    except Exception as exc:
        return report_error(getattr(args, "cli_prog", parser.prog), exc)


def report_error(prog: str, exc: Exception) -> int:
    """One line on standard error for an exception that escaped a subcommand; the exit status."""
    logging.getLogger("gateway.cli").debug("%s failed", prog, exc_info=exc)
    if isinstance(exc, (ValueError, OverflowError)):  # a bad value in an argument or a file it names
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, OSError):  # a file, device or port that cannot be used
        print(f"{prog}: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 1
    print(f"{prog}: {type(exc).__name__}: {exc} (--log-level DEBUG shows where)", file=sys.stderr)
    return 1

