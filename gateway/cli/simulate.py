"""``border-gateway simulate KIND``: run a reader, camera, central-system or fleet simulator.

Each simulator module under :mod:`simulators` exposes ``add_arguments(parser)`` and
``main(args) -> int``; the first line it prints is the address to connect to (a pty path,
``host:port`` or a directory), or, for the central side (``preclearance``, ``fleet``), what it
subscribed or publishes to.  Modules are imported only when their kind is chosen, so the
CLI starts fast and a simulator's heavy imports (OpenCV) cost nothing elsewhere.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.cli.common import CLIParser, not_built

SIMULATORS: dict[str, tuple[str, str]] = {
    "rfid-mercury": ("simulators.mercury_sim", "ThingMagic Mercury serial reader on a pty"),
    "rfid-ascii": ("simulators.ascii_sim", "ASCII-line serial reader on a pty"),
    "rfid-llrp": ("simulators.llrp_sim", "LLRP reader (TCP server)"),
    "camera": ("simulators.camera_sim", "GS1 label scenes as images, video or a frame source"),
    "preclearance": ("simulators.preclearance", "central pre-clearance system: enriched records in, decisions out"),
    "fleet": ("simulators.fleet", "the MQTT traffic of many border posts (a load test for the central side)"),
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("simulate", help="run a reader or camera simulator",
                              description="Run a simulator; 'simulate KIND --help' lists its options.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, (_module, help_text) in SIMULATORS.items():
        sp = kinds.add_parser(kind, help=help_text, description=help_text, add_help=False)
        sp.set_defaults(handler=handle, accepts_extra=True)


def handle(args: argparse.Namespace) -> int:
    module_name, help_text = SIMULATORS[args.kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return not_built(f"the {args.kind} simulator")
    if not hasattr(module, "add_arguments"):
        return not_built(f"the {args.kind} simulator")
    parser = CLIParser(prog=f"border-gateway simulate {args.kind}", description=help_text)
    module.add_arguments(parser)
    sim_args = parser.parse_args(args.extra)
    return int(module.main(sim_args))
