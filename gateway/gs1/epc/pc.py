"""Gen2 Protocol Control word, XPC words and the EPC-bank CRC-16 (TDS 2.3 section 9, 15.2).

PC word, MSB first: ``L4..L0`` EPC length in 16-bit words, UMI/RUM, XI (XPC_W1 present),
T (numbering-system toggle), then 8 attribute bits (T = 0) or the ISO/IEC 15961 AFI (T = 1).

>>> pc = PCWord.parse(0x3000)
>>> pc.length_words, pc.epc_bits, pc.umi, pc.xi, pc.toggle, pc.attributes
(6, 96, False, False, False, 0)
>>> PCWord.parse(0x31C1).afi
193
>>> f"{crc16_genibus(b'123456789'):04X}"
'D64E'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_XPC_W1_FLAGS = (  # bit 15 (MSB, 210h) first, per TDS Table 9-4 / Gen2v3
    "xeb", "rfu1", "rfu2", "rfu3", "sa", "ss", "fs", "sn", "b", "c", "sli", "tn", "u", "k", "nr", "h",
)


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_genibus(data: bytes) -> int:
    """CRC-16/GENIBUS (poly 0x1021, init 0xFFFF, xorout 0xFFFF): the Gen2 StoredCRC/PacketCRC."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc ^ 0xFFFF


@dataclass(frozen=True, slots=True)
class PCWord:
    """A parsed PC word, with the XPC words when the input carried them."""

    word: int
    length_words: int
    umi: bool
    xi: bool
    toggle: bool
    attributes: int | None  # T = 0: attribute bits (Gen2 v1.x) / RFU
    afi: int | None  # T = 1: ISO/IEC 15961 application family identifier
    xpc_w1: int | None = None
    xpc_w2: int | None = None

    @classmethod
    def parse(cls, word: int, xpc_w1: int | None = None, xpc_w2: int | None = None) -> PCWord:
        toggle = bool(word & 0x0100)
        low = word & 0xFF
        return cls(word, word >> 11, bool(word & 0x0400), bool(word & 0x0200), toggle,
                   None if toggle else low, low if toggle else None, xpc_w1, xpc_w2)

    @property
    def epc_bits(self) -> int:
        return self.length_words * 16

    @property
    def xpc_flags(self) -> tuple[str, ...]:
        """Names of the XPC_W1 bits that are set (XEB, SA, SS, FS, SN, B, C, SLI, TN, U, K, NR, H)."""
        if not self.xpc_w1:
            return ()
        return tuple(name for i, name in enumerate(_XPC_W1_FLAGS)
                     if self.xpc_w1 & (0x8000 >> i) and not name.startswith("rfu"))

    def control_fields(self) -> str:
        """TDS 15.2.4 control-field prefix for tag/raw URIs, e.g. ``[att=x01][umi=1]:`` or ``''``."""
        out = ""
        if not self.toggle and self.attributes:
            out += f"[att=x{self.attributes:02X}]"
        if self.umi:
            out += "[umi=1]"
        if self.xi and self.xpc_w1:  # step 3: only a non-zero XPC_W1
            if self.xpc_w1 & 0x8000 and self.xpc_w2 is not None:
                out += f"[xpc=x{self.xpc_w1:04X}{self.xpc_w2:04X}]"
            else:
                out += f"[xpc-w1=x{self.xpc_w1:04X}]"
        return out + ":" if out else ""

    def describe(self) -> str:
        """One line naming every field, e.g. ``3401 L=6 (96 bits) UMI=1 XI=0 T=0 attributes=x01``.

        >>> PCWord.parse(0x31C1).describe()
        '31C1 L=6 (96 bits) UMI=0 XI=0 T=1 AFI=xC1'
        >>> PCWord.parse(0x3200, 0x8001, 0x1234).describe()
        '3200 L=6 (96 bits) UMI=0 XI=1 T=0 attributes=x00 XPC_W1=x8001 (xeb h) XPC_W2=x1234'
        """
        out = f"{self.word:04X} L={self.length_words} ({self.epc_bits} bits) UMI={self.umi:d} XI={self.xi:d} " \
              f"T={self.toggle:d} " + (f"AFI=x{self.afi:02X}" if self.toggle else f"attributes=x{self.attributes:02X}")
        if self.xpc_w1 is not None:
            out += f" XPC_W1=x{self.xpc_w1:04X}" + (f" ({' '.join(self.xpc_flags)})" if self.xpc_flags else "")
        if self.xpc_w2 is not None:
            out += f" XPC_W2=x{self.xpc_w2:04X}"
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "word": f"{self.word:04X}",
            "length_words": self.length_words,
            "epc_bits": self.epc_bits,
            "umi": self.umi,
            "xi": self.xi,
            "toggle": self.toggle,
            "attributes": self.attributes,
            "afi": self.afi,
            "xpc_w1": None if self.xpc_w1 is None else f"{self.xpc_w1:04X}",
            "xpc_w2": None if self.xpc_w2 is None else f"{self.xpc_w2:04X}",
            "xpc_flags": list(self.xpc_flags),
        }


def raw_uri(value: int, nbits: int, pc: PCWord | None = None) -> str:
    """EPC raw URI (TDS 15.2.1): ``urn:epc:raw:[ctrl:]N.[xAFI.]xHEX``."""
    ctrl = pc.control_fields() if pc is not None else ""
    afi = f"x{pc.afi:02X}." if pc is not None and pc.afi is not None else ""
    if nbits % 4:
        return f"urn:epc:raw:{ctrl}{nbits}.{afi}{value}"
    return f"urn:epc:raw:{ctrl}{nbits}.{afi}x{value:0{nbits // 4}X}" if nbits else f"urn:epc:raw:{ctrl}0.{afi}x"
