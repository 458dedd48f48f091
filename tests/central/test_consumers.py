"""N = 2 consumer processes (``border-gateway simulate preclearance --store``) on one MQTT 5 shared
subscription, storing into PostgreSQL: a duplicate and out-of-order revisions are injected, and the store
ends with every CloudEvents id exactly once, every revision kept, each passage's current row at its highest
revision, and both members having done part of the work.  Real Mosquitto, real PostgreSQL, real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from gateway.service.broker import MosquittoBroker
from tests.central.helpers import ce_id, enriched_revisions, publisher, send

ROOT = Path(__file__).resolve().parents[2]


def _consumer(broker: MosquittoBroker, dsn: str, schema: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "simulate", "preclearance", "--mqtt-url", broker.url, "--store", dsn,
         "--schema", schema, "--store-only", "--group", "central-test", "--client-id", f"member-{n}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_two_members_store_each_id_once_and_keep_the_highest_revision_current(
        private_broker: Callable[..., MosquittoBroker], postgres_dsn: str, pg_schema: str) -> None:
    broker = private_broker()
    members = [_consumer(broker, postgres_dsn, pg_schema, n) for n in (1, 2)]
    try:
        for member in members:
            assert member.stdout is not None
            line = member.stdout.readline()
            assert line.startswith("subscribed $share/central-test/bx/v1/customs/+/+/enriched/+"), (
                line, member.stderr.read() if member.poll() is not None and member.stderr else "")
        passages = enriched_revisions()
        plan = []
        for i, (r1, r2, r3) in enumerate(passages):
            plan += [r3, r1, r2] if i % 2 == 0 else [r1, r2, r3, r2]  # out of order; a duplicate r2
        client = publisher(broker.host, broker.port)
        send(client, plan)
        ids = {ce_id(m) for m in plan}
        deadline = time.monotonic() + 30
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            count: tuple[int, ...] = (0,)
            while time.monotonic() < deadline:
                try:
                    count = conn.execute(f"SELECT count(*) FROM {pg_schema}.enriched").fetchone() or (0,)
                except psycopg.errors.UndefinedTable:
                    count = (0,)
                if count[0] >= len(ids):
                    break
                time.sleep(0.1)
            time.sleep(0.3)  # a straggler would show as an extra row below
            rows = conn.execute(f"SELECT ce_id, consumer FROM {pg_schema}.enriched").fetchall()
            current = dict(conn.execute(f"SELECT passage_id, revision FROM {pg_schema}.passage").fetchall())
        client.disconnect()
        assert sorted(r[0] for r in rows) == sorted(ids)  # each id once: none lost, none duplicated
        assert {r[1] for r in rows} == {"member-1", "member-2"}  # the shared subscription split the work
        assert len(current) == len(passages) and set(current.values()) == {3}
    finally:
        summaries = []
        for member in members:
            member.terminate()
            out, _err = member.communicate(timeout=30)
            summaries.append(json.loads(out.strip().splitlines()[-1])["preclearance"])
    assert sum(s.get("received", 0) for s in summaries) == len(plan)
    assert sum(s.get("duplicates", 0) for s in summaries) == len(plan) - len(ids)
