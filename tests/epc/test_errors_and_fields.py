"""Typed errors, every partition value, min/max field values and every escaped character."""

from __future__ import annotations

import pytest

from gateway.gs1.epc import (
    CompanyPrefixTable,
    CompanyPrefixUnknownError,
    EPCError,
    FieldOverflowError,
    InvalidCharacterError,
    InvalidNumericStringError,
    InvalidPartitionError,
    InvalidStringError,
    NotHexError,
    SerialLeadingZeroError,
    TIDInEPCBankError,
    TrailingDataError,
    TruncatedError,
    UnknownHeaderError,
    UnprogrammedError,
    decode,
    encode,
)
from gateway.gs1.epc.bits import BitWriter
from gateway.gs1.epc.classic import GCP, PARTITIONS

SGTIN = "3074257BF7194E4000001A85"


@pytest.mark.parametrize(("data", "error"), [
    ("000000000000000000000000", UnprogrammedError),
    ("E2801160200074CF085A0000", TIDInEPCBankError),
    ("44" + "00" * 11, UnknownHeaderError),  # epc-tds #5
    ("C3" + "00" * 11, UnknownHeaderError),  # pyepc #10
    ("FF" + "00" * 11, UnknownHeaderError),
    ("3074257BF7194E4000001A", TruncatedError),  # 88 bits of a 96-bit scheme
    ("3", TruncatedError),
    ("3666C4409047E159B2C2BF10", TruncatedError),  # SGTIN-198 header, 96 bits
    ("3074257BF7194E4000001AG5", NotHexError),
    ("", NotHexError),
    ("3074257BF7194E4000001A85FF", TrailingDataError),
    ("307C257BF7194E4000001A85", InvalidPartitionError),  # partition 7
])
def test_decode_errors(data: str, error: type[EPCError]) -> None:
    with pytest.raises(error) as info:
        decode(data)
    assert isinstance(info.value, EPCError) and info.value.code
    if error not in (NotHexError,):
        assert info.value.raw_uri is None or info.value.raw_uri.startswith("urn:epc:raw:")


def test_trailing_zero_fill_accepted_and_kept() -> None:
    epc = decode(SGTIN + "0000")
    assert epc.pure_uri == "urn:epc:id:sgtin:0614141.812345.6789" and epc.bits == 112


def test_bytes_input() -> None:
    assert decode(bytes.fromhex(SGTIN)).hex == SGTIN
    with pytest.raises(NotHexError):
        decode(12345)  # type: ignore[arg-type]


def _sgtin96(p: int, c: int, d: int, serial: int = 1, filt: int = 3) -> str:
    _digits, mbits = GCP[p]
    _k, nb = PARTITIONS["sgtin"][p]
    w = BitWriter()
    for value, n in ((0x30, 8), (filt, 3), (p, 3), (c, mbits), (d, nb), (serial, 38)):
        w.write(value, n)
    return w.hex()


@pytest.mark.parametrize("p", range(7))
def test_every_sgtin_partition_min_and_max(p: int) -> None:
    digits, _ = GCP[p]
    k, _ = PARTITIONS["sgtin"][p]
    lo = decode(_sgtin96(p, 0, 0, 0))
    assert lo.fields == ("0" * digits, "0" * k, "0")
    hi = decode(_sgtin96(p, 10**digits - 1, 10**k - 1, (1 << 38) - 1))
    assert hi.fields == ("9" * digits, "9" * k, str((1 << 38) - 1))
    assert encode(hi.tag_uri or "").hex == hi.hex
    with pytest.raises(FieldOverflowError):
        decode(_sgtin96(p, 10**digits, 0))  # C >= 10^L
    with pytest.raises(FieldOverflowError):
        decode(_sgtin96(p, 0, 10**k))  # D >= 10^K


@pytest.mark.parametrize("family,scheme,tail", [
    ("sscc", "sscc-96", ""), ("sgln", "sgln-96", ".1"), ("grai", "grai-96", ".1"), ("sgln", "gdti-96", ".1"),
    ("sscc", "gsrn-96", ""), ("sscc", "gsrnp-96", ""), ("sgln", "sgcn-96", ".01"),
    ("sgtin", "itip-110", ".01.02.1"),
])
@pytest.mark.parametrize("p", range(7))
def test_every_partition_round_trips(family: str, scheme: str, tail: str, p: int) -> None:
    digits, _ = GCP[p]
    k, _ = PARTITIONS[family][p]
    uri = f"urn:epc:tag:{scheme}:1.{'9' * digits}.{'9' * k}{tail}"
    epc = encode(uri)
    assert epc.tag_uri == uri
    assert decode(epc.hex).tag_uri == uri


@pytest.mark.parametrize("p", range(7))
def test_giai_cpi_partitions(p: int) -> None:
    digits, _ = GCP[p]
    k, nb = PARTITIONS["giai96"][p]
    uri = f"urn:epc:tag:giai-96:0.{'1' * digits}.{(1 << nb) - 1}"
    assert decode(encode(uri).hex).tag_uri == uri
    chars, _ = PARTITIONS["giai202"][p]
    uri = f"urn:epc:tag:giai-202:0.{'1' * digits}.{'z' * chars}"
    assert decode(encode(uri).hex).tag_uri == uri
    with pytest.raises(FieldOverflowError):
        encode(f"urn:epc:tag:giai-202:0.{'1' * digits}.{'z' * (chars + 1)}")
    k, _ = PARTITIONS["cpi96"][p]
    uri = f"urn:epc:tag:cpi-96:0.{'1' * digits}.{'9' * k}.2147483647"
    assert decode(encode(uri).hex).tag_uri == uri
    with pytest.raises(FieldOverflowError):
        encode(f"urn:epc:tag:cpi-96:0.{'1' * digits}.{'9' * (k + 1)}.1")
    uri = f"urn:epc:tag:cpi-var:0.{'1' * digits}.{'#' * 1}{'A' * (29 - digits)}.999999999999"
    assert decode(encode(uri.replace('#', '%23')).hex).tag_uri == uri.replace('#', '%23')


