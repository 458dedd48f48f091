"""Split a serial byte stream into lines, sans I/O: CR, LF and CRLF, across any read boundaries.

>>> s = LineSplitter()
>>> s.feed(b"3074257BF7194E4000001A85\\r") + s.feed(b"\\nABCD\\nEF") + s.feed(b"01\\r")
[b'3074257BF7194E4000001A85', b'ABCD', b'EF01']

A CR at the end of one read and the LF at the start of the next are one terminator.
Empty lines are skipped; a line longer than ``max_line`` is cut and reported via
:attr:`LineSplitter.overlong`.
"""

from __future__ import annotations

import re

_EOL = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    def __init__(self, max_line: int = 4096) -> None:
        self.max_line = max_line
        self.overlong = 0
        self._buf = b""
        self._skip_lf = False

    def reset(self) -> bytes:
        """Drop (and return) an unterminated partial line."""
        rest, self._buf, self._skip_lf = self._buf, b"", False
        return rest

    def feed(self, data: bytes) -> list[bytes]:
        if self._skip_lf and data[:1] == b"\n":
            data = data[1:]
        self._skip_lf = False
        buf = self._buf + data if self._buf else data
        lines: list[bytes] = []
        pos = 0
        for m in _EOL.finditer(buf):
            if m.start() > pos:
                lines.append(buf[pos:m.start()])
            pos = m.end()
        if pos and buf[pos - 1:pos] == b"\r":
            self._skip_lf = True
        self._buf = buf[pos:]
        if len(self._buf) > self.max_line:
            self.overlong += 1
            lines.append(self._buf[: self.max_line])
            self._buf = b""
        return lines
