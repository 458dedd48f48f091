"""Bit reader and writer over Python integers (MSB first), sans-I/O.

>>> r = BitReader(0b1011_0001, 8)
>>> r.read(4), r.read(4), r.remaining
(11, 1, 0)
>>> w = BitWriter(); w.write(0b101, 3); w.write(1, 1); (w.value, w.length)
(11, 4)
"""

from __future__ import annotations

from gateway.gs1.epc.errors import TruncatedError


class BitReader:
    __slots__ = ("length", "pos", "value")

    def __init__(self, value: int, length: int, pos: int = 0) -> None:
        self.value = value
        self.length = length
        self.pos = pos

    @property
    def remaining(self) -> int:
        return self.length - self.pos

    def read(self, n: int) -> int:
        end = self.pos + n
        if end > self.length:
            raise TruncatedError(f"needs {n} more bits at bit {self.pos}, only {self.length - self.pos} left")
        self.pos = end
        return (self.value >> (self.length - end)) & ((1 << n) - 1)

    def peek(self, n: int) -> int:
        end = self.pos + n
        if end > self.length:
            raise TruncatedError(f"needs {n} more bits at bit {self.pos}, only {self.length - self.pos} left")
        return (self.value >> (self.length - end)) & ((1 << n) - 1)

    def rest_is_zero(self) -> bool:
        return self.value & ((1 << (self.length - self.pos)) - 1) == 0


class BitWriter:
    __slots__ = ("length", "value")

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def write(self, value: int, n: int) -> None:
        self.value = (self.value << n) | value
        self.length += n

    def hex(self, pad_to_words: bool = True) -> str:
        """Upper-case hex, zero-filled to a 16-bit word boundary (TDS 15.1.1)."""
        length = self.length
        length = (length + 15) // 16 * 16 if pad_to_words else (length + 3) // 4 * 4
        return f"{self.value << (length - self.length):0{length // 4}X}"
