"""``border-gateway simulate KIND``: run a reader or camera simulator.

Each simulator module under :mod:`simulators` exposes ``add_arguments(parser)`` and
``main(args) -> int``; the first line it prints is the address to connect to (a pty path,
``host:port`` or a directory).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.cli.common import not_built

SIMULATORS: dict[str, tuple[str, str]] = {
    "rfid-mercury": ("simulators.mercury_sim", "ThingMagic Mercury serial reader on a pty"),
    "rfid-ascii": ("simulators.ascii_sim", "ASCII-line serial reader on a pty"),
    "rfid-llrp": ("simulators.llrp_sim", "LLRP reader (TCP server)"),
    "camera": ("simulators.camera_sim", "GS1 label scenes as images, video or a frame source"),
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("simulate", help="run a reader or camera simulator")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, (module_name, help_text) in SIMULATORS.items():
        sp = kinds.add_parser(kind, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            sp.set_defaults(handler=lambda _a, k=kind: not_built(f"the {k} simulator"))
            continue
        module.add_arguments(sp)
        sp.set_defaults(handler=module.main)


def handle(args: argparse.Namespace) -> int:  # pragma: no cover - dispatched via set_defaults
    raise AssertionError("unreachable")
