"""Mercury codec: golden frames, encoders/decoders, resynchronisation, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.mercury import commands as cmd
from drivers.mercury.codec import HostCodec, Response, StreamStatus, TagRead
from drivers.mercury.crc import mercury_crc, reference_crc
from drivers.mercury.errors import FrameCRCError, FrameLengthError, MercuryError, ParameterError, StatusError
from drivers.mercury.frames import Frame, FrameFault
from drivers.mercury.records import ALL_METADATA, StreamBatch, TagRecord
from tests.support.fuzz import FUZZ_EXAMPLES

GOLDEN = json.loads((Path(__file__).parents[1] / "fixtures" / "serial" / "mercury_golden.json").read_text())
SPARKFUN = GOLDEN["sparkfun_tag_record"]


def test_get_version_frame_and_crc_is_not_ccitt() -> None:
    assert cmd.get_version().encode() == bytes.fromhex(GOLDEN["get_version"])
    ccitt_false = 0x2D6C  # what CRC-16/CCITT-FALSE would give
    assert mercury_crc(b"\x00\x03") == 0x1D0C and ccitt_false != 0x1D0C


def test_sparkfun_record_crc() -> None:
    raw = bytes.fromhex(SPARKFUN["frame"])
    assert mercury_crc(raw[1:-2]) == int(SPARKFUN["frame_crc"], 16) == reference_crc(raw[1:-2])


def test_sparkfun_record_decodes_exactly() -> None:
    raw = bytes.fromhex(SPARKFUN["frame"])
    frame = Frame.parse(raw, response=True)
    assert (frame.opcode, frame.status, len(frame.data)) == (0x22, 0, 0x28)
    batch = StreamBatch.parse(frame.data)
    assert (batch.option, batch.search_flags, batch.metadata, len(batch.records)) == (
        SPARKFUN["option"], SPARKFUN["search_flags"], SPARKFUN["metadata"], SPARKFUN["tag_count"])
    tag = batch.records[0]
    for name in ("read_count", "rssi_dbm", "antenna_byte", "antenna", "frequency_khz", "timestamp_ms", "phase",
                 "protocol", "data_bits", "gpio"):
        assert getattr(tag, name) == SPARKFUN[name], name
    assert tag.pc == int(SPARKFUN["pc"], 16)
    assert tag.epc == bytes.fromhex(SPARKFUN["epc"])
    assert tag.tag_crc == int(SPARKFUN["tag_crc"], 16)
    assert tag.data == b""
    # and it re-encodes byte for byte
    assert Frame(0x22, batch.encode(), status=0).encode() == raw


def test_sparkfun_start_stop_blobs() -> None:
    assert cmd.start_continuous_read().data == bytes.fromhex(GOLDEN["start_reading_blob"])
    assert cmd.stop_continuous_read().data == bytes.fromhex(GOLDEN["stop_reading_blob"])
    parsed = cmd.ContinuousRead.parse(cmd.start_continuous_read(metadata=0x1FFF, on_time_ms=250).data)
    assert (parsed.start, parsed.metadata, parsed.on_time_ms, parsed.search_flags) == (True, 0x1FFF, 250, 0x1B)
    assert cmd.ContinuousRead.parse(cmd.stop_continuous_read().data).start is False


@pytest.mark.parametrize(("command", "wire"), [
    (cmd.set_region(cmd.Region.EU), "ff 01 97 08"),
    (cmd.set_read_power(2500), "ff 02 92 09 c4"),
    (cmd.get_read_power(), "ff 01 62 00"),
    (cmd.set_tag_protocol(), "ff 02 93 00 05"),
    (cmd.set_antenna_ports(1, 1), "ff 02 91 01 01"),
    (cmd.set_antenna_search_list([1, 2]), "ff 05 91 02 01 01 02 02"),
    (cmd.set_reader_config(0x0C, 0), "ff 03 9a 01 0c 00"),
    (cmd.get_region(), "ff 00 67"),
    (cmd.get_tag_protocol(), "ff 00 63"),
])
def test_command_encoders(command: Frame, wire: str) -> None:
    raw = command.encode()
    assert raw[:-2] == bytes.fromhex(wire)
    assert raw[-2:] == reference_crc(raw[1:-2]).to_bytes(2, "big")
    assert Frame.parse(raw, response=False) == command


def test_response_decoders() -> None:
    version = cmd.VersionInfo(b"\x14\x12\x08\x00", b"\x18\x00\x00\x00", b"\x20\x23\x11\x15", b"\x01\x09\x02\x01", 16)
    assert cmd.decode_version(Frame(3, version.encode(), 0)) == version
    assert version.firmware == "01.09.02.01"
    assert cmd.decode_region(Frame(0x67, b"\x08", 0)) == cmd.Region.EU
    assert cmd.decode_read_power(Frame(0x62, b"\x00\x09\xc4", 0)) == 2500
    assert cmd.decode_tag_protocol(Frame(0x63, b"\x00\x05", 0)) == cmd.TagProtocol.GEN2
    assert cmd.decode_antenna_ports(Frame(0x61, b"\x01\x01", 0)) == (1, 1)
    with pytest.raises(StatusError) as err:
        cmd.decode_ack(Frame(0x97, b"", 0x010B), cmd.Opcode.SET_REGION)
    assert err.value.status == 0x010B and "INVALID_REGION" in str(err.value)
    with pytest.raises(StatusError):
        cmd.decode_region(Frame(0x03, b"", 0))  # wrong opcode
    with pytest.raises(FrameLengthError):
        cmd.decode_version(Frame(3, b"\x00" * 5, 0))
    with pytest.raises(ParameterError):
        cmd.set_read_power(-1)


def test_status_frames() -> None:
    host = HostCodec()
    events = host.feed(b"".join(Frame(0x22, b"", s).encode() for s in (0x0400, 0x0504, 0x0505)))
    assert events == [StreamStatus(0x0400, "NO_TAGS_FOUND"), StreamStatus(0x0504, "TEMPERATURE_EXCEED_LIMITS"),
                      StreamStatus(0x0505, "HIGH_RETURN_LOSS")]
    reply = host.feed(Frame(0x97, b"", 0x010B).encode())
    assert reply == [Response(Frame(0x97, b"", 0x010B))]


def test_resync_after_garbage_and_crc_errors() -> None:
    good = bytes.fromhex(SPARKFUN["frame"])
    bad = bytearray(good)
    bad[20] ^= 0x01
    host = HostCodec()
    events = host.feed(b"\x00\x13\xff\xff" + bytes(bad) + b"noise" + good + good[:5])
    events += host.feed(good[5:])
    reads = [e for e in events if isinstance(e, TagRead)]
    assert len(reads) == 2
    assert host.stats.crc_errors >= 1 and host.stats.garbage_bytes > 0
    assert any(isinstance(e, FrameFault) and e.kind == "crc" for e in events)


def test_length_errors_are_counted() -> None:
    host = HostCodec()
    # a valid frame whose tag record claims a 200-bit EPC it does not carry
    data = bytearray(bytes.fromhex(SPARKFUN["frame"])[5:-2])
    data[22:24] = (200).to_bytes(2, "big")
    events = host.feed(Frame(0x22, bytes(data), 0).encode() + bytes.fromhex(SPARKFUN["frame"]))
    assert [type(e).__name__ for e in events] == ["FrameFault", "TagRead"]
    assert host.stats.length_errors == 1
    with pytest.raises(FrameLengthError):
        Frame.parse(b"\xff\x05\x03\x00", response=False)
    with pytest.raises(FrameCRCError):
        Frame.parse(b"\xff\x00\x03\x1d\x0d", response=False)


def test_xpc_words() -> None:
    record = TagRecord(epc=bytes(range(12)), pc=0x3200, xpc=(0x8001, 0x1234), tag_crc=0xBEEF, rssi_dbm=-70)
    again, end = TagRecord.parse_from(record.encode(0x0002), 0, 0x0002)
    assert again == record and end == len(record.encode(0x0002))


# -- properties --------------------------------------------------------------------------------

records = st.builds(
    TagRecord,
    epc=st.binary(min_size=0, max_size=62).filter(lambda b: len(b) % 2 == 0),
    pc=st.integers(0, 0xFFFF).map(lambda p: p & ~0x0200),
    tag_crc=st.integers(0, 0xFFFF),
    read_count=st.integers(0, 255),
    rssi_dbm=st.integers(-128, 127),
    antenna_byte=st.integers(0, 255),
    frequency_khz=st.integers(0, 0xFFFFFF),
    timestamp_ms=st.integers(0, 0xFFFFFFFF),
    phase=st.integers(0, 0xFFFF),
    protocol=st.just(5),
    data=st.binary(max_size=16),
    gpio=st.integers(0, 255),
    gen2_q=st.integers(0, 255),
    gen2_lf=st.integers(0, 255),
    gen2_target=st.integers(0, 255),
    brand_id=st.integers(0, 0xFFFF),
)


def _masked(record: TagRecord, metadata: int) -> TagRecord:
    """What survives a round trip under ``metadata``: absent fields come back as None."""
    names = ["read_count", "rssi_dbm", "antenna_byte", "frequency_khz", "timestamp_ms", "phase", "protocol",
             "data", "gpio", "gen2_q", "gen2_lf", "gen2_target", "brand_id"]
    flags = [1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000]
    values = {n: (getattr(record, n) if metadata & f else None) for n, f in zip(names, flags, strict=True)}
    values["data_bits"] = 8 * len(record.data or b"") if metadata & 0x80 else 0
    return TagRecord(epc=record.epc, pc=record.pc, xpc=record.xpc, tag_crc=record.tag_crc, **values)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.lists(records, min_size=0, max_size=3), st.integers(0, ALL_METADATA))
def test_stream_batch_round_trip_under_any_metadata(tags: list[TagRecord], metadata: int) -> None:
    batch = StreamBatch(tuple(tags), metadata)
    raw = Frame(0x22, batch.encode(), 0).encode() if len(batch.encode()) <= 249 else None
    if raw is None:
        return
    events = HostCodec().feed(raw)
    got = [e.record for e in events if isinstance(e, TagRead)]
    assert got == [_masked(t, metadata) for t in tags]


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fast_crc_equals_reference(data: bytes) -> None:
    assert mercury_crc(data) == reference_crc(data)


@settings(max_examples=200)
@given(st.data())
def test_any_segmentation_gives_the_same_events(data: st.DataObject) -> None:
    stream = b"junk" + bytes.fromhex(SPARKFUN["frame"]) * 3 + Frame(0x22, b"", 0x0400).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    host = HostCodec()
    events = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += host.feed(stream[a:b])
    kinds = [type(e).__name__ for e in events if not isinstance(e, FrameFault)]
    assert kinds == ["TagRead", "TagRead", "TagRead", "StreamStatus"]
    assert host.stats.garbage_bytes == 4 and host.stats.crc_errors == 0


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_fuzz_decoder_never_raises_and_resyncs(garbage: bytes, chunk: int) -> None:
    host = HostCodec()
    for i in range(0, len(garbage), chunk):
        for event in host.feed(garbage[i:i + chunk]):
            assert isinstance(event, Response | TagRead | StreamStatus | FrameFault)
    # A partial false header can hold at most 256 bytes; after that, a real frame is always found.
    events = host.feed(bytes(256) + bytes.fromhex(SPARKFUN["frame"]))
    assert isinstance(events[-1], TagRead)
    assert events[-1].record.epc == bytes.fromhex(SPARKFUN["epc"])


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=260), st.integers(0, 0xFFFF))
def test_fuzz_parsers_raise_only_typed_errors(data: bytes, metadata: int) -> None:
    for parse in (lambda: StreamBatch.parse(data), lambda: TagRecord.parse_from(data, 0, metadata),
                  lambda: Frame.parse(data, response=True), lambda: cmd.ContinuousRead.parse(data),
                  lambda: cmd.VersionInfo.parse(data)):
        try:
            parse()
        except MercuryError:
            pass
