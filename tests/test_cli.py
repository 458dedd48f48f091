"""The command-line skeleton: every subcommand has --help; --version works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway import __version__

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_version() -> None:
    res = _cli("--version")
    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize("command", ["run", "demo", "decode", "read", "simulate", "config", "import"])
def test_subcommand_help(command: str) -> None:
    res = _cli(command, "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: border-gateway" in res.stdout


def test_no_command_prints_help_and_fails() -> None:
    res = _cli()
    assert res.returncode == 2 and "usage" in res.stderr


def test_read_unknown_scheme_is_a_clear_error() -> None:
    res = _cli("read", "lrp://127.0.0.1:1")
    assert res.returncode == 3
    assert "unknown source scheme 'lrp'" in res.stderr
