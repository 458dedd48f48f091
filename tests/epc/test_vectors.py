"""Byte-exact golden vectors from GS1 TDS 2.3 Annex E (errata corrected, see the fixture notes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.gs1.epc import decode, encode

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "epc" / "tds23_annex_e3.json"
VECTORS = json.loads(FIXTURE.read_text())["vectors"]
IDS = [v["scheme"] for v in VECTORS]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_decode_annex_e3(vector: dict[str, object]) -> None:
    epc = decode(str(vector["hex"]), dl_stem=str(vector["dl_stem"]))
    assert epc.scheme == vector["scheme"]
    assert epc.filter == vector["filter"]
    assert epc.tag_uri == vector["tag_uri"]
    assert epc.pure_uri == vector["pure_uri"]
    assert (epc.element_string or None) == vector["element_string"]
    assert epc.digital_link == vector["digital_link"]
    assert epc.hostname == vector["hostname"]
    if epc.is_plus:
        assert epc.pure_uri is None and epc.tag_uri is None and epc.uri_note


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["tag_uri"]], ids=lambda v: v["scheme"])
def test_encode_tag_uri_annex_e3(vector: dict[str, object]) -> None:
    hex_in = str(vector["hex"])
    out = encode(str(vector["tag_uri"])).hex
    # encode zero-fills to a 16-bit word boundary (TDS 15.1.1); Annex E prints the bare bits
    assert out.startswith(hex_in) and set(out[len(hex_in):]) <= {"0"} and len(out) % 4 == 0


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["element_string"]], ids=lambda v: v["scheme"])
def test_encode_element_string_annex_e3(vector: dict[str, object]) -> None:
    hex_in = str(vector["hex"])
    epc = decode(hex_in)
    if epc.is_plus:
        out = encode(str(vector["element_string"]), scheme=epc.scheme, filter=epc.filter, hostname=epc.hostname)
    else:
        out = encode(str(vector["element_string"]), scheme=epc.scheme, filter=epc.filter,
                     company_prefix_length=len(epc.fields[0]))
    assert out.hex.rstrip("0") == hex_in.rstrip("0")
    # and from the Digital Link
    dl = str(vector["digital_link"])
    if epc.is_plus:
        again = encode(dl, scheme=epc.scheme, filter=epc.filter)
    else:
        again = encode(dl, scheme=epc.scheme, filter=epc.filter, company_prefix_length=len(epc.fields[0]))
    assert again.hex == out.hex


def test_annex_e1_sgtin96_with_pc_and_gen2_memory() -> None:
    # TDS 2.3 E.1/E.2: (01)09506000134352(21)6789, GCP 11 digits, filter 3
    epc = encode("(01)09506000134352(21)6789", filter=3, company_prefix_length=11)
    assert epc.hex == "3066C4409047E14000001A85"
    assert epc.tag_uri == "urn:epc:tag:sgtin-96:3.95060001343.05.6789"
    assert epc.pure_uri == "urn:epc:id:sgtin:95060001343.05.6789"
    assert epc.digital_link == "https://id.gs1.org/01/09506000134352/21/6789"
    # PC word from E.1: length 00110 (6 words), UMI 0, XPC 0, T 0, attributes 0 -> 0x3000
    bank = decode("3000" + epc.hex, form="pc-epc")
    assert bank.pc is not None and bank.pc.word == 0x3000 and bank.tag_uri == epc.tag_uri


def test_classic_sgtin96_epcglobal_example() -> None:
    # the classic EPCglobal example (GCP 0614141), decoded by every anchor library alike
    epc = decode("3074257BF7194E4000001A85")
    assert epc.tag_uri == "urn:epc:tag:sgtin-96:3.0614141.812345.6789"
    assert epc.elements == (("01", "80614141123458"), ("21", "6789"))
    assert epc.raw_uri == "urn:epc:raw:96.x3074257BF7194E4000001A85"


def test_sgln_extension_zero_has_no_ai_254() -> None:
    epc = encode("urn:epc:tag:sgln-96:3.9521141.12345.0")
    assert epc.elements == (("414", "9521141123454"),)
    assert epc.pure_uri == "urn:epc:id:sgln:9521141.12345.0"


def test_dsgtin_plus_all_date_types() -> None:
    for ai in ("11", "13", "15", "16", "17", "7006", "7007"):
        epc = encode([("01", "79521141123453"), ("21", "32a/b"), (ai, "220630")], scheme="dsgtin+", filter=3)
        assert decode(epc.hex).elements == (("01", "79521141123453"), ("21", "32a/b"), (ai, "220630"))
