"""``border-gateway decode`` end to end, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def decode(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "decode", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def test_json_lines_from_stdin_and_exit_status() -> None:
    lines = ["010950600013435217201225\x1d10ABC123", "(01)09506000134353", "]C0HELLO",
             "https://example.com/01/09506000134352?99=x&utm=y", "]Q3"]
    out = decode("--format", "json", stdin="\n".join(lines) + "\n")
    assert out.returncode == 1
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["input"] for d in docs] == lines
    assert [d["ok"] for d in docs] == [True, False, False, True, False]
    assert docs[0]["kind"] == "element-string"
    assert [(e["ai"], e["value"]) for e in docs[0]["elements"]] == [
        ("01", "09506000134352"), ("17", "201225"), ("10", "ABC123")]
    assert docs[0]["digital_link"] == "https://id.gs1.org/01/09506000134352/10/ABC123?17=201225"
    assert docs[1]["errors"] == [{"code": "bad-check-digit", "ai": "01", "position": 17,
                                  "message": "AI (01) GTIN: check digit should be 2, not 3, at position 17 of "
                                             "'(01)09506000134353'"}]
    assert docs[2]["errors"][0]["code"] == "not-gs1"
    assert docs[3]["extensions"] == [["utm", "y"]]
    assert [(e["code"], e["position"]) for e in docs[4]["errors"]] == [("syntax", 3)]  # an empty symbol


def test_arguments_text_format_lenient_and_domain() -> None:
    out = decode("(10)ABC", "--lenient", "--dl-domain", "https://d.example")
    assert out.returncode == 0, out.stderr
    assert "OK (hri)" in out.stdout and "req-missing" in out.stdout
    out = decode("(01)09506000134352", "--dl-domain", "https://d.example", "--format", "json")
    assert json.loads(out.stdout)["digital_link"] == "https://d.example/01/09506000134352"
    out = decode("(10)ABC")
    assert out.returncode == 1 and "FAILED" in out.stdout


def test_forced_form() -> None:
    out = decode("--as", "element-string", "--format", "json", "(01)09506000134352")
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and doc["kind"] == "element-string" and not doc["ok"]
    out = decode("--as", "scanner", "--format", "json", "]E09506000134352")
    assert json.loads(out.stdout)["elements"] == [{"ai": "01", "title": "GTIN", "value": "09506000134352"}]
