"""``border-gateway decode`` for GS1 data (the dispatcher is :mod:`gateway.cli.decode`).

One result per input: ``--format json`` writes one JSON object per line::

    {"input": ..., "ok": true, "kind": "element-string", "elements": [{"ai": "01", "value": ...}],
     "digital_link": "https://id.gs1.org/01/...", "errors": [], ...}

``--format text`` writes a short block per input for a person. The exit status is 1 when any
input failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TextIO

from gateway.gs1.errors import LENIENT, STRICT, GS1ParseError
from gateway.gs1.message import DEFAULT_DL_DOMAIN, GS1Message
from gateway.gs1.parser import detect, parse


def _printable(data: str) -> str:
    return data.replace("\x1d", "<GS>")


def decode_one(data: str, form: str, lenient: bool, dl_domain: str) -> dict[str, object]:
    """The JSON object for one input (never raises for bad data)."""
    kind = detect(data) if form == "auto" else form
    result: dict[str, object] = {"input": data, "ok": False, "kind": kind, "elements": [],
                                 "digital_link": None, "errors": [], "warnings": []}
    try:
        msg = parse(data, profile=LENIENT if lenient else STRICT, form=form)
    except GS1ParseError as exc:
        result["errors"] = [_problem_json(p) for p in exc.problems]
        result["warnings"] = [_problem_json(p) for p in exc.warnings]
        return result
    result["ok"] = True
    result["symbology"] = msg.symbology
    result["elements"] = [{"ai": e.ai, "title": e.title, "value": e.value} for e in msg.elements]
    result["digital_link"] = _digital_link(msg, dl_domain)
    result["hri"] = msg.as_hri()
    result["warnings"] = [_problem_json(p) for p in msg.warnings]
    if msg.extensions:
        result["extensions"] = [list(kv) for kv in msg.extensions]
    return result


def _problem_json(p: object) -> dict[str, object]:
    return {k: getattr(p, k) for k in ("code", "ai", "position", "message")}


def _digital_link(msg: GS1Message, domain: str) -> str | None:
    try:
        return msg.as_digital_link(domain)
    except GS1ParseError:
        return None


def _text(result: dict[str, object], out: TextIO) -> None:
    status = "OK" if result["ok"] else "FAILED"
    out.write(f"{_printable(str(result['input']))}\n  {status} ({result['kind']})\n")
    for element in result["elements"]:  # type: ignore[attr-defined]
        out.write(f"  ({element['ai']}) {element['title']}: {_printable(element['value'])}\n")
    if result.get("digital_link"):
        out.write(f"  Digital Link: {result['digital_link']}\n")
    for label in ("errors", "warnings"):
        for p in result[label]:  # type: ignore[attr-defined]
            out.write(f"  {label[:-1]} [{p['code']}] {p['message']}\n")


def run(args: argparse.Namespace, inputs: Iterable[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    form = getattr(args, "form", "auto") or "auto"
    fmt = getattr(args, "format", "text")
    lenient = bool(getattr(args, "lenient", False))
    domain = getattr(args, "dl_domain", None) or DEFAULT_DL_DOMAIN
    failed = False
    for data in inputs:
        result = decode_one(data, form, lenient, domain)
        failed = failed or not result["ok"]
        if fmt == "json":
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        else:
            _text(result, out)
    return 1 if failed else 0
