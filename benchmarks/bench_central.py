"""The central side under a fleet's load: enriched records stored into PostgreSQL by 1 and 2 consumers.

Run: ``.venv/bin/python benchmarks/bench_central.py [--quick] [--broker mosquitto|nats]`` (writes
``benchmarks/results/central.json``, with ``--broker nats`` ``central_nats.json``; about a minute,
``--quick`` about 20 s).  Needs PostgreSQL (the one at 127.0.0.1:5432, else a private cluster, see
:mod:`simulators.preclearance.pg_local`) and ``mosquitto`` or ``nats-server`` (and nats-py).

What runs where:

* **broker**: a Mosquitto of its own on a free loopback port with ``max_queued_messages 0``: a member
  of a shared subscription that falls behind has its share queued by the broker, and Mosquitto's default
  (1,000 per client) would drop the rest silently -- a central broker must be configured so;
* **consumers**: 1, then 2 processes of ``border-gateway simulate preclearance --store DSN --store-only``
  in one shared-subscription group (each phase in a fresh PostgreSQL schema);
* **this process**: the fleet (:mod:`simulators.fleet`): the real gateway's messages for 200 posts x 4
  lanes with varied ids, QoS 1.  It notes when it published each enriched record.

Two phases per consumer count:

* **capacity** (a drain): the members subscribe and disconnect (persistent sessions), a burst of ``BURST``
  enriched records (only that kind: the consumers subscribe to nothing else; 5 % of them re-enriched,
  revision 2, and 1 % sent twice) is published while they are away and queued by the broker for their
  sessions, then they come back and drain it: stored records/s = records / (last - first ``stored_at``),
  the fleet no longer competing for the CPU.  The 2/1 ratio is how the consumers scale on this machine
  (2 cores shared by the broker, PostgreSQL and the consumers, and with other jobs: read it as a floor,
  not as the shape of a real deployment).  Consumer CPU per record (``/proc``) gives the rate one
  member would reach on a core of its own;
* **realistic**: 200 posts x 4 lanes, one passage per lane every 60 s on average (~13 passages/s, the full
  message mix, ~10 messages a passage), for ``REALISTIC_S`` seconds: p50 / p99 from publish to stored
  (``stored_at`` is the row's insert time; the batch commits right after), none of it queued.

Checked each time: lost = records published - distinct ids stored = 0; duplicate rows = rows beyond one
per (post, passage, revision) = 0; every passage's current row at its highest revision.

NATS (``--broker nats``: a 3-node cluster of its own, JetStream + MQTT, :mod:`tests.support.nats`): its MQTT
listener speaks 3.1.1 only and has no shared subscriptions (a ``$share/...`` filter matches nothing), so
the fleet publishes MQTT 3.1.1 QoS 1 to node 0's MQTT listener and the members are
``simulate preclearance --nats-url <all three nodes> --nats-replicas 3``: one JetStream durable pull
consumer, shared, over a work-queue stream (R3, file store) on ``bx.v1.customs.*.*.enriched.*``, which the
first member creates.  The drain phase: the members start (stream and consumer created) and stop, the burst
is published (the stream keeps it), the members come back and drain it.  Each phase deletes its stream.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.service.broker import MosquittoBroker  # noqa: E402
from simulators.fleet import Fleet, FleetConfig  # noqa: E402
from simulators.preclearance.pg_local import local_postgres  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "central.json"
BURST, BURST_QUICK = 12_000, 3_000
REALISTIC_S, REALISTIC_QUICK_S = 20.0, 8.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Target:
    """Where the fleet publishes (MQTT) and how the consumers reach the records."""

    broker: str  # "mosquitto" | "nats"
    mqtt_url: str
    nats_urls: str = ""  # comma-separated, NATS only

    @property
    def protocol(self) -> str:
        return "3.1.1" if self.broker == "nats" else "5"

    def consumer_args(self, schema: str, i: int, persistent: bool) -> list[str]:
        if self.broker == "nats":
            return ["--nats-url", self.nats_urls, "--nats-stream", NATS_STREAM, "--nats-replicas", "3"]
        return ["--mqtt-url", self.mqtt_url, "--session-expiry", "600" if persistent else "0"]

    def end_phase(self, schema: str, consumers: int, drain: bool) -> None:
        if self.broker == "nats":
            delete_stream(self.nats_urls)
        elif drain:
            end_sessions(self.mqtt_url, [f"bench-{schema}-{i}" for i in range(consumers)])


NATS_STREAM = "BX_BENCH"


def delete_stream(urls: str) -> None:
    """Each phase has a stream of its own (two streams may not capture the same subjects)."""
    import asyncio

    import nats
    from nats.js.errors import NotFoundError

    async def delete() -> None:
        nc = await nats.connect(servers=urls.split(","))
        try:
            with contextlib.suppress(NotFoundError):
                await nc.jetstream(timeout=10).delete_stream(NATS_STREAM)
        finally:
            await nc.close()

    asyncio.run(delete())
    time.sleep(1.0)  # the three replicas remove its files; the next phase creates a new one


def start_consumers(n: int, target: Target, dsn: str, schema: str, persistent: bool) -> list[subprocess.Popen[str]]:
    procs = [subprocess.Popen([sys.executable, "-m", "gateway.cli", "simulate", "preclearance",
                               *target.consumer_args(schema, i, persistent),
                               "--store", dsn, "--schema", schema, "--store-only", "--group", f"bench-{schema}",
                               "--client-id", f"bench-{schema}-{i}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}) for i in range(n)]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line.startswith("subscribed"):
            raise RuntimeError(f"consumer did not start: {line} {p.stderr.read() if p.stderr else ''}")
    return procs


def end_sessions(url: str, client_ids: list[str]) -> None:
    """Remove the members' persistent sessions: left behind, their subscriptions would keep queueing (and the
    broker saving) a copy of every later message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    host, port = url.removeprefix("mqtt://").split(":")
    for client_id in client_ids:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        client.connect(host, int(port), clean_start=True)  # a new session, expiring at this disconnect
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


