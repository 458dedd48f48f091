"""Malformed, truncated and random LLRP input only ever raises the typed LLRPError; round trips hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.llrp import LLRPError, LLRPFramer, Message, decode_body, decode_message
from drivers.llrp.constants import MessageType
from drivers.llrp.errors import BadLengthError, FramingError, TruncatedError, UnknownTVError
from drivers.llrp.reports import TagReport, tag_reports
from tests.support.fuzz import FUZZ_EXAMPLES

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llrp"
BODIES = [(p.stem, p.read_bytes()) for p in sorted(FIXTURES.glob("*.bytes"))]
TYPES = [int(t) for t in MessageType] + [999]
FAST = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.fuzz
@FAST
@given(st.sampled_from(TYPES), st.binary(max_size=300))
def test_random_bodies_raise_only_llrp_errors(msg_type: int, body: bytes) -> None:
    try:
        msg = decode_body(msg_type, body)
    except LLRPError:
        return
    assert msg.body() == body or msg.raw is None  # whatever decodes, encodes


@pytest.mark.fuzz
@FAST
@given(st.sampled_from(BODIES), st.data())
def test_mutated_captures_raise_only_llrp_errors(capture: tuple[str, bytes], data: st.DataObject) -> None:
    _, body = capture
    buf = bytearray(body)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(("flip", "cut", "insert")))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del buf[pos:]
        else:
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    for t in (MessageType.RO_ACCESS_REPORT, MessageType.GET_READER_CAPABILITIES_RESPONSE):
        try:
            decode_body(t, bytes(buf))
        except LLRPError:
            pass


@pytest.mark.fuzz
@FAST
@given(st.binary(max_size=400), st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_framer_on_garbage_raises_only_llrp_errors(data: bytes, cuts: list[int]) -> None:
    framer = LLRPFramer(max_size=4096)
    pos = 0
    try:
        for step in cuts * 10:
            if pos >= len(data):  # everything fed: further empty feeds would only cost time
                break
            for m in framer.feed(data[pos:pos + step]):
                assert isinstance(m, Message)
            pos += step
    except LLRPError:
        pass


# (attribute, byte width, signed): values are cut from one drawn byte string, presence from one mask,
# so a report costs hypothesis four draws instead of twenty.
_REPORT_FIELDS = (
    ("antenna", 2, False), ("peak_rssi", 1, True), ("channel_index", 2, False), ("first_seen_utc", 8, False),
    ("first_seen_uptime", 8, False), ("last_seen_utc", 8, False), ("last_seen_uptime", 8, False),
    ("seen_count", 2, False), ("pc", 2, False), ("xpc_w1", 2, False), ("xpc_w2", 2, False), ("crc", 2, False),
    ("rospec_id", 4, False), ("spec_index", 2, False), ("inventory_parameter_spec_id", 2, False),
    ("access_spec_id", 4, False),
)
_VALUE_BYTES = sum(w for _, w, _ in _REPORT_FIELDS)


@st.composite
def tag_report_strategy(draw: st.DrawFn) -> TagReport:
    epc_bits = draw(st.sampled_from((96, 128, 198, 64, 16, 0)))
    epc = bytearray(draw(st.binary(min_size=(epc_bits + 7) // 8, max_size=(epc_bits + 7) // 8)))
    if epc_bits % 8:
        epc[-1] &= (0xFF << (8 - epc_bits % 8)) & 0xFF
    mask = draw(st.integers(0, 2 ** len(_REPORT_FIELDS) - 1))
    raw = draw(st.binary(min_size=_VALUE_BYTES, max_size=_VALUE_BYTES))
    kw: dict[str, int] = {}
    pos = 0
    for i, (name, width, signed) in enumerate(_REPORT_FIELDS):
        if mask >> i & 1:
            kw[name] = int.from_bytes(raw[pos:pos + width], "big", signed=signed)
        pos += width
    return TagReport(epc=bytes(epc), epc_bits=epc_bits, **kw)  # type: ignore[arg-type]


@pytest.mark.fuzz
@FAST
@given(st.lists(tag_report_strategy(), max_size=3), st.integers(0, 2**32 - 1), st.sampled_from((1, 2)))
def test_report_round_trip(reports: list[TagReport], msg_id: int, version: int) -> None:
    msg = Message(int(MessageType.RO_ACCESS_REPORT), msg_id, {}, tuple(r.to_param() for r in reports), version)
    wire = msg.encode()
    back = decode_message(wire)
    assert (back.id, back.version) == (msg_id, version)
    got = tag_reports(back)
    assert [(g.epc, g.epc_bits if g.epc_bits != 96 else len(g.epc) * 8) for g in got] == [
        (r.epc, r.epc_bits if r.epc_bits else 96 * (len(r.epc) == 12)) for r in reports]
    assert [g.antenna for g in got] == [r.antenna for r in reports]
    assert [(g.first_seen_utc, g.last_seen_utc, g.seen_count, g.pc, g.crc) for g in got] == [
        (r.first_seen_utc, r.last_seen_utc, r.seen_count, r.pc, r.crc) for r in reports]
    assert back.encode() == wire


# -- hand-written malformed inputs: each names its typed error ---------------------------------


def test_typed_errors() -> None:
    with pytest.raises(TruncatedError):
        decode_message(b"\x04\x3d\x00")
    with pytest.raises(BadLengthError):  # length below the header size
        decode_message(bytes.fromhex("043d00000005" "00000001"))
    with pytest.raises(TruncatedError):  # TLV longer than its container
        decode_body(61, bytes.fromhex("00f00040" "8d00"))
    with pytest.raises(BadLengthError):  # TLV length below its own header
        decode_body(61, bytes.fromhex("00f00002"))
    with pytest.raises(UnknownTVError):  # TV type 99 is not defined: its size is unknown
        decode_body(61, bytes.fromhex("00f00006" "e3ff"))
    with pytest.raises(FramingError):
        LLRPFramer().feed(bytes.fromhex("043d00000003" "00000001"))


def test_unknown_and_custom_tlvs_are_skipped_by_length() -> None:
    custom = bytes.fromhex("03ff000f" "0000651a" "00000003" "abcdef")  # Impinj custom, subtype 3
    unknown = bytes.fromhex("02bc0006" "1234")  # TLV type 700: not in LLRP 1.1
    epc = bytes.fromhex("8d" "300000000000000000000001") + bytes.fromhex("810002")
    body = (len(epc) + len(custom) + len(unknown) + 4).to_bytes(4, "big")
    body = bytes.fromhex("00f0") + body[2:] + epc + custom + unknown
    msg = decode_body(61, body)
    [r] = tag_reports(msg)
    assert r.antenna == 2 and r.epc_hex.endswith("01")
    assert [p.name for p in r.extra] == ["Custom", "Unknown700"]
    assert r.extra[0].fields["VendorID"] == 25882 and r.extra[0].fields["Data"] == b"\xab\xcd\xef"
    assert msg.body() == body


def test_empty_report_and_custom_message() -> None:
    assert tag_reports(decode_message(Message.make("RO_ACCESS_REPORT", 3).encode())) == []
    cm = Message.make("CUSTOM_MESSAGE", 4, VendorID=25882, Subtype=21, Data=b"\x00\x00\x00\x00")
    back = decode_message(cm.encode())
    assert back.fields == {"VendorID": 25882, "Subtype": 21, "Data": b"\x00\x00\x00\x00"}


def test_malformed_body_in_stream_keeps_sync() -> None:
    bad = bytes.fromhex("043d00000010" "00000007" "00f00040" "8d00")  # inner length lies
    good = Message.make("KEEPALIVE", 8).encode()
    out = LLRPFramer().feed(bad + good)
    assert [(m.name, m.id, m.error is not None) for m in out] == [("RO_ACCESS_REPORT", 7, True),
                                                                  ("KEEPALIVE", 8, False)]


@pytest.mark.fuzz
@FAST
@given(st.lists(tag_report_strategy(), max_size=3), st.binary(max_size=40), st.integers(0, 200))
def test_fast_report_decoder_agrees_with_the_generic_one(reports: list[TagReport], junk: bytes, cut: int) -> None:
    from drivers.llrp.reports import decode_tag_reports

    body = b"".join(r.to_param().encode() for r in reports)
    assert decode_tag_reports(body) == tag_reports(decode_body(61, body))
    # on damaged input both raise the typed error (or both decode)
    damaged = body[:cut] + junk
    try:
        generic = tag_reports(decode_body(61, damaged))
    except LLRPError:
        generic = None
    try:
        fast = decode_tag_reports(damaged)
    except LLRPError:
        fast = None
    if generic is not None and fast is not None:
        assert fast == generic


@pytest.mark.fuzz
@FAST
@given(tag_report_strategy())
def test_fast_report_encoder_matches_the_generic_one(report: TagReport) -> None:
    from drivers.llrp.reports import encode_tag_report

    assert encode_tag_report(report) == report.to_param().encode()
