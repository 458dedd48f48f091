"""The command-line skeleton: every subcommand has --help; --version works; a malformed argument to any
subcommand is one line and a non-zero exit status, never a traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway import __version__
from gateway.cli import build_parser

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


# -- a malformed argument to every subcommand: one line, non-zero exit, no traceback -----------------------

# subcommand -> (arguments, the stream the one line goes to, what it says); {tmp} is a scratch directory
# holding site.yaml, which is not YAML.
MALFORMED: dict[str, tuple[list[str], str, str]] = {
    "run": (["--config", "{tmp}/site.yaml"], "stderr", "invalid YAML"),
    "demo": (["--api-port", "99999", "--no-dashboard"], "stderr", "border-gateway demo: "),
    "decode": (["--as", "pc-epc", "ZZ00"], "stdout", "ZZ00: ERROR not_hex"),  # the per-input error line
    "read": (["llrp://127.0.0.1:5084?start=0"], "stderr",  # issue 20's example
             "border-gateway read: 'llrp://127.0.0.1:5084?start=0': start must be immediate or null"),
    "simulate rfid-mercury": (["--antennas", "one"], "stderr", "simulate rfid-mercury: "),
    "simulate rfid-ascii": (["--antennas", "one"], "stderr", "simulate rfid-ascii: "),
    "simulate rfid-llrp": (["--port", "99999"], "stderr", "border-gateway simulate rfid-llrp: "),
    "simulate camera": (["--size", "big", "--out", "{tmp}/frames"], "stderr",
                        "border-gateway simulate camera: --size must be WxH, got 'big'"),
    "simulate preclearance": (["--to", "nogateway"], "stderr",
                              "border-gateway simulate preclearance: --to 'nogateway': expected SITE/GATEWAY"),
    "simulate fleet": (["--posts", "0"], "stderr", "border-gateway simulate fleet: posts and lanes must be"),
    "config check": (["{tmp}/site.yaml"], "stderr", "invalid YAML"),
    "config schema": (["--indent", "2"], "stderr", "error: unrecognized arguments: --indent 2"),
    "config example": (["--indent", "2"], "stderr", "error: unrecognized arguments: --indent 2"),
    "backup": (["--config", "{tmp}/site.yaml", "{tmp}/b.tar.gz"], "stderr", "invalid YAML"),
    "restore": (["--config", "{tmp}/site.yaml", "{tmp}/b.tar.gz"], "stderr", "invalid YAML"),
    "purge": (["--config", "{tmp}/site.yaml"], "stderr", "invalid YAML"),
    "import": (["declarations", "{tmp}/site.yaml", "--db", "{tmp}/x.db"], "stderr", "Expecting value"),
}


def _leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every runnable subcommand of the parser, e.g. ``config check``, ``simulate camera``."""
    out: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _leaf_commands(sub, f"{prefix}{name} ") or [f"{prefix}{name}"]
    return out


def test_every_subcommand_has_a_malformed_argument_case() -> None:
    assert sorted(_leaf_commands(build_parser())) == sorted(MALFORMED)


def test_a_malformed_argument_is_one_line_and_a_non_zero_exit_for_every_subcommand(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("site: [unclosed\n")

    def attempt(command: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        args = MALFORMED[command][0]
        return command, _cli(*command.split(), *(a.format(tmp=tmp_path) for a in args))

    with ThreadPoolExecutor(max_workers=3) as pool:  # bounded: each is a short-lived process
        results = list(pool.map(attempt, MALFORMED))
    for command, res in results:
        stream = res.stdout if MALFORMED[command][1] == "stdout" else res.stderr
        assert res.returncode != 0, (command, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr + res.stdout, (command, res.stderr)
        lines = [line for line in stream.splitlines() if line.strip()]
        assert len(lines) == 1 and MALFORMED[command][2] in lines[0], (command, stream)
