"""An ASCII-line tag reader on a pseudo-terminal, driven by a :class:`TagWorld`.

It prints one line per tag read in a preset format (``hex``, ``alien``, ``rifidi``) with the
chosen line ending, ignores input (these readers are write-only), and adds line-level faults
to those of :mod:`simulators.serial_runner`: garbage lines and lines split across writes.

>>> fmt = LineFormatter("alien", "\\r\\n")
>>> print(fmt.line("3074257bf7194e4000001a85", 1, -52.0, 1714557600.25).decode().strip())
Tag:3074 257B F719 4E40 0000 1A85, Disc:2024/05/01 10:00:00.250, Last:2024/05/01 10:00:00.250, Count:1, Ant:1, Proto:2
>>> LineFormatter("rifidi", "\\n").line("3074257bf7194e4000001a85", 2, -52.0, 1714557600.25)
b'ID:3074257BF7194E4000001A85|Antenna:2|Timestamp:1714557600250\\n'

CLI: ``border-gateway simulate rfid-ascii --format alien --tags 5 --rate 20``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from simulators.mercury_sim import build_world, serve
from simulators.pty_port import PtyPort
from simulators.serial_runner import SerialSimulator
from simulators.tag_world import TagWorld, synthetic_sgtin96

FORMATS = ("hex", "alien", "rifidi")
ENDINGS = {"crlf": "\r\n", "lf": "\n", "cr": "\r"}


class LineFormatter:
    def __init__(self, fmt: str = "hex", ending: str = "\r\n") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")
        self.fmt = fmt
        self.ending = ending

    def line(self, epc_hex: str, antenna: int, rssi: float, when: float) -> bytes:
        epc = epc_hex.upper()
        if self.fmt == "hex":
            text = epc
        elif self.fmt == "alien":
            spaced = " ".join(epc[i:i + 4] for i in range(0, len(epc), 4))
            stamp = datetime.fromtimestamp(when, UTC).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
            text = f"Tag:{spaced}, Disc:{stamp}, Last:{stamp}, Count:1, Ant:{antenna}, Proto:2"
        else:
            text = f"ID:{epc}|Antenna:{antenna}|Timestamp:{round(when * 1000)}"
        return (text + self.ending).encode("ascii")


class AsciiSimulator(SerialSimulator):
    def __init__(self, world: TagWorld | None = None, reader: str | None = None, *, fmt: str = "hex",
                 ending: str = "\r\n", sequence_rate: float = 0.0, port: PtyPort | None = None,
                 speed: float = 1.0) -> None:
        super().__init__(port, speed, name="ttyASCII")
        self.world = world
        self.reader = reader or (world.readers[0] if world is not None and world.readers else "reader-1")
        self.formatter = LineFormatter(fmt, ending)
        self.sequence_rate = sequence_rate
        self.sequence = 0
        self.lines_sent = 0
        self.split_next = 0
        self._epoch = time.time()

    def _lines(self, reads: list[tuple[str, int, float, float]]) -> bytes:
        out = bytearray()
        for epc, antenna, rssi, t in reads:
            out += self.formatter.line(epc, antenna, rssi, self._epoch + t)
        self.lines_sent += len(reads)
        return bytes(out)

    def produce(self, t0: float, t1: float) -> bytes:
        reads: list[tuple[str, int, float, float]] = []
        if self.sequence_rate > 0:
            while (self.sequence + 1) / self.sequence_rate <= t1:
                reads.append((synthetic_sgtin96(self.sequence), 1, -50.0, self.sequence / self.sequence_rate))
                self.sequence += 1
        elif self.world is not None:
            reads = [(r.epc_hex, r.antenna, r.rssi_dbm, r.time) for r in self.world.reads_between(self.reader, t0, t1)]
        data = self._lines(reads)
        if data and self.split_next > 0:
            self.split_next -= 1
            cut = max(1, len(data) // 2 - 3)
            self._write(data[:cut])
            time.sleep(0.02)  # the rest arrives in a later read on the driver side
            return data[cut:]
        return data

    def burst_bytes(self, n: int, t: float) -> bytes:
        return self._lines([(synthetic_sgtin96(i), 1, -50.0, t) for i in range(n)])

    def garbage_line(self, text: bytes = b"#?~ noise ~?#") -> None:
        self.write_raw(text + self.formatter.ending.encode())

    def split_lines(self, count: int = 1) -> None:
        """The next ``count`` writes are cut in the middle of a line."""
        def act() -> None:
            self.split_next += count
        self.call(act)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--scenario", help="scenario YAML: config/scenarios/ format (GS1 tags) or TagWorld (epcs)")
    src.add_argument("--tags", type=int, default=20, help="steady world: N tags always in the field (default 20)")
    parser.add_argument("--rate", type=float, default=50.0, help="steady world: reads per second in total")
    parser.add_argument("--sequence", action="store_true", help="numbered tags at --rate, for loss checks")
    parser.add_argument("--reader", help="reader id in the scenario (default: its first reader)")
    parser.add_argument("--antennas", default="1", help="steady world: antennas, e.g. 1,2")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--format", choices=FORMATS, default="hex")
    parser.add_argument("--line-ending", choices=sorted(ENDINGS), default="crlf")
    parser.add_argument("--link", help="path of the pty symlink (default: a temp dir)")
    parser.add_argument("--speed", type=float, default=1.0)


def main(args: argparse.Namespace) -> int:
    try:
        world = build_world(args)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"simulate rfid-ascii: {exc}", file=sys.stderr)
        return 2
    port = PtyPort(path=args.link) if args.link else None
    sim = AsciiSimulator(world, args.reader, fmt=args.format, ending=ENDINGS[args.line_ending],
                         sequence_rate=args.rate if args.sequence else 0.0, port=port, speed=args.speed)
    return serve(sim)


if __name__ == "__main__":  # python -m simulators.ascii_sim
    _parser = argparse.ArgumentParser(description="ASCII-line tag reader simulator on a pty")
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
