"""ASCII-line reader driver: ``serial-ascii:///dev/ttyS1?format=alien`` (or ``serial-ascii://host:port``).

Parameters: ``format`` (``hex`` default, ``alien``, ``rifidi``, ``regex`` + ``pattern``),
``baud`` (default 9600), ``antenna`` (channel when the format carries none; default 1), and
``silence``, ``backoff``, ``backoff_max`` as for every serial driver; any other parameter is an
error.  The encoding is ASCII.  Lines that do not parse are skipped, counted, logged and reported as a
``SourceStatus`` detail at most once a second (never silently).  A partial line left when
the port drops is counted the same way.
"""

from __future__ import annotations

import logging

from drivers.ascii_serial.formats import ALIASES, PRESETS, LineError, compile_pattern, parse_line
from drivers.ascii_serial.lines import LineSplitter
from drivers.rfid import rfid_read
from drivers.serial_common import SerialSource, SerialTarget, SerialURLError
from gateway.reads import SourceEvent

log = logging.getLogger(__name__)

PARAMS = frozenset({"format", "pattern", "antenna"})


class AsciiLineSource(SerialSource):
    default_silence = 0.0  # many line readers say nothing while no tag is present: no silence watchdog

    def __init__(self, source_id: str, url: str) -> None:
        target = SerialTarget.parse(url, default_baud=9600)
        super().__init__(source_id, url)
        self.target = target
        p = target.params
        target.only(PARAMS)
        self.format = ALIASES.get(p.get("format", "hex"), p.get("format", "hex"))
        if self.format not in PRESETS:
            raise SerialURLError(f"{url!r}: unknown format {self.format!r}; one of {PRESETS}")
        try:
            self.pattern = compile_pattern(p["pattern"]) if self.format == "regex" else None
        except KeyError:
            raise SerialURLError(f"{url!r}: format=regex needs pattern=...") from None
        except LineError as exc:
            raise SerialURLError(f"{url!r}: {exc}") from None
        self.default_channel = p.get("antenna", "1")
        if not self.default_channel.isdigit():
            raise SerialURLError(f"{url!r}: antenna must be a port number, got {self.default_channel!r}")
        if "silence" not in p:
            self.silence = float("inf")
        self.splitter = LineSplitter()
        self.garbage_lines = 0

    def end_session(self) -> None:
        if self.splitter.reset():
            self.garbage_lines += 1
            self.faults.add("partial line(s)")

    def on_bytes(self, data: bytes, host_time: float) -> list[SourceEvent]:
        out: list[SourceEvent] = []
        overlong = self.splitter.overlong
        for line in self.splitter.feed(data):
            try:
                parsed = parse_line(line, self.format, self.pattern)
            except LineError as exc:
                self.garbage_lines += 1
                self.faults.add("garbage line(s)")
                log.debug("source %s: %s", self.source_id, exc)
                continue
            if parsed is None:
                continue
            channel = str(parsed.antenna) if parsed.antenna is not None else self.default_channel
            out.append(rfid_read(self.source_id, channel, parsed.epc_hex, host_time,
                                 source_time=parsed.source_time, rssi_dbm=parsed.rssi_dbm,
                                 count=parsed.count, extra=dict(parsed.extra)))
        if self.splitter.overlong != overlong:
            self.faults.add("overlong line(s)", self.splitter.overlong - overlong)
        return out


def open_source(source_id: str, url: str) -> AsciiLineSource:
    return AsciiLineSource(source_id, url)


def check_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``): every parameter, nothing opened."""
    AsciiLineSource("config-check", url)
