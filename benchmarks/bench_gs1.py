"""Parse throughput of gateway.gs1 against biip, on the same inputs in the same run.

    .venv/bin/python benchmarks/bench_gs1.py [--seconds 0.4]

Prints rates (parses per second, best of several repeats) and the ratio to biip, and writes
``benchmarks/results/gs1.json``.  Targets (issue 3): element strings >= 10x biip with full
validation, Digital Link URIs >= 50,000/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message as BiipMessage

from gateway.gs1 import parse
from gateway.gs1.digital_link import parse_digital_link
from gateway.gs1.element_strings import parse_element_string
from gateway.gs1.hri import parse_hri

GS = "\x1d"
ELEMENT_STRINGS = [
    "010950600013435217201225" "10ABC123" + GS + "21XYZ",  # the reference note's benchmark string
    "0109506000134352" "17261231" "10LOT-42" + GS + "21SN0001",
    "00106141411234567897",
    "0109506000134352" "3103000525" "15270101",
    "0109506000134352" "21ABCDEF123456" + GS + "240PART-9",
    "4149520012345674" "254A-12",
    "0109506000134352" "11240101" "422752" + GS + "10B7",
    "8003095060001343521234",
]
DIGITAL_LINKS = [
    "https://id.gs1.org/01/09506000134352/10/ABC123/21/XYZ?17=201225",
    "https://example.com/products/01/09506000134352/21/SN0001",
    "https://id.gs1.org/00/106141411234567897",
    "https://brand.example/01/09506000134352?3103=000525&15=270101",
]
HRIS = ["(01)09506000134352(17)201225(10)ABC123(21)XYZ", "(00)106141411234567897",
        "(01)09506000134352(3103)000525(15)270101"]


def rate(fn: Callable[[str], object], inputs: list[str], seconds: float, repeats: int = 5) -> float:
    for data in inputs:  # warm up, and make sure every input parses
        fn(data)
    batch = inputs * max(1, 2000 // len(inputs))
    best = 0.0
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        while True:
            for data in batch:
                fn(data)
            count += len(batch)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, count / elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.4, help="time per repeat")
    args = parser.parse_args()
    s = args.seconds
    rows: dict[str, dict[str, float]] = {}

    def compare(name: str, ours: Callable[[str], object], biip: Callable[[str], object] | None,
                inputs: list[str]) -> None:
        ours_rate = rate(ours, inputs, s)
        row: dict[str, float] = {"ours_per_s": round(ours_rate)}
        line = f"{name:34s} ours {ours_rate:>10,.0f}/s"
        if biip is not None:
            biip_rate = rate(biip, inputs, s)
            row |= {"biip_per_s": round(biip_rate), "ratio": round(ours_rate / biip_rate, 2)}
            line += f"   biip {biip_rate:>9,.0f}/s   ratio {ours_rate / biip_rate:5.1f}x"
        rows[name] = row
        print(line)

    compare("element strings (GS)", parse_element_string, BiipMessage.parse, ELEMENT_STRINGS)
    compare("element strings via parse()", parse, BiipMessage.parse, ELEMENT_STRINGS)
    compare("element strings + typed elements", lambda d: parse(d).elements, None, ELEMENT_STRINGS)
    compare("bracketed HRI", parse_hri, BiipMessage.parse_hri, HRIS)
    compare("Digital Link URIs", parse_digital_link, GS1DigitalLinkURI.parse, DIGITAL_LINKS)

    es = rows["element strings (GS)"]
    dl = rows["Digital Link URIs"]["ours_per_s"]
    print(f"\ntarget element strings >= 10x biip: {es['ratio']}x -> {'met' if es['ratio'] >= 10 else 'NOT met'}")
    print(f"target Digital Link >= 50,000/s: {dl:,}/s -> {'met' if dl >= 50_000 else 'NOT met'}")
    out = Path(__file__).resolve().parent / "results" / "gs1.json"
    out.parent.mkdir(exist_ok=True)
    targets = {"element strings (GS)": ">= 10x biip", "Digital Link URIs": ">= 50,000/s"}
    table = [{"metric": f"parse {name}", "ours": row["ours_per_s"], "anchor": row.get("biip_per_s"),
              "anchor_name": "biip" if "biip_per_s" in row else None, "ratio": row.get("ratio"), "unit": "parses/s",
              "target": targets.get(name, "-")} for name, row in rows.items()]
    out.write_text(json.dumps({"benchmark": "GS1 parsing vs biip",
                               "machine": f"{platform.machine()}, CPython {platform.python_version()}",
                               "rows": table}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
