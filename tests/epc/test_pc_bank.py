"""PC word, XPC, AFI, whole EPC-bank reads and the CRC-16."""

from __future__ import annotations

import pytest

from gateway.gs1.epc import NonGS1AFIError, PCWord, TruncatedError, crc16_genibus, decode, decode_batch

SGTIN = "3074257BF7194E4000001A85"


def _bank(pc: int, epc: str, extra: str = "") -> str:
    body = bytes.fromhex(f"{pc:04X}" + epc)
    return f"{crc16_genibus(body):04X}{pc:04X}{epc}{extra}"


def test_crc16_catalogue_value() -> None:
    assert crc16_genibus(b"123456789") == 0xD64E


def test_pc_fields() -> None:
    pc = PCWord.parse(0x6C01)  # 13 words, UMI, attribute bits 0x01
    assert (pc.length_words, pc.epc_bits, pc.umi, pc.xi, pc.toggle, pc.attributes, pc.afi) == \
        (13, 208, True, False, False, 1, None)
    assert pc.control_fields() == "[att=x01][umi=1]:"
    afi = PCWord.parse(0x31C1)
    assert afi.toggle and afi.afi == 0xC1 and afi.attributes is None


def test_pc_epc_sgtin96() -> None:
    epc = decode("3000" + SGTIN, form="pc-epc")
    assert epc.pc is not None and epc.pc.word == 0x3000 and epc.crc_ok is None
    assert epc.tag_uri == "urn:epc:tag:sgtin-96:3.0614141.812345.6789"


def test_pc_epc_with_packet_crc() -> None:
    body = "3000" + SGTIN
    crc = crc16_genibus(bytes.fromhex(body))
    assert decode(f"{body}{crc:04X}", form="pc-epc").crc_ok is True
    assert decode(f"{body}{crc ^ 1:04X}", form="pc-epc").crc_ok is False


def test_control_fields_in_tag_and_raw_uri() -> None:
    epc = decode("3401" + SGTIN, form="pc-epc")  # UMI + attribute bits 0x01
    assert epc.tag_uri == "urn:epc:tag:[att=x01][umi=1]:sgtin-96:3.0614141.812345.6789"
    assert epc.raw_uri == "urn:epc:raw:[att=x01][umi=1]:96.x" + SGTIN
    assert epc.pure_uri == "urn:epc:id:sgtin:0614141.812345.6789"  # control info is not identity
    assert epc.digital_link == "https://id.gs1.org/01/80614141123458/21/6789"


def test_xpc_words_in_backscatter() -> None:
    # XI set: XPC_W1 follows the PC; XEB set in W1: W2 follows too
    epc = decode("3200" + "0001" + SGTIN, form="pc-epc")
    assert epc.pc is not None and epc.pc.xpc_w1 == 0x0001 and "h" in epc.pc.xpc_flags
    assert epc.tag_uri == "urn:epc:tag:[xpc-w1=x0001]:sgtin-96:3.0614141.812345.6789"
    epc2 = decode("3200" + "8000" + "1234" + SGTIN, form="pc-epc")
    assert epc2.pc is not None and epc2.pc.xpc_w2 == 0x1234
    assert epc2.tag_uri is not None and epc2.tag_uri.startswith("urn:epc:tag:[xpc=x80001234]:")
    with pytest.raises(TruncatedError):
        decode("3200", form="pc-epc")


def test_toggle_1_is_never_decoded_as_epc() -> None:
    # payload starts with 0x30 but T = 1: an ISO/IEC 15961 UII, AFI 0xC1
    with pytest.raises(NonGS1AFIError) as info:
        decode("31C1" + SGTIN, form="pc-epc")
    assert info.value.afi == 0xC1 and info.value.code == "non_gs1_afi"
    assert info.value.raw_uri == "urn:epc:raw:96.xC1.x" + SGTIN


def test_epc_bank_with_crc_and_zero_fill() -> None:
    bank = _bank(0x3000, SGTIN, "0000" * 4)
    epc = decode(bank, form="epc-bank")
    assert epc.crc_ok is True and epc.pure_uri == "urn:epc:id:sgtin:0614141.812345.6789"
    bad = "0000" + bank[4:]
    assert decode(bad, form="epc-bank").crc_ok is False
    with pytest.raises(TruncatedError):
        decode(_bank(0x3000, SGTIN)[:-4], form="epc-bank")


def test_epc_bank_with_xpc_words_at_210h() -> None:
    epc_words = SGTIN + "0000" * (31 - 6)  # fill up to word 32 (bit 200h) ...
    bank = _bank(0x3200, SGTIN)[:8] + epc_words + "0002" + "0000"  # ... XPC_W1 at word 33
    epc = decode(bank, form="epc-bank")
    assert epc.pc is not None and epc.pc.xpc_w1 == 0x0002 and epc.crc_ok is True


def test_sgtin198_bank_pc_0x6800() -> None:
    hex198 = "3666C4409047E159B2C2BF100000000000000000000000000000"
    epc = decode("6800" + hex198, form="pc-epc")
    assert epc.scheme == "sgtin-198" and epc.pc is not None and epc.pc.length_words == 13


def test_batch_decode_reports_errors_in_order() -> None:
    out = list(decode_batch([SGTIN, SGTIN, "00" * 12, "F73795211411234538566CB0AFC4"]))
    assert [getattr(x, "scheme", getattr(x, "code", None)) for x in out] == \
        ["sgtin-96", "sgtin-96", "unprogrammed", "sgtin+"]


def test_tid_copied_behind_0x30_is_flagged() -> None:
    # epctagcoder #9: a TID behind a 0x30 byte decodes "validly" as partition 0
    epc = decode("3000E2801160200074CF085A00")
    assert epc.scheme == "sgtin-96" and epc.warnings