def stop_consumers(procs: list[subprocess.Popen[str]]) -> list[dict[str, int]]:
    out = []
    for p in procs:
        p.terminate()
        stdout, _ = p.communicate(timeout=60)
        lines = stdout.strip().splitlines()
        out.append(json.loads(lines[-1])["preclearance"] if lines else {})
    return out


def wait_stored(conn: Any, schema: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = conn.execute(f"SELECT count(*) FROM {schema}.enriched").fetchone()[0]
        if count >= expected:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # stragglers (duplicates) would show in the checks below
    return int(count)


def checks(conn: Any, schema: str, sent: dict[str, float]) -> dict[str, Any]:
    rows = conn.execute(f"SELECT ce_id, extract(epoch FROM stored_at) FROM {schema}.enriched").fetchall()
    stored = {ce_id: float(at) for ce_id, at in rows}
    dup = conn.execute(f"SELECT count(*) - count(DISTINCT (site, gateway, passage_id, revision)) FROM "
                       f"{schema}.enriched").fetchone()[0]
    stale = conn.execute(f"SELECT count(*) FROM {schema}.passage p WHERE p.revision < (SELECT max(e.revision) FROM "
                         f"{schema}.enriched e WHERE (e.site, e.gateway, e.passage_id) = "
                         "(p.site, p.gateway, p.passage_id))").fetchone()[0]
    latencies = sorted((stored[i] - t) * 1000 for i, t in sent.items() if i in stored)
    return {"lost": len(set(sent) - set(stored)), "extra": len(set(stored) - set(sent)), "duplicate_rows": int(dup),
            "stale_current": int(stale), "stored": len(stored),
            "first_sent": min(sent.values()) if sent else 0.0, "last_stored": max(stored.values()) if stored else 0.0,
            "first_stored": min(stored.values()) if stored else 0.0,
            "p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95), "p99_ms": _pct(latencies, 99)}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def phase(target: Target, dsn: str, consumers: int, config: FleetConfig, timeout: float,
          drain: bool) -> dict[str, Any]:
    """One run: ``drain`` publishes while the members are away (their sessions queue their shares) and
    then lets them drain the queue; otherwise the members consume while the fleet publishes."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if not drain:  # the previous bursts' dirty pages are not this phase's latency
        with psycopg.connect(dsn, autocommit=True) as conn, contextlib.suppress(psycopg.Error):
            conn.execute("CHECKPOINT")
    procs = start_consumers(consumers, target, dsn, schema, persistent=drain)
    try:
        if drain:
            stop_consumers(procs)  # a clean DISCONNECT: the sessions (JetStream: stream and consumer) stay
        fleet = Fleet(config)
        result = fleet.run(target.mqtt_url, target.protocol, track_enriched=True)
        if drain:
            procs = start_consumers(consumers, target, dsn, schema, persistent=True)
        cpu_before = sum(cpu_s(p.pid) for p in procs)  # after start-up (imports, connections)
        with psycopg.connect(dsn, autocommit=True) as conn:
            wait_stored(conn, schema, len(result.sent), timeout)
            cpu = sum(cpu_s(p.pid) for p in procs) - cpu_before
            found = checks(conn, schema, result.sent)
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        members = stop_consumers(procs)
        target.end_phase(schema, consumers, drain)
    span = found["last_stored"] - (found["first_stored"] if drain else found["first_sent"])
    found.update(records=len(result.sent), fleet=result.summary(), members=members,
                 stored_per_s=found["stored"] / span if span > 0 else float("nan"),
                 consumer_cpu_ms_per_record=cpu * 1000 / max(1, result.duplicates + len(result.sent)))
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--broker", choices=("mosquitto", "nats"), default="mosquitto")
    args = ap.parse_args(argv)
    burst = BURST_QUICK if args.quick else BURST
    realistic_s = REALISTIC_QUICK_S if args.quick else REALISTIC_S
    load_before = os.getloadavg()[0]
    out: dict[int, dict[str, Any]] = {}
    live: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bx-bench-central-") as tmp, local_postgres() as dsn, \
            contextlib.ExitStack() as stack:
        if args.broker == "nats":
            from tests.support.nats import nats_cluster

            cluster = stack.enter_context(nats_cluster(3, Path(tmp) / "nats"))
            target = Target("nats", cluster.mqtt_urls[0], ",".join(cluster.nats_urls))
        else:
            broker = MosquittoBroker(workdir=Path(tmp) / "broker", extra_config="max_queued_messages 0\n")
            broker.start()
            stack.callback(broker.stop)
            target = Target("mosquitto", broker.url)
        for n in (1, 2):
            run = f"b{n}{uuid.uuid4().hex[:6]}"
            out[n] = phase(target, dsn, n, FleetConfig(
                posts=200, lanes=4, interval_s=0, duration_s=120, max_messages=burst, only=frozenset({"enriched"}),
                revision_share=0.05, revision_delay_s=0.0, duplicate_share=0.01, run=run, seed=n),
                timeout=180, drain=True)
            print(f"capacity, {n} consumer(s): {out[n]['stored_per_s']:.0f} records/s stored, "
                  f"lost {out[n]['lost']}, duplicate rows {out[n]['duplicate_rows']}", flush=True)
        for n in (1, 2):
            run = f"l{n}{uuid.uuid4().hex[:6]}"
            live[n] = phase(target, dsn, n, FleetConfig(
                posts=200, lanes=4, interval_s=60, duration_s=realistic_s, max_messages=10**7,
                revision_share=0.05, revision_delay_s=1.0, duplicate_share=0.01, run=run, seed=10 + n),
                timeout=60, drain=False)
            print(f"realistic, {n} consumer(s): p50 {live[n]['p50_ms']:.1f} ms, p99 {live[n]['p99_ms']:.1f} ms, "
                  f"{live[n]['fleet']['messagesPerS']} msg/s offered", flush=True)
    load_after = os.getloadavg()[0]
    report(out, live, burst, realistic_s, load_before, load_after, dsn_kind=_dsn_kind(), broker=args.broker,
           command="benchmarks/bench_central.py" + (" --quick" if args.quick else "")
           + (" --broker nats" if args.broker == "nats" else ""))
    return 0 if all(r["lost"] == 0 and r["duplicate_rows"] == 0 and r["stale_current"] == 0
                    for r in (*out.values(), *live.values())) else 1


def _dsn_kind() -> str:
    return "BX_PG_DSN" if os.environ.get("BX_PG_DSN") else "PostgreSQL 127.0.0.1:5432 (or a private cluster)"


def report(out: dict[int, dict[str, Any]], live: dict[int, dict[str, Any]], burst: int, realistic_s: float,
           load_before: float, load_after: float, dsn_kind: str, broker: str = "mosquitto",
           command: str = "benchmarks/bench_central.py") -> None:
    def row(metric: str, ours: Any, unit: str, anchor: Any = None, anchor_name: str | None = None,
            ratio: float | None = None, target: str = "") -> dict[str, Any]:
        return {"metric": metric, "ours": ours, "anchor": anchor, "anchor_name": anchor_name, "ratio": ratio,
                "unit": unit, "target": target}

    one, two = out[1]["stored_per_s"], out[2]["stored_per_s"]
    offered = statistics.mean(r["fleet"]["messagesPerS"] or 0 for r in out.values())
    rows = [
        row(f"enriched records stored/s, 1 consumer (draining a burst of {burst:,}: 5 % revisions, 1 % duplicates)",
            round(one), "records/s"),
        row("enriched records stored/s, 2 consumers ("
            + ("one shared JetStream pull consumer" if broker == "nats" else "shared subscription") + ")",
            round(two), "records/s", round(one), "1 consumer", two / one if one else None, "> 1x"),
        row("consumer CPU per record received (parse, store, acknowledge; 1 consumer)",
            round(out[1]["consumer_cpu_ms_per_record"], 3), "ms"),
        row("implied by that CPU time: records/s one consumer stores on a free core (PostgreSQL's own "
            "CPU not counted)", round(1000 / out[1]["consumer_cpu_ms_per_record"]), "records/s"),
        row("fleet publish rate during the burst (for reference)", round(offered), "msg/s"),
        row(f"publish->stored p50 / p95 / p99, 200 posts x 4 lanes, 1 passage/lane/min, {realistic_s:.0f} s "
            f"({live[1]['records']} records), 1 consumer",
            f"{live[1]['p50_ms']:.1f} / {live[1]['p95_ms']:.1f} / {live[1]['p99_ms']:.1f}", "ms"),
        row(f"publish->stored p50 / p95 / p99, same load ({live[2]['records']} records), 2 consumers",
            f"{live[2]['p50_ms']:.1f} / {live[2]['p95_ms']:.1f} / {live[2]['p99_ms']:.1f}", "ms"),
        row("messages offered in the realistic phase (full mix) / enriched records among them",
            f"{live[2]['fleet']['messages']:,} / {live[2]['records']:,}", "messages"),
        row("lost (published - stored ids), all phases", sum(r["lost"] for r in (*out.values(), *live.values())),
            "records", target="0"),
        row("duplicate rows (beyond one per post, passage and revision), all phases",
            sum(r["duplicate_rows"] for r in (*out.values(), *live.values())), "rows", target="0"),
        row("passages whose current row is not their highest revision, all phases",
            sum(r["stale_current"] for r in (*out.values(), *live.values())), "passages", target="0"),
    ]
    path = RESULTS if broker == "mosquitto" else RESULTS.with_name("central_nats.json")
    path.parent.mkdir(exist_ok=True)
    where = ("Mosquitto of its own" if broker == "mosquitto" else
             "a 3-node NATS 2.9 cluster of its own (JetStream R3 file store; fleet on MQTT 3.1.1 QoS 1 to node 0, "
             "consumers on JetStream)")
    path.write_text(json.dumps({
        "benchmark": ("Central side: fleet -> Mosquitto -> shared-subscription consumers -> PostgreSQL"
                      if broker == "mosquitto" else
                      "Central side: fleet -> NATS cluster (MQTT in) -> JetStream pull consumers -> PostgreSQL"),
        "command": f".venv/bin/python {command}",
        "machine": f"{platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPUs, shared with "
                   f"other jobs (1-min load average {load_before:.1f} before, {load_after:.1f} after); {where}, "
                   f"{dsn_kind}; broker, PostgreSQL, fleet and consumers on the same cores",
        "rows": rows,
        "detail": {"capacity": out, "realistic": live},
    }, indent=2, default=str) + "\n")
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
