"""Streaming tag records (opcode 0x22 data) under any metadata-flag mask.

Layout after the status word: option (1), search flags (2), metadata flags (2, when option
bit 0x10 is set), tag count (1), then per tag the metadata fields *in flag order*, then EPC
length in bits (2, covering PC + EPC + tag CRC), PC (2; + XPC words when XI is set), EPC,
tag CRC (2).  SparkFun's example record (LEN 0x28) decodes as:

>>> data = bytes.fromhex("10001b01ff0101c4110e16400000012700000500000f00803000000000000000000000001545e94a")
>>> batch = StreamBatch.parse(data)
>>> tag = batch.records[0]
>>> tag.rssi_dbm, tag.antenna, tag.frequency_khz, tag.timestamp_ms, f"{tag.pc:04X}", tag.epc.hex()
(-60, 1, 923200, 295, '3000', '000000000000000000001545')
>>> batch.encode() == data
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag

from drivers.mercury.errors import FrameLengthError, MercuryError

GEN2 = 0x05


class Meta(IntFlag):
    """TMR_TRD_METADATA_FLAG_* (field order on the wire is bit order)."""

    READ_COUNT = 0x0001
    RSSI = 0x0002
    ANTENNA = 0x0004
    FREQUENCY = 0x0008
    TIMESTAMP = 0x0010
    PHASE = 0x0020
    PROTOCOL = 0x0040
    DATA = 0x0080
    GPIO = 0x0100
    GEN2_Q = 0x0200
    GEN2_LF = 0x0400
    GEN2_TARGET = 0x0800
    BRAND_ID = 0x1000


ALL_METADATA = 0x1FFF
DEFAULT_METADATA = 0x01FF  # what the SDK and SparkFun ask for: read count .. GPIO
_FIXED_SIZES = ((Meta.READ_COUNT, 1), (Meta.RSSI, 1), (Meta.ANTENNA, 1), (Meta.FREQUENCY, 3),
                (Meta.TIMESTAMP, 4), (Meta.PHASE, 2), (Meta.PROTOCOL, 1))


class RecordError(MercuryError):
    """A tag record uses a metadata flag this codec does not know the size of."""


@dataclass(frozen=True, slots=True)
class TagRecord:
    """One tag observation.  Fields whose metadata flag was not requested are ``None``."""

    epc: bytes
    pc: int | None = 0x3000
    xpc: tuple[int, ...] = ()
    tag_crc: int = 0
    read_count: int | None = None
    rssi_dbm: int | None = None
    antenna_byte: int | None = None  # TX port in the high nibble, RX port in the low one
    frequency_khz: int | None = None
    timestamp_ms: int | None = None  # offset from the reader's base time for this read cycle
    phase: int | None = None
    protocol: int | None = None
    data: bytes | None = None
    data_bits: int = 0
    gpio: int | None = None
    gen2_q: int | None = None
    gen2_lf: int | None = None
    gen2_target: int | None = None
    brand_id: int | None = None

    @property
    def tx_port(self) -> int | None:
        return None if self.antenna_byte is None else ((self.antenna_byte >> 4) or 16)

    @property
    def rx_port(self) -> int | None:
        return None if self.antenna_byte is None else ((self.antenna_byte & 0x0F) or 16)

    @property
    def antenna(self) -> int | None:
        """The logical antenna: the TX port (monostatic ports map 1:1 in the default map)."""
        return self.tx_port

    def encode(self, metadata: int, protocol: int = GEN2) -> bytes:
        """Encode this record's fields for ``metadata`` (absent values encode as zero)."""
        if metadata & ~ALL_METADATA:
            raise RecordError(f"unknown metadata flags 0x{metadata & ~ALL_METADATA:04X}")
        out = bytearray()
        if metadata & Meta.READ_COUNT:
            out.append((self.read_count or 0) & 0xFF)
        if metadata & Meta.RSSI:
            out.append((self.rssi_dbm or 0) & 0xFF)
        if metadata & Meta.ANTENNA:
            out.append(self.antenna_byte or 0)
        if metadata & Meta.FREQUENCY:
            out += (self.frequency_khz or 0).to_bytes(3, "big")
        if metadata & Meta.TIMESTAMP:
            out += ((self.timestamp_ms or 0) & 0xFFFFFFFF).to_bytes(4, "big")
        if metadata & Meta.PHASE:
            out += (self.phase or 0).to_bytes(2, "big")
        if metadata & Meta.PROTOCOL:
            out.append(self.protocol if self.protocol is not None else protocol)
        if metadata & Meta.DATA:
            payload = self.data or b""
            bits = self.data_bits or 8 * len(payload)
            out += bits.to_bytes(2, "big") + payload
        if metadata & Meta.GPIO:
            out.append(self.gpio or 0)
        if metadata & Meta.GEN2_Q:
            out.append(self.gen2_q or 0)
        if metadata & Meta.GEN2_LF:
            out.append(self.gen2_lf or 0)
        if metadata & Meta.GEN2_TARGET:
            out.append(self.gen2_target or 0)
        if metadata & Meta.BRAND_ID:
            out += (self.brand_id or 0).to_bytes(2, "big")
        id_bytes = b""
        is_gen2 = (self.protocol if self.protocol is not None else protocol) == GEN2
        if is_gen2 and self.pc is not None:
            id_bytes = self.pc.to_bytes(2, "big") + b"".join(w.to_bytes(2, "big") for w in self.xpc)
        id_bytes += self.epc + self.tag_crc.to_bytes(2, "big")
        out += (8 * len(id_bytes)).to_bytes(2, "big") + id_bytes
        return bytes(out)

    @classmethod
    def parse_from(cls, data: bytes, i: int, metadata: int, protocol: int = GEN2) -> tuple[TagRecord, int]:
        """Parse one record at ``data[i:]``; return it and the offset after it."""
        if metadata & ~ALL_METADATA:
            raise RecordError(f"unknown metadata flags 0x{metadata & ~ALL_METADATA:04X}")
        n = len(data)
        need = i + _fixed_size(metadata)
        if need > n:
            raise FrameLengthError(f"tag record metadata needs {need - i} bytes, {n - i} present")
        # Plain ints and locals on purpose: this runs once per tag read (IntFlag ops are slow).
        read_count = rssi = antenna = frequency = timestamp = phase = proto = None
        gpio = q = lf = target = brand = None
        payload: bytes | None = None
        bits = 0
        if metadata & 0x0001:
            read_count = data[i]
            i += 1
        if metadata & 0x0002:
            rssi = data[i] - 256 if data[i] > 127 else data[i]
            i += 1
        if metadata & 0x0004:
            antenna = data[i]
            i += 1
        if metadata & 0x0008:
            frequency = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
            i += 3
        if metadata & 0x0010:
            timestamp = int.from_bytes(data[i:i + 4], "big")
            i += 4
        if metadata & 0x0020:
            phase = (data[i] << 8) | data[i + 1]
            i += 2
        if metadata & 0x0040:
            proto = protocol = data[i]
            i += 1
        if metadata & 0x0080:
            if i + 2 > n:
                raise FrameLengthError("embedded-data length missing")
            bits = (data[i] << 8) | data[i + 1]
            size = (bits + 7) // 8
            if i + 2 + size > n:
                raise FrameLengthError(f"embedded data of {bits} bits overruns the record")
            payload = bytes(data[i + 2:i + 2 + size])
            i += 2 + size
        if metadata & 0x1F00:
            if i + _tail_size(metadata) > n:
                raise FrameLengthError("GPIO / Gen2 fields overrun the tag record")
            if metadata & 0x0100:
                gpio = data[i]
                i += 1
            if metadata & 0x0200:
                q = data[i]
                i += 1
            if metadata & 0x0400:
                lf = data[i]
                i += 1
            if metadata & 0x0800:
                target = data[i]
                i += 1
            if metadata & 0x1000:
                brand = (data[i] << 8) | data[i + 1]
                i += 2
        if i + 2 > n:
            raise FrameLengthError("EPC length missing from the tag record")
        id_len = (((data[i] << 8) | data[i + 1]) + 7) // 8
        i += 2
        end = i + id_len
        if end > n:
            raise FrameLengthError(f"EPC length {id_len} bytes overruns the record ({n - i} present)")
        pc: int | None = None
        xpc: tuple[int, ...] = ()
        head = i
        if protocol == GEN2:
            if id_len < 4:
                raise FrameLengthError(f"Gen2 tag ID of {id_len} bytes cannot hold PC and CRC")
            pc = (data[i] << 8) | data[i + 1]
            head += 2
            if pc & 0x0200 and head + 2 <= end - 2:  # XI: XPC_W1 follows, and XPC_W2 when its XEB bit is set
                w1 = (data[head] << 8) | data[head + 1]
                head += 2
                xpc = (w1,)
                if w1 & 0x8000 and head + 2 <= end - 2:
                    xpc = (w1, (data[head] << 8) | data[head + 1])
                    head += 2
        elif id_len < 2:
            raise FrameLengthError(f"tag ID of {id_len} bytes cannot hold the CRC")
        record = cls(bytes(data[head:end - 2]), pc, xpc, (data[end - 2] << 8) | data[end - 1], read_count, rssi,
                     antenna, frequency, timestamp, phase, proto, payload, bits, gpio, q, lf, target, brand)
        return record, end


