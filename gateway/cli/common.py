"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class CLIParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on standard error (exit status 2).

    >>> CLIParser(prog="border-gateway read").error("argument --limit: invalid int value: 'x'")
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def not_built(feature: str) -> int:
    """What a subcommand whose stage is not built yet says (exit status 3)."""
    print(f"border-gateway: {feature} is not built yet in this version", file=sys.stderr)
    return 3
