"""Where the enriched path's time goes: per-step milliseconds per passage, without a profiler.

Run: ``.venv/bin/python benchmarks/steps_enriched.py [TRUCKS] [ROUNDS]`` (default 600 trucks, 3 rounds; needs
the Mosquitto on 127.0.0.1:1883; about a minute).  It runs ``bench_pipeline``'s enriched-throughput
measurement (the in-process gateway fed pre-decoded reads of trucks of 20 SSCCs until the broker
acknowledged every message, against a bare paho QoS 1 loop publishing the same messages) with wall-clock
timers wrapped around the steps of the main thread: lane engine, enrichment, building and publishing
(of which the outbox commit and the hand-over to paho), and prints the median round.  The work is
GIL-bound: the main thread's time includes the waits while paho's network thread holds the GIL (it takes
it whenever the main thread releases it, in SQLite calls and socket writes).

cProfile distorts this path (it multiplies the cost of the many small Python calls, not of SQLite or the
socket); these timers cost about a microsecond per call.  Not part of ``run_all``: a diagnostic.
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_pipeline as bp  # noqa: E402

from gateway.enrichment.enricher import Enricher  # noqa: E402
from gateway.lane.engine import LaneEngine  # noqa: E402
from gateway.publishing.outbox import Outbox  # noqa: E402
from gateway.publishing.publisher import Publisher  # noqa: E402
from gateway.publishing.sender import Sender  # noqa: E402
from gateway.service.gateway import Gateway  # noqa: E402

STEPS = [(Gateway, "on_source_event", "total (Gateway.on_source_event)"), (LaneEngine, "feed", "lane engine"),
         (Enricher, "enrich", "enrichment"), (Publisher, "publish_passage_event", "publish new/update events"),
         (Publisher, "publish_passage_end", "publish end + result (build, commit, hand over)"),
         (Outbox, "put", "  of which outbox commits"), (Sender, "_send", "  of which hand-over to paho")]
SECONDS: dict[str, float] = defaultdict(float)


def _timed(cls: type, name: str, label: str) -> None:
    original = getattr(cls, name)
    main = threading.main_thread()

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not main:  # the sender thread: not on the measured path
            return original(*args, **kwargs)
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - start

    setattr(cls, name, wrapper)


def main(argv: list[str]) -> int:
    trucks = int(argv[0]) if argv else 600
    rounds = int(argv[1]) if len(argv) > 1 else 3
    for cls, name, label in STEPS:
        _timed(cls, name, label)
    load = os.getloadavg()[0]
    results: list[tuple[float, float, float, dict[str, float], int, float]] = []
    with tempfile.TemporaryDirectory(prefix="bx-steps-") as name:
        tmp = Path(name)
        bp.load_store(tmp)
        dry = bp.site_file(tmp, bp.BURST_GATEWAY, (1, 2), bp.free_port(), outbox=tmp / "dry.sqlite")
        sample = bp.sample_messages(dry, bp.burst_reads(trucks, time.time()))
        for r in range(rounds):
            anchor = len(sample) / min(bp.bare_paho(sample, None), bp.bare_paho(sample, 100))
            SECONDS.clear()
            config = bp.site_file(tmp, bp.BURST_GATEWAY, (1, 2), bp.free_port(), outbox=tmp / f"o{r}.sqlite")
            reads = bp.burst_reads(trucks, time.time())
            elapsed, messages, passages = bp.ours(config, reads)
            rate = messages / elapsed
            results.append((rate / anchor, rate, anchor, dict(SECONDS), passages, elapsed))
            print(f"round {r + 1}: bare paho {anchor:.0f} msg/s, gateway {rate:.0f} msg/s, ratio {rate / anchor:.2f} "
                  f"({passages} passages, {messages} messages)")
    ratio, rate, anchor, seconds, passages, elapsed = sorted(results)[len(results) // 2]
    print(f"median round: ratio {ratio:.2f} ({rate:.0f} vs {anchor:.0f} msg/s, "
          f"{statistics.median(r[0] for r in results):.2f} median of ratios); ms per passage:")
    print(f"  {'wall, first read -> last PUBACK':50s} {elapsed * 1000 / passages:6.2f}")
    for label, value in seconds.items():
        print(f"  {label:50s} {value * 1000 / passages:6.2f}")
    glue = seconds[STEPS[0][2]] - sum(seconds.get(label, 0.0) for _, _, label in STEPS[1:5])
    print(f"  {'gateway glue (live state, views, metrics)':50s} {glue * 1000 / passages:6.2f}")
    print(f"machine load average (1 min): {load:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