def test_every_7bit_escape_and_character() -> None:
    specials = '!"%&\'()*+,-./:;<=>?_'
    uri = "urn:epc:tag:sgtin-198:1.0614141.812345." + "%22%25%26%2F%3C%3E%3F!'()*+,-.:;=_"
    epc = encode(uri)
    assert epc.fields[2] == '"%&/<>?!\'()*+,-.:;=_'
    assert epc.tag_uri == uri
    assert set(epc.fields[2]) <= set(specials)
    # %-escapes of ordinary characters are accepted on input and normalised on output
    assert encode("urn:epc:tag:sgtin-198:1.0614141.812345.%41b").tag_uri == \
        "urn:epc:tag:sgtin-198:1.0614141.812345.Ab"
    # DL: RFC 3986, every non-unreserved character escaped
    assert epc.digital_link == ("https://id.gs1.org/01/80614141123458/21/"
                                "%22%25%26%2F%3C%3E%3F%21%27%28%29%2A%2B%2C-.%3A%3B%3D_")
    for raw in ('"', "%", "&", "/", "<", ">", "?", "#"):
        with pytest.raises(EPCError):
            encode(f"urn:epc:tag:sgtin-198:1.0614141.812345.a{raw}b")


def test_6bit_escapes() -> None:
    epc = encode("urn:epc:tag:adi-var:3.35962.PQ7%2FZ4.%23M37GXB92")
    assert epc.fields == ("35962", "PQ7/Z4", "#M37GXB92")
    assert epc.tag_uri == "urn:epc:tag:adi-var:3.35962.PQ7%2FZ4.%23M37GXB92"
    with pytest.raises(InvalidCharacterError):
        encode("urn:epc:tag:adi-var:3.35962.pq7.M37")


def test_invalid_strings_in_binary() -> None:
    base = encode("urn:epc:tag:sgtin-198:3.0614141.812345.ab")
    value = int(base.hex, 16)
    # put a non-zero character after the terminator (serial starts at bit 58 of 208)
    bad = value | (0x41 << (208 - 58 - 28))
    with pytest.raises(InvalidStringError):
        decode(f"{bad:052X}")
    # GDTI-113 numeric string without the leading 1
    w = BitWriter()
    for v, n in ((0x3A, 8), (3, 3), (5, 3), (9521141, 24), (12345, 17), (5678, 58)):
        w.write(v, n)
    with pytest.raises(InvalidNumericStringError):
        decode(w.hex())


def test_encode_rules() -> None:
    with pytest.raises(SerialLeadingZeroError):
        encode("urn:epc:tag:sgtin-96:3.0614141.812345.06789")
    with pytest.raises(FieldOverflowError):
        encode(f"urn:epc:tag:sgtin-96:3.0614141.812345.{1 << 38}")
    with pytest.raises(InvalidCharacterError):
        encode("urn:epc:tag:sgtin-96:3.0614141.812345.12a")
    assert encode("urn:epc:id:sgtin:0614141.812345.06789", filter=3).scheme == "sgtin-198"
    assert encode("urn:epc:id:sgtin:0614141.812345.6789", filter=3).scheme == "sgtin-96"
    assert encode("urn:epc:id:sgtin:0614141.812345.0", filter=3).scheme == "sgtin-96"
    assert encode(f"urn:epc:id:sgtin:0614141.812345.{1 << 38}", filter=3).scheme == "sgtin-198"
    assert encode("urn:epc:id:grai:9521141.12345.32a%2Fb", filter=3).scheme == "grai-170"
    with pytest.raises(FieldOverflowError):
        encode("urn:epc:tag:sgtin-198:3.0614141.812345." + "a" * 21)


def test_company_prefix_length_needed(tmp_path: object) -> None:
    with pytest.raises(CompanyPrefixUnknownError, match="Company Prefix length"):
        encode("(01)80614141123458(21)6789", filter=3)
    table = CompanyPrefixTable({"0614141": 7})
    assert encode("(01)80614141123458(21)6789", filter=3, company_prefix_table=table).hex == SGTIN
    with pytest.raises(CompanyPrefixUnknownError, match="no entry"):
        encode("(01)09506000134352(21)1", filter=3, company_prefix_table=table)


def test_company_prefix_table_file_formats(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    xml = base / "gcp.xml"
    xml.write_text('<GCPPrefixFormatList><entry prefix="0614141" gcpLength="7"/>'
                   '<entry prefix="95" gcpLength="11"/></GCPPrefixFormatList>')
    txt = base / "gcp.txt"
    txt.write_text("# prefix length\n0614141 7\n95,11\n")
    for path in (xml, txt):
        assert encode("(01)80614141123458(21)6789", filter=3, company_prefix_table=path).hex == SGTIN
        assert encode("(01)09506000134352(21)6789", filter=3,
                      company_prefix_table=str(path)).hex == "3066C4409047E14000001A85"