def _fixed_size(metadata: int, _cache: dict[int, int] = {}) -> int:  # noqa: B006 - deliberate memo
    size = _cache.get(metadata)
    if size is None:
        size = _cache[metadata] = sum(n for flag, n in _FIXED_SIZES if metadata & flag)
    return size


def _tail_size(metadata: int) -> int:
    return sum(n for flag, n in ((0x0100, 1), (0x0200, 1), (0x0400, 1), (0x0800, 1), (0x1000, 2)) if metadata & flag)


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """The data of one 0x22 streaming response: header fields and its tag records."""

    records: tuple[TagRecord, ...]
    metadata: int = DEFAULT_METADATA
    option: int = 0x10
    search_flags: int = 0x001B
    extra: bytes = field(default=b"", compare=False)

    def encode(self, protocol: int = GEN2) -> bytes:
        out = bytearray((self.option,)) + self.search_flags.to_bytes(2, "big")
        if self.option & 0x10:
            out += self.metadata.to_bytes(2, "big")
        out.append(len(self.records))
        metadata = self.metadata if self.option & 0x10 else 0
        for record in self.records:
            out += record.encode(metadata, protocol)
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes, protocol: int = GEN2) -> StreamBatch:
        """Parse 0x22 response data.  ``protocol`` applies when the records carry no protocol field."""
        if len(data) < 4:
            raise FrameLengthError(f"tag read data of {len(data)} bytes is too short")
        option = data[0]
        search_flags = (data[1] << 8) | data[2]
        i = 3
        metadata = 0
        if option & 0x10:
            if len(data) < 6:
                raise FrameLengthError("metadata flags missing")
            metadata = (data[3] << 8) | data[4]
            i = 5
        count = data[i]
        i += 1
        records = []
        for _ in range(count):
            record, i = TagRecord.parse_from(data, i, metadata, protocol)
            records.append(record)
        if i != len(data):
            raise FrameLengthError(f"{len(data) - i} byte(s) after {count} tag record(s)")
        return cls(tuple(records), metadata, option, search_flags)
