"""Mercury command encoders (host -> reader) and response decoders (reader -> host).

Encoders return :class:`~drivers.mercury.frames.Frame` commands; ``.encode()`` gives the bytes:

>>> get_version().encode().hex(" ")
'ff 00 03 1d 0c'
>>> set_region(Region.EU).encode().hex(" ")
'ff 01 97 08 4b b5'
>>> start_continuous_read().data.hex(" ")
'00 00 01 22 00 00 05 07 22 10 00 1b 03 e8 01 ff'
>>> stop_continuous_read().data.hex(" ")
'00 00 02'

Decoders take the response frame, raise :class:`~drivers.mercury.errors.StatusError` for a
non-zero status and return plain values:

>>> decode_read_power(Frame(0x62, bytes.fromhex("00 09 c4"), status=0))
2500
>>> decode_read_power(Frame(0x62, b"", status=0x0105))
Traceback (most recent call last):
...
drivers.mercury.errors.StatusError: opcode 0x62 failed: status 0x0105 (MSG_INVALID_PARAMETER_VALUE)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from drivers.mercury.errors import FrameLengthError, ParameterError, StatusError
from drivers.mercury.frames import Frame
from drivers.mercury.records import DEFAULT_METADATA, GEN2


class Opcode(IntEnum):
    VERSION = 0x03
    SET_BAUD_RATE = 0x06
    READ_TAG_ID_SINGLE = 0x21
    READ_TAG_ID_MULTIPLE = 0x22
    MULTI_PROTOCOL_TAG_OP = 0x2F
    GET_ANTENNA_PORT = 0x61
    GET_READ_TX_POWER = 0x62
    GET_TAG_PROTOCOL = 0x63
    GET_REGION = 0x67
    SET_ANTENNA_PORT = 0x91
    SET_READ_TX_POWER = 0x92
    SET_TAG_PROTOCOL = 0x93
    SET_REGION = 0x97
    SET_READER_OPTIONAL_PARAMS = 0x9A


class Region(IntEnum):
    NA = 0x01
    IN = 0x04
    JP = 0x05
    PRC = 0x06
    EU = 0x08  # EU3 (ETSI EN 302 208)
    KR2 = 0x09
    AU = 0x0B
    NZ = 0x0C
    NA2 = 0x0D
    NA3 = 0x0E
    OPEN = 0xFF


class TagProtocol(IntEnum):
    NONE = 0x00
    ISO180006B = 0x03
    GEN2 = 0x05
    ISO180006B_UCODE = 0x06
    IPX64 = 0x07
    IPX256 = 0x08
    ATA = 0x1D


STATUS_NAMES = {
    0x0000: "OK",
    0x0100: "MSG_WRONG_NUMBER_OF_DATA",
    0x0101: "INVALID_OPCODE",
    0x0102: "UNIMPLEMENTED_OPCODE",
    0x0103: "MSG_POWER_TOO_HIGH",
    0x0104: "MSG_INVALID_FREQ_RECEIVED",
    0x0105: "MSG_INVALID_PARAMETER_VALUE",
    0x0106: "MSG_POWER_TOO_LOW",
    0x0109: "UNIMPLEMENTED_FEATURE",
    0x010A: "INVALID_BAUD_RATE",
    0x010B: "INVALID_REGION",
    0x0400: "NO_TAGS_FOUND",
    0x0504: "TEMPERATURE_EXCEED_LIMITS",
    0x0505: "HIGH_RETURN_LOSS",
}
STATUS_NO_TAGS = 0x0400
STATUS_TEMPERATURE = 0x0504
STATUS_HIGH_RETURN_LOSS = 0x0505

SEARCH_FLAGS_STREAMING = 0x001B  # CONFIGURED_LIST 3 | TAG_STREAMING 8 | LARGE_TAG_POPULATION 16


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, "UNKNOWN")


def _u16(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ParameterError(f"{what} {value} does not fit in 16 bits")
    return value.to_bytes(2, "big")


# -- command encoders ------------------------------------------------------------------------

def get_version() -> Frame:
    return Frame(Opcode.VERSION)


def set_baud_rate(baud: int) -> Frame:
    if not 0 < baud < 1 << 32:
        raise ParameterError(f"baud rate {baud} out of range")
    return Frame(Opcode.SET_BAUD_RATE, baud.to_bytes(4, "big"))


def set_region(region: int) -> Frame:
    if not 0 <= region <= 0xFF:
        raise ParameterError(f"region code {region} out of range")
    return Frame(Opcode.SET_REGION, bytes((region,)))


def get_region() -> Frame:
    return Frame(Opcode.GET_REGION)


def set_read_power(centi_dbm: int) -> Frame:
    """Read TX power in hundredths of a dBm (2500 = 25.00 dBm)."""
    if not 0 <= centi_dbm <= 0x7FFF:
        raise ParameterError(f"read power {centi_dbm} cdBm out of range")
    return Frame(Opcode.SET_READ_TX_POWER, centi_dbm.to_bytes(2, "big"))


def get_read_power() -> Frame:
    return Frame(Opcode.GET_READ_TX_POWER, b"\x00")


def set_antenna_ports(tx: int, rx: int) -> Frame:
    return Frame(Opcode.SET_ANTENNA_PORT, bytes((tx & 0xFF, rx & 0xFF)))


def set_antenna_search_list(antennas: Sequence[int]) -> Frame:
    """Logical antenna list (option 2): monostatic pairs (n, n) for each antenna."""
    if not antennas or any(not 1 <= a <= 16 for a in antennas):
        raise ParameterError(f"antenna list {list(antennas)} must be 1..16 and non-empty")
    return Frame(Opcode.SET_ANTENNA_PORT, bytes([2] + [p for a in antennas for p in (a, a)]))


def get_antenna_ports() -> Frame:
    return Frame(Opcode.GET_ANTENNA_PORT, b"\x00")


def set_tag_protocol(protocol: int = GEN2) -> Frame:
    return Frame(Opcode.SET_TAG_PROTOCOL, _u16(protocol, "protocol"))


def get_tag_protocol() -> Frame:
    return Frame(Opcode.GET_TAG_PROTOCOL)


def set_reader_config(key: int, value: int) -> Frame:
    """Key-value reader configuration (0x9A option 1), e.g. key 0x0C = unique-by-data read filter."""
    return Frame(Opcode.SET_READER_OPTIONAL_PARAMS, bytes((1, key & 0xFF, value & 0xFF)))


def start_continuous_read(metadata: int = DEFAULT_METADATA, on_time_ms: int = 1000,
                          protocol: int = GEN2, search_flags: int = SEARCH_FLAGS_STREAMING) -> Frame:
    """0x2F option 1 (continuous) wrapping an embedded 0x22 Read Tag ID Multiple that streams."""
    embedded = bytes((0x22, 0x10)) + _u16(search_flags, "search flags") + _u16(on_time_ms, "on-time") \
        + _u16(metadata, "metadata flags")
    head = b"\x00\x00\x01\x22\x00\x00" + bytes((protocol & 0xFF, len(embedded) - 1))
    return Frame(Opcode.MULTI_PROTOCOL_TAG_OP, head + embedded)


def stop_continuous_read() -> Frame:
    return Frame(Opcode.MULTI_PROTOCOL_TAG_OP, b"\x00\x00\x02")


@dataclass(frozen=True, slots=True)
class ContinuousRead:
    """What a 0x2F command asks for (the reader side parses this)."""

    start: bool
    metadata: int = DEFAULT_METADATA
    on_time_ms: int = 1000
    protocol: int = GEN2
    search_flags: int = SEARCH_FLAGS_STREAMING

    @classmethod
    def parse(cls, data: bytes) -> ContinuousRead:
        if len(data) < 3:
            raise FrameLengthError(f"0x2F data of {len(data)} bytes is too short")
        if data[2] == 0x02:
            return cls(start=False)
        if data[2] != 0x01 or len(data) < 8 or data[3] != 0x22:
            raise FrameLengthError(f"0x2F {data.hex(' ')}: not a continuous Read Tag ID Multiple")
        embedded = data[8:]
        if len(embedded) < 6 or embedded[0] != 0x22:
            raise FrameLengthError(f"0x2F embedded command {embedded.hex(' ')} is not 0x22")
        metadata = int.from_bytes(embedded[6:8], "big") if embedded[1] & 0x10 and len(embedded) >= 8 else 0
        return cls(True, metadata, int.from_bytes(embedded[4:6], "big"), data[6],
                   int.from_bytes(embedded[2:4], "big"))


# -- response decoders -----------------------------------------------------------------------

def check(frame: Frame, opcode: int | None = None) -> bytes:
    """The response data, or :class:`StatusError` for a non-zero status."""
    if opcode is not None and frame.opcode != opcode:
        raise StatusError(f"expected a response to 0x{opcode:02X}, got 0x{frame.opcode:02X}",
                          frame.opcode, frame.status or 0)
    if frame.status:
        raise StatusError(f"opcode 0x{frame.opcode:02X} failed: status 0x{frame.status:04X} "
                          f"({status_name(frame.status)})", frame.opcode, frame.status)
    return frame.data


@dataclass(frozen=True, slots=True)
class VersionInfo:
    bootloader: bytes
    hardware: bytes
    firmware_date: bytes
    firmware_version: bytes
    protocols: int  # bit mask of supported protocols (bit n-1 = protocol n)

    @property
    def firmware(self) -> str:
        v = self.firmware_version
        return f"{v[0]:02X}.{v[1]:02X}.{v[2]:02X}.{v[3]:02X}"

    def encode(self) -> bytes:
        return self.bootloader + self.hardware + self.firmware_date + self.firmware_version \
            + self.protocols.to_bytes(4, "big")

    @classmethod
    def parse(cls, data: bytes) -> VersionInfo:
        if len(data) < 20:
            raise FrameLengthError(f"version data of {len(data)} bytes; expected 20")
        return cls(data[0:4], data[4:8], data[8:12], data[12:16], int.from_bytes(data[16:20], "big"))


def decode_version(frame: Frame) -> VersionInfo:
    return VersionInfo.parse(check(frame, Opcode.VERSION))


def decode_region(frame: Frame) -> int:
    data = check(frame, Opcode.GET_REGION)
    if len(data) < 1:
        raise FrameLengthError("region response carries no data")
    return data[0]


def decode_read_power(frame: Frame) -> int:
    """Read power in cdBm (option 0: ``option, power(2)``)."""
    data = check(frame, Opcode.GET_READ_TX_POWER)
    if len(data) < 3:
        raise FrameLengthError(f"read-power data of {len(data)} bytes; expected 3")
    return int.from_bytes(data[1:3], "big")


def decode_tag_protocol(frame: Frame) -> int:
    data = check(frame, Opcode.GET_TAG_PROTOCOL)
    if len(data) < 2:
        raise FrameLengthError(f"tag-protocol data of {len(data)} bytes; expected 2")
    return int.from_bytes(data[0:2], "big")


def decode_antenna_ports(frame: Frame) -> tuple[int, int]:
    """(TX, RX) ports (option 0)."""
    data = check(frame, Opcode.GET_ANTENNA_PORT)
    if len(data) < 2:
        raise FrameLengthError(f"antenna data of {len(data)} bytes; expected 2")
    return data[-2], data[-1]


def decode_ack(frame: Frame, opcode: int) -> None:
    """Set commands answer with an empty (or echoing) OK response."""
    check(frame, opcode)
