"""The ThingMagic Mercury frame CRC.

Polynomial 0x1021 with the register preset to 0xFFFF, but the message is shifted into the
*low* end of the register with no zero augmentation ("ThingMagic-mutated CRC ... notably,
not a CCITT CRC-16" in the vendor SDK).  It covers LEN, OPCODE, [STATUS,] DATA:

>>> f"{mercury_crc(bytes([0x00, 0x03])):04X}"   # Get Version: FF 00 03 1D 0C
'1D0C'
>>> f"{reference_crc(bytes([0x00, 0x03])):04X}"
'1D0C'

:func:`mercury_crc` is the fast path: the non-augmented register after a message equals the
catalogue (augmented) CRC-16/XMODEM of all but its last two bytes, started from 0x1D0F (the
preset run through two zero bytes), XORed with those last two bytes.  ``binascii.crc_hqx``
computes that in C.  :func:`reference_crc` is the SDK's nibble-table loop, kept as the oracle.
"""

from __future__ import annotations

import binascii

_NIBBLE_TABLE = (
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
)


def reference_crc(data: bytes | bytearray | memoryview) -> int:
    """The vendor SDK's algorithm, nibble by nibble (slow; the test oracle)."""
    crc = 0xFFFF
    for byte in bytes(data):
        crc = (((crc << 4) | (byte >> 4)) ^ _NIBBLE_TABLE[crc >> 12]) & 0xFFFF
        crc = (((crc << 4) | (byte & 0x0F)) ^ _NIBBLE_TABLE[crc >> 12]) & 0xFFFF
    return crc


def mercury_crc(data: bytes | bytearray | memoryview) -> int:
    """The Mercury CRC of ``data`` (LEN through DATA)."""
    n = len(data)
    if n < 2:
        return reference_crc(data)
    return binascii.crc_hqx(data[: n - 2], 0x1D0F) ^ ((data[n - 2] << 8) | data[n - 1])
