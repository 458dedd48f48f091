"""``border-gateway decode --as epc|pc-epc|epc-bank``: one result per input line.

JSON lines carry ``input, ok, scheme, filter, pure_uri, tag_uri, elements, digital_link,
raw_uri, pc, crc_ok, errors``; the exit status is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from gateway.gs1.epc.decoder import decode
from gateway.gs1.epc.errors import EPCError, NonGS1AFIError
from gateway.gs1.epc.gs1keys import DEFAULT_DL_STEM
from gateway.gs1.epc.pc import PCWord


def result_json(text: str, form: str, dl_stem: str) -> dict[str, Any]:
    try:
        epc = decode(text, form, dl_stem=dl_stem)
    except EPCError as exc:
        out: dict[str, Any] = {
            "input": text, "ok": False, "scheme": None, "filter": None, "pure_uri": None, "tag_uri": None,
            "elements": [], "digital_link": None, "raw_uri": exc.raw_uri,
            "errors": [{"code": exc.code, "message": exc.message}],
        }
        if isinstance(exc, NonGS1AFIError):
            out["afi"] = f"{exc.afi:02X}"
        if isinstance(exc.pc, PCWord):  # what the PC word said is reported with the error
            out["pc"] = exc.pc.to_json()
        return out
    data = epc.to_json()
    data = {"input": text, **data, "errors": []}
    return data


def _pc_line(res: dict[str, Any]) -> str:
    """``  pc: 3401 L=6 (96 bits) UMI=1 ... crc_ok=True``, or ``''`` without a PC word."""
    pc = res.get("pc")
    if not pc:
        return ""
    word = PCWord.parse(int(pc["word"], 16), *(int(pc[k], 16) if pc[k] else None for k in ("xpc_w1", "xpc_w2")))
    crc = f" crc_ok={res['crc_ok']}" if res.get("crc_ok") is not None else ""
    return f"\n  pc: {word.describe()}{crc}"


def _text_line(res: dict[str, Any]) -> str:
    if not res["ok"]:
        err = res["errors"][0]
        raw = f"  {res['raw_uri']}" if res.get("raw_uri") else ""
        return f"{res['input']}: ERROR {err['code']}: {err['message']}{raw}{_pc_line(res)}"
    parts = [f"{res['input']}: {res['scheme']} filter={res['filter']}"]
    for key in ("pure_uri", "tag_uri", "element_string", "digital_link", "raw_uri"):
        if res.get(key):
            parts.append(f"  {key}: {res[key]}")
    if res.get("uri_note"):
        parts.append(f"  note: {res['uri_note']}")
    if "pc" in res:
        parts.append(_pc_line(res)[1:])
    for warning in res.get("warnings", ()):
        parts.append(f"  warning: {warning}")
    return "\n".join(parts)


def run(args: argparse.Namespace, inputs: Iterable[str], out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    form = getattr(args, "form", "epc") or "epc"
    stem = getattr(args, "dl_domain", None) or DEFAULT_DL_STEM
    fmt = getattr(args, "format", "text")
    failed = False
    for line in inputs:
        text = line.strip()
        if not text:
            continue
        res = result_json(text, form, stem)
        failed |= not res["ok"]
        stream.write((json.dumps(res, ensure_ascii=False) if fmt == "json" else _text_line(res)) + "\n")
    return 1 if failed else 0
