"""Turn benchmarks/results/*.json into the Markdown table of benchmarks/RESULTS.md.

Each benchmark writes ``{"benchmark": ..., "machine": ..., "rows": [{"metric", "ours", "anchor",
"anchor_name", "ratio", "unit", "target"}...]}``; this script only formats them.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def rows_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one result file; also reads the first GS1 benchmark's shape,
    ``{"results": {name: {"ours_per_s", "biip_per_s", "ratio"}}}``, so old result files still show."""
    if "rows" in data:
        return list(data["rows"])
    return [{"metric": name, "ours": r.get("ours_per_s"), "anchor": r.get("biip_per_s"),
             "anchor_name": "biip" if "biip_per_s" in r else None, "ratio": r.get("ratio"), "unit": "/s",
             "target": ""} for name, r in data.get("results", {}).items()]


def main() -> int:
    out = ["# Benchmark results", "",
           f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
           "figures from `benchmarks/run_all` (each anchor measured in the same run).", "",
           "The machine has 2 cores and is shared with other jobs (up to six sessions at once): each benchmark is "
           "run at most twice per change, and its line in italics gives the load average it ran under. Read the "
           "figures as a floor, and the ratios (measured within one run) as the comparable part.", ""]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        out += [f"## {data.get('benchmark', path.stem)}", ""]
        if data.get("command"):
            out += [f"Command: `{data['command']}`", ""]
        if data.get("machine"):
            out += [f"_{data['machine']}_", ""]
        if data.get("note"):
            out += [str(data["note"]), ""]
        out += ["| metric | ours | anchor | ratio | unit | target |", "|---|---:|---:|---:|---|---|"]
        for row in rows_of(data):
            anchor = fmt(row.get("anchor"))
            if row.get("anchor_name"):
                anchor = f"{anchor} ({row['anchor_name']})"
            ratio = row.get("ratio")
            out.append(f"| {row.get('metric', '')} | {fmt(row.get('ours'))} | {anchor} | "
                       f"{'' if ratio is None else f'{ratio:.2f}x'} | {row.get('unit', '')} | "
                       f"{row.get('target', '')} |")
        out.append("")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
