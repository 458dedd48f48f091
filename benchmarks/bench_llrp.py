"""LLRP benchmark: end-to-end reads/s, dead-reader detection + reconnect time, codec decode vs sllurp.

Run: ``.venv/bin/python benchmarks/bench_llrp.py`` (writes ``benchmarks/results/llrp.json``).

1. Throughput: the simulator runs as a separate process (``border-gateway simulate rfid-llrp``)
   so that the measured process is the client alone: TCP -> framer -> codec -> TagReport ->
   normalised :class:`Read` with GS1 decode.  Reported with N=1 (one RO_ACCESS_REPORT per
   tag, the worst case) and N=20.
2. Dead reader: the simulator goes silent (socket open, nothing sent); we time how long the
   client's keepalive watchdog takes to notice and how long until it is connected again.
3. Codec: decode of the same RO_ACCESS_REPORT bytes by our codec and by sllurp's decoder
   (``sllurp.llrp.LLRPMessage``), in the same run; sllurp is GPL and used here only as a yardstick.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.llrp.client import open_source  # noqa: E402
from drivers.llrp.framing import LLRPFramer  # noqa: E402
from drivers.llrp.messages import Message, decode_message  # noqa: E402
from drivers.llrp.reports import TagReport, tag_reports  # noqa: E402
from gateway.reads import Read, SourceStatus  # noqa: E402
from simulators.llrp_sim import LLRPReaderSimulator  # noqa: E402
from simulators.tag_world import TagWorld  # noqa: E402


async def _throughput(address: str, report_n: int, seconds: float) -> float:
    src = open_source("bench", f"llrp://{address}?report={report_n}&keepalive=2000")
    count = 0
    t_first = 0.0

    async def consume() -> None:
        nonlocal count, t_first
        async for ev in src.events():
            if isinstance(ev, Read):
                if count == 0:
                    t_first = time.perf_counter()
                count += 1
                if count > 1 and time.perf_counter() - t_first >= seconds:
                    return

    await asyncio.wait_for(consume(), seconds + 20)
    elapsed = time.perf_counter() - t_first
    await src.close()
    return (count - 1) / elapsed


def throughput(report_n: int, seconds: float = 4.0) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sim = subprocess.Popen([sys.executable, "-m", "gateway.cli", "simulate", "rfid-llrp", "--port", "0",
                            "--tags", "200", "--rate", "60000"], stdout=subprocess.PIPE, text=True, env=env,
                           cwd=ROOT)
    try:
        assert sim.stdout is not None
        address = sim.stdout.readline().strip()
        return asyncio.run(_throughput(address, report_n, seconds))
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()


async def _dead_reader(keepalive_ms: int, misses: int) -> tuple[float, float]:
    async with LLRPReaderSimulator(TagWorld.steady("r", 5, 100.0), "r") as sim:
        host, port = sim.address
        src = open_source("bench", f"llrp://{host}:{port}?keepalive={keepalive_ms}&misses={misses}"
                                   "&backoff=0.05,1")
        silenced = noticed = reconnected = 0.0
        connected = 0

        async def consume() -> None:
            nonlocal silenced, noticed, reconnected, connected
            async for ev in src.events():
                if isinstance(ev, SourceStatus):
                    if ev.state == "connected" and ev.detail.startswith(host):
                        connected += 1
                        if connected == 1:
                            await asyncio.sleep(0.3)
                            silenced = time.perf_counter()
                            sim.go_silent()
                        else:
                            reconnected = time.perf_counter()
                            return
                    elif ev.state == "reconnecting" and not noticed:
                        noticed = time.perf_counter()

        await asyncio.wait_for(consume(), 30)
        await src.close()
        return noticed - silenced, reconnected - silenced


def codec(reports_per_message: int = 10, rounds: int = 3000) -> tuple[float, float | None]:
    r = TagReport(epc=bytes.fromhex("3074257bf7194e4000001a85"), antenna=1, peak_rssi=-50, channel_index=2,
                  first_seen_utc=1_700_000_000_000_000, last_seen_utc=1_700_000_000_100_000, seen_count=1, pc=0x3000)
    wire = Message(61, 5, {}, tuple(r.to_param() for _ in range(reports_per_message))).encode()
    framer = LLRPFramer(raw_types=frozenset({61}))  # exactly what the client does with each report
    t = time.perf_counter()
    for _ in range(rounds):
        tag_reports(framer.feed(wire)[0])
    ours = rounds * reports_per_message / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(rounds // 3):
        tag_reports(decode_message(wire))
    generic = (rounds // 3) * reports_per_message / (time.perf_counter() - t)
    print(f"codec (generic table-driven Param tree): {generic:,.0f} tags/s")
    try:
        from sllurp.llrp import LLRPMessage  # GPL: benchmark yardstick only
    except ImportError:
        return ours, None
    t = time.perf_counter()
    for _ in range(rounds):
        LLRPMessage(msgbytes=wire).msgdict["RO_ACCESS_REPORT"]["TagReportData"]
    theirs = rounds * reports_per_message / (time.perf_counter() - t)
    return ours, theirs


def main() -> int:
    rows: list[dict[str, Any]] = []
    ours, theirs = codec()
    rows.append({"metric": "RO_ACCESS_REPORT bytes -> TagReports (10 TagReportData/msg)", "ours": round(ours),
                 "anchor": round(theirs) if theirs else None, "anchor_name": "sllurp 3.0.5" if theirs else None,
                 "ratio": round(ours / theirs, 2) if theirs else None, "unit": "tags/s", "target": ">= 1x sllurp"})
    print(f"codec: ours {ours:,.0f} tags/s, sllurp {theirs or 0:,.0f} tags/s, ratio {ours / (theirs or ours):.2f}")
    for n in (1, 20):
        rate = throughput(n)
        rows.append({"metric": f"simulator -> client -> normalised Read (report N={n})", "ours": round(rate),
                     "anchor": None, "anchor_name": None, "ratio": None, "unit": "reads/s",
                     "target": ">= 5000 reads/s"})
        print(f"end to end, N={n}: {rate:,.0f} reads/s")
    noticed, reconnected = asyncio.run(_dead_reader(keepalive_ms=500, misses=2))
    rows.append({"metric": "silent reader -> watchdog notices (keepalive 500 ms x 2 misses)",
                 "ours": round(noticed, 3), "anchor": None, "anchor_name": "sllurp: no watchdog (TCP timeout)",
                 "ratio": None, "unit": "s", "target": "<= misses x interval + 0.5 s"})
    rows.append({"metric": "silent reader -> connected again", "ours": round(reconnected, 3), "anchor": None,
                 "anchor_name": "sllurp: fixed 60 s retry", "ratio": None, "unit": "s", "target": "< 3 s"})
    print(f"dead reader: noticed after {noticed:.3f} s, reconnected after {reconnected:.3f} s")
    out = {"benchmark": "LLRP client, simulator and codec",
           "machine": f"{platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPUs",
           "rows": rows}
    path = ROOT / "benchmarks" / "results" / "llrp.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
