"""The passage history: what recording a closed passage costs the close path, and what reads cost.

Run: ``.venv/bin/python benchmarks/bench_history.py [--quick]`` (writes ``benchmarks/results/history.json``;
a few seconds).  No broker: the store on its own, in a temporary directory on the machine's disk.

* **close path**: ``HistoryStore.record_closed`` per passage (20 SSCCs and a plate each, its enrichment
  record as the service builds it), the caller's time only: a queue put, the writer thread commits in
  batches.  Anchor: the same rows written synchronously by the caller (summary row, three events, keys,
  flags; WAL, ``synchronous=NORMAL``, one commit per passage), what the close path would pay without the
  writer thread, measured in the same run.
* **writer throughput**: passages committed per second, first record to everything committed.
* **reads** with the store holding every passage: ``query(limit=100)`` (``GET /api/passages``),
  ``passage_history`` (``GET /api/passages/{id}``), and ``candidates`` (the passages a late declaration
  concerns, by its keys, within the window).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.enrichment.result import EnrichmentResult, Flag
from gateway.gs1.check_digit import with_check_digit
from gateway.history.store import HistoryStore
from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier, VehicleEvidence
from gateway.service.views import result_view

RESULTS = Path(__file__).parent / "results"


def passage(i: int, at: float) -> Passage:
    idents = tuple(SeenIdentifier(Identifier.from_elements([("00", with_check_digit(f"34012345{i * 20 + k:09d}"))]),
                                  Evidence(at - 5, at - 1, 40, -45.0, ("rfid",), ("rdr",), 1.0, ("portal",)))
                   for k in range(20))
    plate = VehicleEvidence("plate", f"BXY{i:04d}", f"B-XY {i:04d}", 0.93, "DE", ("front",), at - 5, at - 4, 2,
                            ("anpr",))
    return Passage(f"lane1-{i}", "lane1", "inbound", "closed", at - 10, at, "quiet", identifiers=idents,
                   vehicle=(plate,))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 500 if args.quick else 3000
    now = time.time()
    items = []
    for i in range(n):
        p = passage(i, now - n + i)
        result = EnrichmentResult(passage_id=p.id, lane="lane1", flags=[Flag(code="NO_DECLARATION", severity="high")])
        record = result_view(p, result)
        record["revision"] = 1
        items.append((p, record, result))
    with tempfile.TemporaryDirectory(prefix="bx-bench-history-") as tmp:
        store = HistoryStore(Path(tmp) / "history.sqlite")
        costs = []
        start = time.perf_counter()
        for p, record, result in items:
            t = time.perf_counter()
            store.record_closed(p, record, result, 1)
            costs.append((time.perf_counter() - t) * 1e6)
        store.flush(120)
        elapsed = time.perf_counter() - start
        # the anchor: the same writes done by the caller, one commit per passage
        anchor_store = HistoryStore(Path(tmp) / "anchor.sqlite")
        anchor_store.flush()
        anchor_costs = []
        db = anchor_store._db  # the writer is idle: its connection, used synchronously here
        for p, record, result in items[: n // 3]:
            t = time.perf_counter()
            op_holder: list = []
            anchor_store._submit = op_holder.append  # type: ignore[method-assign]
            anchor_store.record_closed(p, record, result, 1)
            with anchor_store._write_lock:
                db.execute("BEGIN IMMEDIATE")
                op_holder[0](db)
                db.execute("COMMIT")
            anchor_costs.append((time.perf_counter() - t) * 1e6)
        list_ms, story_ms, cand_ms = [], [], []
        for k in range(50):
            t = time.perf_counter()
            store.query(limit=100)
            list_ms.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            store.passage_history(f"lane1-{(k * 37) % n}")
            story_ms.append((time.perf_counter() - t) * 1e3)
            i = (k * 53) % n
            keys = [f"sscc:{with_check_digit(f'34012345{i * 20 + j:09d}')}" for j in range(20)] + [f"plate:BXY{i:04d}"]
            t = time.perf_counter()
            assert store.candidates(keys, now - 86400) == [f"lane1-{i}"]
            cand_ms.append((time.perf_counter() - t) * 1e3)
        size = os.path.getsize(Path(tmp) / "history.sqlite") + os.path.getsize(Path(tmp) / "history.sqlite-wal")
        store.close()
        anchor_store.close()
    ours, anchor = statistics.median(costs), statistics.median(anchor_costs)
    rows = [
        {"metric": "close path: record_closed per passage (20 SSCCs, a plate), p50", "ours": round(ours, 1),
         "anchor": round(anchor, 1), "anchor_name": "the same rows written and committed by the caller",
         "ratio": round(ours / anchor, 3), "unit": "us", "target": "<< 1 ms"},
        {"metric": "close path: record_closed per passage, p99", "ours": round(pct(costs, 0.99), 1),
         "anchor": round(pct(anchor_costs, 0.99), 1), "anchor_name": "the same, synchronous",
         "ratio": round(pct(costs, 0.99) / pct(anchor_costs, 0.99), 3), "unit": "us", "target": "< 1 ms"},
        {"metric": "writer: passages committed per second", "ours": round(n / elapsed),
         "unit": "passages/s", "target": ">= 200 passages/s"},
        {"metric": f"GET /api/passages (limit 100, {n} stored), p50", "ours": round(statistics.median(list_ms), 2),
         "unit": "ms", "target": "< 100 ms"},
        {"metric": "GET /api/passages/{id} (whole story), p50", "ours": round(statistics.median(story_ms), 2),
         "unit": "ms", "target": "< 20 ms"},
        {"metric": "late data: passages a declaration concerns (21 keys), p50",
         "ours": round(statistics.median(cand_ms), 2), "unit": "ms", "target": "< 20 ms"},
        {"metric": f"history file for {n} passages", "ours": round(size / n), "unit": "bytes/passage",
         "target": "-"},
    ]
    load = os.getloadavg()[0]
    out = {"benchmark": "history: the passage history on the close path and for the API",
           "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                      f"{os.cpu_count()} cores, load {load:.1f}", "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
