"""``border-gateway decode``: GS1 data (element strings, HRI, Digital Link, scanner data)
and EPC binary encodings, from arguments or one per line on standard input."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator
from typing import Any

from gateway.cli.common import not_built

GS1_FORMS = ("auto", "element-string", "hri", "digital-link", "scanner")
EPC_FORMS = ("epc", "pc-epc", "epc-bank")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "decode",
        help="decode and validate GS1 data or EPC hex",
        description="Decode GS1 barcode data or RFID EPCs. Inputs are arguments, or one per "
        "line on standard input when none are given (or '-'). Exit status 1 when any input failed.",
    )
    p.add_argument("inputs", nargs="*", help="inputs; none or '-' reads standard input")
    p.add_argument("--as", dest="form", choices=GS1_FORMS + EPC_FORMS, default="auto",
                   help="force the input form (default: auto-detect GS1 forms)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--lenient", action="store_true",
                   help="GS1: report 'req' rules and day-00 dates as warnings, not errors")
    p.add_argument("--dl-domain", default="https://id.gs1.org",
                   help="stem for the Digital Link output")
    p.add_argument("--company-prefix-table", metavar="FILE",
                   help="EPC encoding: offline GS1 company-prefix length table")
    p.set_defaults(handler=handle)


def iter_inputs(inputs: list[str]) -> Iterator[str]:
    if not inputs or inputs == ["-"]:
        for line in sys.stdin:
            line = line.rstrip("\r\n")
            if line:
                yield line
    else:
        yield from inputs


def handle(args: argparse.Namespace) -> int:
    module_name = "gateway.gs1.epc.cli" if args.form in EPC_FORMS else "gateway.gs1.cli"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return not_built("EPC decoding" if args.form in EPC_FORMS else "GS1 decoding")
    return int(module.run(args, iter_inputs(args.inputs)))
