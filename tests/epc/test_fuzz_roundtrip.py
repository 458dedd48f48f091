"""Hypothesis: encode -> decode -> encode round trips per scheme, and decode fuzzing (only EPCError)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.gs1.epc import CapacityError, EPCError, decode, encode
from gateway.gs1.epc.charsets import CSET6, CSET82, uri_escape, uri_escape_6bit
from gateway.gs1.epc.classic import GCP, PARTITIONS
from tests.support.fuzz import FUZZ_EXAMPLES

ROUND_TRIP = 300
digits = st.text("0123456789", min_size=1, max_size=1)
cset82 = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)
cset6 = st.text(alphabet=sorted(CSET6), min_size=1, max_size=18)


@st.composite
def classic_tag_uris(draw: st.DrawFn) -> str:
    p = draw(st.integers(0, 6))
    gd = GCP[p][0]
    gcp = draw(st.text("0123456789", min_size=gd, max_size=gd))
    filt = draw(st.integers(0, 7))

    def num(n: int) -> str:
        return draw(st.text("0123456789", min_size=n, max_size=n)) if n else ""

    def integer(bits: int) -> str:
        return str(draw(st.integers(0, (1 << bits) - 1)))

    scheme = draw(st.sampled_from([
        "sgtin-96", "sgtin-198", "sscc-96", "sgln-96", "sgln-195", "grai-96", "grai-170", "giai-96", "giai-202",
        "gsrn-96", "gsrnp-96", "gdti-96", "gdti-113", "gdti-174", "cpi-96", "cpi-var", "sgcn-96", "itip-110",
        "itip-212",
    ]))
    s7 = uri_escape(draw(cset82))
    body = {
        "sgtin-96": lambda: f"{gcp}.{num(PARTITIONS['sgtin'][p][0])}.{integer(38)}",
        "sgtin-198": lambda: f"{gcp}.{num(PARTITIONS['sgtin'][p][0])}.{s7}",
        "sscc-96": lambda: f"{gcp}.{num(PARTITIONS['sscc'][p][0])}",
        "sgln-96": lambda: f"{gcp}.{num(PARTITIONS['sgln'][p][0])}.{integer(41)}",
        "sgln-195": lambda: f"{gcp}.{num(PARTITIONS['sgln'][p][0])}.{s7}",
        "grai-96": lambda: f"{gcp}.{num(PARTITIONS['grai'][p][0])}.{integer(38)}",
        "grai-170": lambda: f"{gcp}.{num(PARTITIONS['grai'][p][0])}.{uri_escape(draw(cset82)[:16])}",
        "giai-96": lambda: f"{gcp}.{integer(PARTITIONS['giai96'][p][1])}",
        "giai-202": lambda: f"{gcp}.{uri_escape(draw(cset82)[:18])}",
        "gsrn-96": lambda: f"{gcp}.{num(PARTITIONS['sscc'][p][0])}",
        "gsrnp-96": lambda: f"{gcp}.{num(PARTITIONS['sscc'][p][0])}",
        "gdti-96": lambda: f"{gcp}.{num(PARTITIONS['sgln'][p][0])}.{integer(41)}",
        "gdti-113": lambda: f"{gcp}.{num(PARTITIONS['sgln'][p][0])}.{num(draw(st.integers(1, 17)))}",
        "gdti-174": lambda: f"{gcp}.{num(PARTITIONS['sgln'][p][0])}.{uri_escape(draw(cset82)[:17])}",
        "cpi-96": lambda: f"{gcp}.{draw(st.integers(0, 10 ** PARTITIONS['cpi96'][p][0] - 1))!s}.{integer(31)}",
        "cpi-var": lambda: f"{gcp}.{uri_escape_6bit(draw(cset6))}.{draw(st.integers(0, 10**12 - 1))}",
        "sgcn-96": lambda: f"{gcp}.{num(PARTITIONS['sgln'][p][0])}.{num(draw(st.integers(1, 12)))}",
        "itip-110": lambda: f"{gcp}.{num(PARTITIONS['sgtin'][p][0])}.{num(2)}.{num(2)}.{integer(38)}",
        "itip-212": lambda: f"{gcp}.{num(PARTITIONS['sgtin'][p][0])}.{num(2)}.{num(2)}.{s7}",
    }[scheme]()
    return f"urn:epc:tag:{scheme}:{filt}.{body}"


@settings(max_examples=ROUND_TRIP, deadline=None)
@given(classic_tag_uris())
def test_classic_round_trip(uri: str) -> None:
    first = encode(uri)
    assert first.tag_uri == uri
    again = decode(first.hex)
    assert again.tag_uri == uri
    assert encode(again.tag_uri or "").hex == first.hex
    if again.elements:
        # element string -> binary -> same bits (given the GCP length)
        out = encode(again.elements, scheme=again.scheme, filter=again.filter,
                     company_prefix_length=len(again.fields[0]))
        assert out.hex == first.hex


@settings(max_examples=ROUND_TRIP, deadline=None)
@given(st.integers(0, 7), st.text("0123456789", min_size=13, max_size=13), cset82,
       st.sampled_from(["sgtin+", "sgtin++", "itip+", "dsgtin+"]), st.booleans())
def test_plus_round_trip(filt: int, body: str, serial: str, scheme: str, aidc: bool) -> None:
    from gateway.gs1.check_digit import check_digit

    gtin = body + check_digit(body)
    key = ("8006", gtin + "0102") if scheme.startswith("itip") else ("01", gtin)
    elements = [key, ("21", serial)]
    if scheme.startswith("dsgtin"):
        elements.append(("17", "240229"))
    if aidc:
        elements += [("10", serial[:20]), ("3103", "001250"), ("4330", "012345-")]
    host = "id.example.com" if scheme.endswith("++") else None
    try:
        first = encode(elements, scheme=scheme, filter=filt, hostname=host)
    except CapacityError:  # more than 496 bits: correctly refused
        assume(False)
        raise
    again = decode(first.hex)
    assert again.elements == tuple(elements)
    assert again.hostname == host and again.aidc_toggle is aidc
    assert encode(again.elements, scheme=scheme, filter=filt, hostname=host).hex == first.hex


@st.composite
def other_uris(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["gid", "usdod", "adi"]))
    if kind == "gid":
        return (f"urn:epc:tag:gid-96:{draw(st.integers(0, 2**28 - 1))}.{draw(st.integers(0, 2**24 - 1))}."
                f"{draw(st.integers(0, 2**36 - 1))}")
    cage = draw(st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=5, max_size=6))
    if kind == "usdod":
        return f"urn:epc:tag:usdod-96:{draw(st.integers(0, 15))}.{cage}.{draw(st.integers(0, 2**36 - 1))}"
    part = uri_escape_6bit(draw(st.text(alphabet=sorted(CSET6), max_size=32)))
    serial = uri_escape_6bit(draw(st.text(alphabet=sorted(CSET6), min_size=1, max_size=30)))
    return f"urn:epc:tag:adi-var:{draw(st.integers(0, 63))}.{cage}.{part}.{serial}"


@settings(max_examples=ROUND_TRIP, deadline=None)
@given(other_uris())
def test_gid_usdod_adi_round_trip(uri: str) -> None:
    first = encode(uri)
    assert first.tag_uri == uri and decode(first.hex).tag_uri == uri
    assert first.to_identifier().key_type in ("gid", "usdod", "adi")


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(min_size=0, max_size=66), st.sampled_from(["epc", "pc-epc", "epc-bank"]))
def test_fuzz_decode_arbitrary_bytes(data: bytes, form: str) -> None:
    try:
        epc = decode(data, form)
    except EPCError:
        return
    # whatever decodes must render every output form without error
    epc.pure_uri, epc.tag_uri, epc.raw_uri, epc.element_string, epc.digital_link  # noqa: B018
    epc.to_json()


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.sampled_from([0x30, 0x36, 0x31, 0x32, 0x39, 0x33, 0x37, 0x34, 0x38, 0x2D, 0x2E, 0x2C, 0x3A, 0x3E,
                        0x3C, 0x3D, 0x3F, 0x40, 0x41, 0x35, 0x2F, 0x3B, 0xF7, 0xFB, 0xF9, 0xF2, 0xF1, 0xFA,
                        0xF4, 0xF5, 0xF6, 0xF0, 0xF8, 0xF3, 0xFD, 0xFC, 0xEF, 0xE9, 0xEB, 0xEE, 0xE7, 0xE8,
                        0xEA, 0xE6, 0xEC, 0xED]),
       st.binary(min_size=0, max_size=62))
def test_fuzz_decode_known_headers(header: int, rest: bytes) -> None:
    try:
        epc = decode(bytes([header]) + rest)
    except EPCError:
        return
    epc.pure_uri, epc.tag_uri, epc.element_string, epc.digital_link  # noqa: B018
    if epc.tag_uri is not None:  # a valid classic decode re-encodes to the same bits
        assert encode(epc.tag_uri).hex.rstrip("0") == epc.hex.rstrip("0")
