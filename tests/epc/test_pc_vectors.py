"""The PC word is honoured before anything is decoded as an EPC (issue 20): vectors built from the text of TDS 2.3
sections 9.2-9.4 and 15.2 (``tests/fixtures/epc/pc_word_vectors.json`` says how each was built), through the
library and through ``border-gateway decode --as pc-epc`` / ``--as epc-bank``."""

from __future__ import annotations

import binascii
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.gs1.epc import EPCError, NonGS1AFIError, PCLengthError, TruncatedError, decode

ROOT = Path(__file__).parents[2]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "epc" / "pc_word_vectors.json").read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = FIXTURE["vectors"]
OK_FIELDS = ("scheme", "filter", "pure_uri", "tag_uri", "raw_uri", "crc_ok")


def _ids(v: dict[str, Any]) -> str:
    return f"{v['form']}:{v['name']}"


@pytest.mark.parametrize("v", VECTORS, ids=_ids)
def test_library(v: dict[str, Any]) -> None:
    if v["ok"]:
        epc = decode(v["input"], v["form"])
        assert epc.pc is not None and epc.pc.to_json() == v["pc"]
        got = epc.to_json()
        assert {k: got.get(k) for k in OK_FIELDS} == {k: v[k] for k in OK_FIELDS}
        return
    with pytest.raises(EPCError) as info:
        decode(v["input"], v["form"])
    exc = info.value
    assert (exc.code, exc.raw_uri) == (v["error"], v["raw_uri"])
    assert (exc.pc.to_json() if exc.pc is not None else None) == v["pc"]  # type: ignore[attr-defined]
    if v["error"] == "non_gs1_afi":
        assert isinstance(exc, NonGS1AFIError) and f"{exc.afi:02X}" == v["afi"]
        assert exc.afi == v["pc"]["afi"]  # the PC's AFI field, as a number


def test_the_fixture_covers_each_rule() -> None:
    codes = {v.get("error") for v in VECTORS}
    assert {"non_gs1_afi", "pc_length", "truncated"} <= codes
    pcs = [v["pc"] for v in VECTORS if v["pc"]]
    assert any(p["umi"] for p in pcs) and any(p["attributes"] for p in pcs)
    assert any(p["xpc_w2"] for p in pcs) and any(p["xpc_w1"] == "0000" for p in pcs)
    assert {v["form"] for v in VECTORS if v.get("error") == "pc_length"} == {"pc-epc", "epc-bank"}


def test_pc_length_errors_are_typed() -> None:
    zero = next(v for v in VECTORS if v["name"] == "length field zero, bits after it")
    short = next(v for v in VECTORS if v["name"] == "length shorter than the scheme")
    for v in (zero, short):
        with pytest.raises(PCLengthError) as info:
            decode(v["input"], v["form"])
        assert isinstance(info.value, TruncatedError)  # a kind of truncation: callers catching that still do
    with pytest.raises(PCLengthError, match=r"PC length is 4 words \(64 bits\): sgtin-96 needs 96 bits"):
        decode(short["input"], short["form"])


def test_crc_values_in_the_fixture_agree_with_an_independent_crc() -> None:
    def crc(data: bytes) -> int:
        return binascii.crc_hqx(data, 0xFFFF) ^ 0xFFFF  # CRC-16/CCITT preset FFFFh, ones' complement

    checked = 0
    for v in VECTORS:
        raw = bytes.fromhex(v["input"])
        if v["form"] == "epc-bank" and v["pc"] and v["ok"]:
            end = 4 + 2 * v["pc"]["length_words"]
            assert (int.from_bytes(raw[:2], "big") == crc(raw[2:end])) is v["crc_ok"], v["name"]
            checked += 1
        elif v["form"] == "pc-epc" and v.get("crc_ok") is not None:
            assert (int.from_bytes(raw[-2:], "big") == crc(raw[:-2])) is v["crc_ok"], v["name"]
            checked += 1
    assert checked >= 6


def _decode_cli(form: str, *inputs: str, fmt: str = "json") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "decode", "--as", form, "--format", fmt, *inputs],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("form", ["pc-epc", "epc-bank"])
def test_cli_decode_json(form: str) -> None:
    vectors = [v for v in VECTORS if v["form"] == form]
    res = _decode_cli(form, *(v["input"] for v in vectors))
    assert res.returncode == 1 and "Traceback" not in res.stderr  # some vectors are errors
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == len(vectors)
    for v, out in zip(vectors, lines, strict=True):
        assert (out["input"], out["ok"], out.get("pc")) == (v["input"], v["ok"], v["pc"]), v["name"]
        if v["ok"]:
            assert {k: out.get(k) for k in OK_FIELDS} == {k: v[k] for k in OK_FIELDS}, v["name"]
        else:
            assert (out["errors"][0]["code"], out["raw_uri"]) == (v["error"], v["raw_uri"]), v["name"]
            if "afi" in v:
                assert out["afi"] == v["afi"]


def test_cli_decode_text_names_the_pc_fields() -> None:
    by_name = {v["name"]: v for v in VECTORS}
    inputs = [by_name[n]["input"] for n in ("UMI and attribute bits", "XI and XEB: XPC_W1 and XPC_W2",
                                             "toggle with UMI", "length shorter than the scheme")]
    res = _decode_cli("pc-epc", *inputs, fmt="text")
    assert res.returncode == 1, res.stderr
    pcs = [line.strip() for line in res.stdout.splitlines() if line.strip().startswith("pc: ")]
    assert pcs == [
        "pc: 3401 L=6 (96 bits) UMI=1 XI=0 T=0 attributes=x01",
        "pc: 3200 L=6 (96 bits) UMI=0 XI=1 T=0 attributes=x00 XPC_W1=x8004 (xeb k) XPC_W2=x1234",
        "pc: 25A2 L=4 (64 bits) UMI=1 XI=0 T=1 AFI=xA2",
        "pc: 2000 L=4 (64 bits) UMI=0 XI=0 T=0 attributes=x00",
    ]
    assert "ERROR non_gs1_afi" in res.stdout and "ERROR pc_length" in res.stdout


@pytest.mark.parametrize("v", FIXTURE["reported_separately"], ids=lambda v: v["name"])
def test_pc_reported_beside_the_epc(v: dict[str, Any]) -> None:
    """LLRP readers report PC_Bits (and XPC_W1/W2) as parameters of their own, beside the EPC."""
    words = {k: None if v[f"reported_{k}"] is None else int(v[f"reported_{k}"], 16) for k in ("pc", "xpc_w1", "xpc_w2")}
    if v["ok"]:
        epc = decode(v["epc"], **words)  # type: ignore[arg-type]
        got = epc.to_json()
        assert got["pc"] == v["pc"] and {k: got.get(k) for k in OK_FIELDS} == {k: v[k] for k in OK_FIELDS}
        return
    with pytest.raises(EPCError) as info:
        decode(v["epc"], **words)  # type: ignore[arg-type]
    assert (info.value.code, info.value.raw_uri) == (v["error"], v["raw_uri"])
    assert info.value.pc.to_json() == v["pc"]  # type: ignore[attr-defined]
