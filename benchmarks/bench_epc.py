"""EPC decode throughput: ours vs epcpy (and pyepc), same inputs, same run.

    .venv/bin/python benchmarks/bench_epc.py [--n 20000] [--repeat 5]

Metrics: SGTIN-96 hex -> pure-identity URI, SGTIN-96 hex -> element string, and a mixed-scheme
decode rate (classic and '+'/'++' schemes).  Inputs are 1,000 distinct random valid EPCs (all
partitions and filters; the methodology of the research note), looped; there is no result
cache, only a bounded check-digit memo (a reader sees few distinct items).  Targets: >= 5x epcpy on SGTIN-96,
>= 100,000 mixed-scheme decodes/s.  Writes benchmarks/results/epc.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.gs1.epc import decode, encode  # noqa: E402
from gateway.gs1.epc.classic import GCP, PARTITIONS  # noqa: E402


def sgtin96_inputs(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = rng.randrange(7)
        digits, mbits = GCP[p]
        k, _nb = PARTITIONS["sgtin"][p]
        c = rng.randrange(10 ** (digits - 1), 10**digits)
        d = rng.randrange(10**k)
        value = (0x30 << 88) | (rng.randrange(1, 8) << 85) | (p << 82) | (c << (82 - mbits))
        value |= d << 38 | rng.randrange(1 << 38)
        out.append(f"{value:024X}")
    return out


MIXED_TEMPLATES = (
    "urn:epc:tag:sscc-96:0.952012.0{n:010d}",
    "urn:epc:tag:sgln-96:3.9521141.12345.{n}",
    "urn:epc:tag:grai-96:3.9521141.12345.{n}",
    "urn:epc:tag:giai-96:3.9521141.{n}",
    "urn:epc:tag:gsrn-96:3.9521141.{n:010d}",
    "urn:epc:tag:gdti-96:3.9521141.12345.{n}",
    "urn:epc:tag:cpi-96:3.9521141.98765.{n}",
    "urn:epc:tag:sgcn-96:3.9521141.67890.0{n}",
    "urn:epc:tag:gid-96:952056.2718.{n}",
    "urn:epc:tag:sgtin-198:3.95060001343.05.A{n}%2Fb",
    "urn:epc:tag:itip-110:3.9521141.012345.01.02.{n}",
    "urn:epc:tag:usdod-96:3.CAGEY.{n}",
)


def mixed_inputs(n: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    sgtins = sgtin96_inputs(n // 4, seed)
    out = list(sgtins)
    while len(out) < n:
        k = rng.randrange(len(MIXED_TEMPLATES) + 2)
        serial = rng.randrange(1, 10**9)
        if k < len(MIXED_TEMPLATES):
            out.append(encode(MIXED_TEMPLATES[k].format(n=serial)).hex)
        elif k == len(MIXED_TEMPLATES):
            out.append(encode([("01", "79521141123453"), ("21", f"S{serial}")], scheme="sgtin+", filter=3).hex)
        else:
            out.append(encode([("00", "095201234567891235")], scheme="sscc++", filter=0,
                              hostname="id.example.com").hex)
    rng.shuffle(out)
    return out


def rate(fn: Callable[[str], object], inputs: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for h in inputs:
            fn(h)
        best = min(best, time.perf_counter() - t0)
    return len(inputs) / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    sgtins = sgtin96_inputs(args.n)
    mixed = mixed_inputs(args.n)

    rows: list[dict[str, object]] = []

    def row(metric: str, ours: float, anchor: float | None, anchor_name: str | None, target: str) -> None:
        ratio = ours / anchor if anchor else None
        rows.append({"metric": metric, "ours": round(ours), "anchor": round(anchor) if anchor else None,
                     "anchor_name": anchor_name, "ratio": round(ratio, 2) if ratio else None,
                     "unit": "decodes/s", "target": target})
        extra = f"  {anchor_name}: {anchor:>10,.0f}/s  ratio {ratio:5.2f}x" if anchor and ratio else ""
        print(f"{metric:<40} ours: {ours:>10,.0f}/s{extra}")

    ours_uri = rate(lambda h: decode(h).pure_uri, sgtins, args.repeat)
    ours_uri_epc = rate(lambda h: decode(h), sgtins, args.repeat)
    ours_es = rate(lambda h: decode(h).element_string, sgtins, args.repeat)
    epcpy_uri = epcpy_es = pyepc_uri = None
    try:
        import epcpy

        to_tag: Any = epcpy.hex_to_tag_encodable  # type: ignore[attr-defined]
        epcpy_uri = rate(lambda h: to_tag(h).epc_uri, sgtins, args.repeat)
        epcpy_es = rate(lambda h: to_tag(h).gs1_element_string(), sgtins, args.repeat)
    except ImportError:
        print("epcpy not installed: no anchor")
    try:
        import pyepc  # type: ignore[import-untyped]

        pyepc_uri = rate(lambda h: pyepc.decode(h).pure_identity_uri, sgtins, args.repeat)
    except ImportError:
        print("pyepc not installed: no anchor")

    row("SGTIN-96 hex -> pure URI", ours_uri, epcpy_uri, "epcpy 0.1.8", ">= 5x epcpy")
    if pyepc_uri:
        row("SGTIN-96 hex -> pure URI (vs pyepc)", ours_uri, pyepc_uri, "pyepc 0.5", ">= 5x epcpy")
    row("SGTIN-96 hex -> element string", ours_es, epcpy_es, "epcpy 0.1.8", ">= 5x epcpy")
    row("SGTIN-96 hex -> EPC object (decode only)", ours_uri_epc, None, None, "-")
    ours_mixed = rate(lambda h: decode(h).elements, mixed, args.repeat)
    row("mixed schemes hex -> elements", ours_mixed, None, None, ">= 100,000/s")

    out = ROOT / "benchmarks" / "results" / "epc.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.processor() or platform.machine()}, CPython {platform.python_version()}"
    out.write_text(json.dumps({"benchmark": "EPC TDS 2.3 decode", "machine": machine, "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
