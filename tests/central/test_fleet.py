"""``border-gateway simulate fleet`` against a real Mosquitto: bounded by count, the real gateway's payloads
with ids varied per post, lane and passage, and the enriched records still valid against the contract."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from gateway.publishing.payloads import CloudEvent, EnrichedData
from gateway.service.broker import MosquittoBroker
from simulators.fleet import Fleet, FleetConfig
from tests.central.helpers import Listener

ROOT = Path(__file__).resolve().parents[2]


def test_fleet_cli_is_bounded_and_sends_the_gateway_payloads(private_broker: Callable[..., MosquittoBroker]) -> None:
    broker = private_broker()
    listener = Listener(broker.host, broker.port, "bx/v1/#")
    try:
        done = subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "fleet", "--mqtt-url", broker.url,
                               "--posts", "5", "--lanes", "4", "--interval", "0", "--max-messages", "300",
                               "--duration", "20", "--duplicate-share", "0.2", "--run", "t1"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])["fleet"]
        assert summary["messages"] == 300 == summary["acked"]
        assert listener.wait_for(lambda got: len(got) >= 300)
    finally:
        listener.close()
    got = listener.got
    assert len(got) == 300
    kinds = Counter(topic.split("/")[2] for topic, _p in got)
    assert set(kinds) >= {"ops", "customs", "sps"}
    posts = {topic.split("/")[3] for topic, _p in got}
    assert posts == {f"fleet-{n:03d}" for n in range(1, 6)}
    enriched = [(t, CloudEvent[EnrichedData].model_validate_json(p)) for t, p in got if "/enriched/" in t]
    ids = Counter(e.id for _t, e in enriched)
    assert len(ids) == summary["passages"] + summary["revisions"]
    assert sum(ids.values()) - len(ids) == summary["duplicates"]
    # passage ids are per gateway, as the lane engine makes them: (post, passage id) is the passage
    assert len({(t.split("/")[3], e.data.passage.id) for t, e in enriched}) == summary["passages"]
    for topic, payload in got:
        if "/enriched/" in topic:
            event = json.loads(payload)
            lane = topic.rsplit("/", 1)[1]
            assert event["data"]["passage"]["lane"] == lane and event["data"]["passage"]["id"].startswith(lane)
            assert event["data"]["provenance"]["gatewayId"] == "gw-1"


def test_fleet_plan_mixes_like_the_gateway() -> None:
    """Without a broker: the first messages of 200 posts x 4 lanes at realistic rates, per kind."""
    plan = Fleet(FleetConfig(posts=200, lanes=4, interval_s=60, max_messages=2000, seed=2)).plan()
    kinds = Counter(m.kind for m in plan)
    assert kinds["enriched"] == kinds["observation"] > 0
    assert kinds["passage"] > kinds["enriched"]
    assert all(not m.retain for m in plan if m.kind != "lane-state")
    assert all(m.retain for m in plan if m.kind == "lane-state")
