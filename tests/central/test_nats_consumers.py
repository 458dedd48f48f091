"""Consumers on the 3-node NATS cluster (JetStream + MQTT): NATS's MQTT listener has no shared
subscriptions, so the members of ``simulate preclearance --nats-url`` share one JetStream durable pull
consumer over a stream on ``bx.v1.customs.*.*.enriched.*``, the subjects the gateways' MQTT publishes land
on.  Two member processes store every enriched record exactly once, including the records a third member
had fetched and not acknowledged when it was killed (redelivered after ``--ack-wait``; the store's ids
make a second delivery harmless); revisions sent out of order leave each passage's current row at its
highest revision.  Real nats-server x 3, real PostgreSQL, real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from simulators.fleet import Fleet, FleetConfig
from tests.central.helpers import ce_id, enriched_revisions, publisher, send
from tests.support.nats import NatsCluster, NatsMissing, nats_binary, nats_cluster

ROOT = Path(__file__).resolve().parents[2]
GROUP, STREAM = "central-nats", "BX_TEST"


@pytest.fixture
def nats3(tmp_path: Path) -> Iterator[NatsCluster]:
    pytest.importorskip("nats", reason="nats-py is not installed (extra 'dev' or 'central')")
    try:
        nats_binary()
    except NatsMissing as exc:
        pytest.skip(str(exc))
    with nats_cluster(3, tmp_path / "nats") as cluster:
        yield cluster


def _member(cluster: NatsCluster, dsn: str, schema: str, name: str) -> subprocess.Popen[str]:
    member = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "simulate", "preclearance", "--nats-url", ",".join(cluster.nats_urls),
         "--nats-stream", STREAM, "--nats-replicas", "3", "--ack-wait", "2", "--store", dsn, "--schema", schema,
         "--store-only", "--group", GROUP, "--client-id", name],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert member.stdout is not None
    line = member.stdout.readline()
    assert line.startswith(f"subscribed bx.v1.customs.*.*.enriched.* (JetStream {STREAM}, consumer {GROUP}) on "
                           "nats://"), (line, member.stderr.read() if member.poll() is not None and member.stderr
                                        else "")
    return member


def _ack_pending(cluster: NatsCluster) -> int:
    """Messages the group's members hold unacknowledged (JetStream consumer info)."""
    import nats

    async def ask() -> int:
        nc = await nats.connect(cluster.nats_urls[1])
        try:
            info = await nc.jetstream().consumer_info(STREAM, GROUP)
            return int(info.num_ack_pending or 0)
        finally:
            await nc.close()

    return asyncio.run(ask())


def _wait_rows(conn: psycopg.Connection[tuple[int]], schema: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(f"SELECT count(*) FROM {schema}.enriched").fetchone()
        if row is not None and int(row[0]) >= expected:
            break
        time.sleep(0.1)
    time.sleep(2.5)  # longer than --ack-wait: a redelivered straggler would show as an extra row below


def test_two_jetstream_members_store_each_record_once_even_after_a_member_is_killed(
        nats3: NatsCluster, postgres_dsn: str, pg_schema: str) -> None:
    mqtt_url = nats3.mqtt_urls[0]
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    passages = enriched_revisions()
    plan = []
    for i, (r1, r2, r3) in enumerate(passages):
        plan += [r3, r1, r2] if i % 2 == 0 else [r1, r2, r3, r2]  # out of order; a duplicate r2
    half = len(plan) // 2
    members: list[subprocess.Popen[str]] = []
    victim = _member(nats3, postgres_dsn, pg_schema, "victim")  # creates the stream, the consumer, the schema
    try:
        with psycopg.connect(postgres_dsn) as lock:
            # the victim's inserts wait behind this lock: it holds fetched records, none stored or acknowledged
            lock.execute(f"LOCK TABLE {pg_schema}.enriched IN EXCLUSIVE MODE")
            client = publisher(host, int(port), protocol="3.1.1")
            send(client, plan[:half])
            first = Fleet(FleetConfig(posts=10, lanes=4, interval_s=0, duration_s=30, max_messages=400,
                                      only=frozenset({"enriched"}), revision_share=0.1, revision_delay_s=0.0,
                                      duplicate_share=0.05, run="nk1", seed=1)).run(mqtt_url, "3.1.1",
                                                                                    track_enriched=True)
            deadline = time.monotonic() + 20
            while (held := _ack_pending(nats3)) == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert held > 0, "the victim fetched nothing"
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            lock.rollback()
        members = [_member(nats3, postgres_dsn, pg_schema, f"member-{n}") for n in (1, 2)]
        second = Fleet(FleetConfig(posts=10, lanes=4, interval_s=0, duration_s=30, max_messages=1200,
                                   only=frozenset({"enriched"}), revision_share=0.1, revision_delay_s=0.0,
                                   duplicate_share=0.05, run="nk2", seed=2)).run(mqtt_url, "3.1.1",
                                                                                 track_enriched=True)
        send(client, plan[half:])
        client.disconnect()
        ids = {ce_id(m) for m in plan} | set(first.sent) | set(second.sent)
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            _wait_rows(conn, pg_schema, len(ids), timeout=60)
            rows = conn.execute(f"SELECT ce_id, consumer FROM {pg_schema}.enriched").fetchall()
            current: dict[str, int] = dict(conn.execute(
                f"SELECT passage_id, revision FROM {pg_schema}.passage WHERE site = 'demo-post'").fetchall())
        stored = [r[0] for r in rows]
        assert len(stored) == len(set(stored)), "a CloudEvents id stored twice"
        assert set(stored) == ids, f"lost {len(ids - set(stored))}, unexpected {len(set(stored) - ids)}"
        by = {r[1] for r in rows}
        assert by == {"member-1", "member-2"}, by  # the pull consumer split the work; the victim stored nothing
        assert len(current) == len(passages) and set(current.values()) == {3}
    finally:
        summaries = []
        for member in members:
            member.terminate()
            out, _err = member.communicate(timeout=30)
            summaries.append(json.loads(out.strip().splitlines()[-1])["preclearance"])
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)
    received = sum(s.get("received", 0) for s in summaries)
    duplicates = sum(s.get("duplicates", 0) for s in summaries)
    # every message published reached a surviving member (the victim's share a second time; a redelivery
    # after a slow commit is possible too): whatever came more than once was a no-op
    assert received >= len(plan) + first.messages + second.messages
    assert duplicates == received - len(ids)
