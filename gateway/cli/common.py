"""Helpers shared by the subcommands."""

from __future__ import annotations

import sys


def not_built(feature: str) -> int:
    """What a subcommand whose stage is not built yet says (exit status 3)."""
    print(f"border-gateway: {feature} is not built yet in this version", file=sys.stderr)
    return 3
