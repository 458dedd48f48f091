"""Mercury framing: ``FF | LEN | OPCODE | [STATUS(2)] | DATA(LEN) | CRC(2)``, and a resynchronising decoder.

LEN counts DATA only.  Responses (reader -> host) carry a 16-bit status word after the
opcode; commands (host -> reader) do not.  The CRC (:mod:`drivers.mercury.crc`) covers
LEN through DATA.

>>> Frame(0x03).encode().hex(" ")
'ff 00 03 1d 0c'
>>> Frame.parse(bytes.fromhex("ff 00 03 1d 0c"), response=False)
Frame(opcode=3, data=b'', status=None)

:class:`FrameDecoder` takes bytes as they arrive (any segmentation), skips garbage, and
reports CRC and length errors as :class:`FrameFault` items instead of raising:

>>> dec = FrameDecoder(responses=False)
>>> out = dec.feed(b"\\x00junk\\xff\\x00\\x03\\x1d") + dec.feed(b"\\x0c")
>>> [type(x).__name__ for x in out], dec.stats.garbage_bytes
(['FrameFault', 'Frame'], 5)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from drivers.mercury.crc import mercury_crc
from drivers.mercury.errors import FrameCRCError, FrameLengthError

SOH = 0xFF
MAX_DATA_LEN = 249  # TMR_SR_MAX_PACKET_SIZE (256) minus header, LEN, opcode, status and CRC


@dataclass(frozen=True, slots=True)
class Frame:
    """One Mercury message.  ``status`` is ``None`` for commands, an int for responses."""

    opcode: int
    data: bytes = b""
    status: int | None = None

    @property
    def is_response(self) -> bool:
        return self.status is not None

    def encode(self) -> bytes:
        if len(self.data) > 255:
            raise FrameLengthError(f"frame data is {len(self.data)} bytes; LEN is one byte")
        body = bytearray((len(self.data), self.opcode))
        if self.status is not None:
            body += self.status.to_bytes(2, "big")
        body += self.data
        return bytes((SOH,)) + bytes(body) + mercury_crc(body).to_bytes(2, "big")

    @classmethod
    def parse(cls, raw: bytes | bytearray | memoryview, *, response: bool) -> Frame:
        """Parse exactly one frame (header included); raise a typed error otherwise."""
        raw = bytes(raw)
        overhead = 7 if response else 5
        if len(raw) < overhead or raw[0] != SOH:
            raise FrameLengthError(f"{raw.hex(' ')!r}: not a frame (needs FF and at least {overhead} bytes)")
        if len(raw) != raw[1] + overhead:
            raise FrameLengthError(f"{raw.hex(' ')!r}: LEN={raw[1]} needs {raw[1] + overhead} bytes, got {len(raw)}")
        expected = mercury_crc(raw[1:-2])
        got = int.from_bytes(raw[-2:], "big")
        if expected != got:
            raise FrameCRCError(f"{raw.hex(' ')!r}: CRC {got:04X}, expected {expected:04X}")
        if response:
            return cls(raw[2], raw[5:-2], int.from_bytes(raw[3:5], "big"))
        return cls(raw[2], raw[3:-2])


FaultKind = Literal["garbage", "crc", "length"]


@dataclass(frozen=True, slots=True)
class FrameFault:
    """Bytes the decoder had to discard, and why.  ``raw`` is truncated to 64 bytes."""

    kind: FaultKind
    detail: str
    raw: bytes = b""


@dataclass(slots=True)
class DecoderStats:
    frames: int = 0
    crc_errors: int = 0
    length_errors: int = 0
    garbage_bytes: int = 0


@dataclass
class FrameDecoder:
    """Incremental frame splitter with resynchronisation.

    After a bad CRC it drops only the ``FF`` it started from and rescans, so a real frame
    that begins inside a corrupted one is still found.  A frame can be at most 256 bytes,
    so a false header can delay, but never block, the stream.
    """

    responses: bool = True
    stats: DecoderStats = field(default_factory=DecoderStats)
    _buf: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> list[FrameFault]:
        """Drop a partial frame (call after a silence or a reconnect)."""
        if not self._buf:
            return []
        fault = FrameFault("garbage", f"{len(self._buf)} byte(s) of an incomplete frame dropped",
                           bytes(self._buf[:64]))
        self.stats.garbage_bytes += len(self._buf)
        self._buf.clear()
        return [fault]

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | FrameFault]:
        buf = self._buf
        buf += data
        out: list[Frame | FrameFault] = []
        overhead = 7 if self.responses else 5
        stats = self.stats
        pos = 0
        n = len(buf)
        while pos < n:
            start = buf.find(SOH, pos)
            if start < 0:
                start = n
            if start > pos:
                stats.garbage_bytes += start - pos
                out.append(FrameFault("garbage", f"{start - pos} byte(s) before a frame header",
                                      bytes(buf[pos:min(start, pos + 64)])))
                pos = start
                if start == n:
                    break
            if n - start < 2:
                break
            length = buf[start + 1]
            if length > MAX_DATA_LEN:
                stats.length_errors += 1
                out.append(FrameFault("length", f"LEN={length} exceeds {MAX_DATA_LEN}", bytes(buf[start:start + 2])))
                pos = start + 1
                continue
            end = start + length + overhead
            if end > n:
                break
            got = (buf[end - 2] << 8) | buf[end - 1]
            if mercury_crc(memoryview(buf)[start + 1:end - 2]) != got:
                stats.crc_errors += 1
                out.append(FrameFault("crc", f"bad CRC on a {end - start}-byte frame (opcode 0x{buf[start + 2]:02X})",
                                      bytes(buf[start:min(end, start + 64)])))
                pos = start + 1
                continue
            if self.responses:
                frame = Frame(buf[start + 2], bytes(buf[start + 5:end - 2]), (buf[start + 3] << 8) | buf[start + 4])
            else:
                frame = Frame(buf[start + 2], bytes(buf[start + 3:end - 2]))
            stats.frames += 1
            out.append(frame)
            pos = end
        del buf[:pos]
        return out
