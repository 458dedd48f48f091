"""CLI JSON lines, the tag-world packer, and the conversion to the shared Identifier."""

from __future__ import annotations

import argparse
import io
import json
import sys

from gateway.gs1.epc import decode
from gateway.gs1.epc.cli import run
from simulators.tag_world import synthetic_sgtin96

SGTIN = "3074257BF7194E4000001A85"


def _run(form: str, inputs: list[str], stem: str = "https://id.gs1.org") -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    args = argparse.Namespace(form=form, format="json", dl_domain=stem, company_prefix_table=None)
    rc = run(args, inputs, out)
    return rc, [json.loads(line) for line in out.getvalue().splitlines()]


def test_cli_json_lines() -> None:
    rc, rows = _run("epc", [SGTIN, "F73795211411234538566CB0AFC4"], "https://example.com")
    assert rc == 0
    first = rows[0]
    assert set(first) >= {"input", "ok", "scheme", "filter", "pure_uri", "tag_uri", "elements", "digital_link",
                          "raw_uri", "errors"}
    assert first["elements"] == [{"ai": "01", "value": "80614141123458"}, {"ai": "21", "value": "6789"}]
    assert first["digital_link"] == "https://example.com/01/80614141123458/21/6789"
    assert rows[1]["pure_uri"] is None and "uri_note" in rows[1]


def test_cli_pc_and_errors() -> None:
    rc, rows = _run("pc-epc", ["3000" + SGTIN, "31C1" + SGTIN, "nothex"])
    assert rc == 1
    assert rows[0]["pc"]["word"] == "3000" and rows[0]["ok"] is True  # type: ignore[index]
    assert rows[1]["errors"][0]["code"] == "non_gs1_afi"  # type: ignore[index]
    assert rows[1]["raw_uri"] == "urn:epc:raw:96.xC1.x" + SGTIN
    assert rows[2]["errors"][0]["code"] == "not_hex"  # type: ignore[index]


def test_cli_dispatcher_reads_stdin(monkeypatch: object, capsys: object) -> None:
    import pytest

    from gateway.cli.decode import handle

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(sys, "stdin", io.StringIO(f"{SGTIN}\n\n"))
        args = argparse.Namespace(inputs=[], form="epc", format="json", dl_domain="https://id.gs1.org",
                                  company_prefix_table=None, lenient=False)
        assert handle(args) == 0
    finally:
        mp.undo()
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert json.loads(out)["tag_uri"] == "urn:epc:tag:sgtin-96:3.0614141.812345.6789"


def test_tag_world_synthetic_sgtin96_decodes() -> None:
    for index in (0, 1, 12345, (1 << 38) - 1):
        epc = decode(synthetic_sgtin96(index))
        assert epc.scheme == "sgtin-96" and epc.filter == 1
        assert epc.pure_uri == f"urn:epc:id:sgtin:952012.0012345.{index}"
        assert epc.elements[0] == ("01", "09520120123454")


def test_to_identifier() -> None:
    ident = decode(SGTIN).to_identifier()
    assert ident.key_type == "sgtin" and ident.key == "80614141123458.6789"
    assert ident.uri == "urn:epc:id:sgtin:0614141.812345.6789"
    sscc = decode("311BA1B300CE0A6A83000000").to_identifier()
    assert sscc.key_type == "sscc" and sscc.key == "095201234567891235"
    plus = decode("F73795211411234538566CB0AFC4").to_identifier()
    assert plus.key_type == "sgtin" and plus.uri is None
