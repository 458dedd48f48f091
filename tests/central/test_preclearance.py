"""The pre-clearance simulator in process (as the demo embeds it) against a real Mosquitto and PostgreSQL,
fed with what the real gateway publishes for the demo scenario: pre-arrival decisions for the pre-lodged
declarations on the office topic, post-passage decisions on the gateway's intake, every payload a valid
``bx.decision.v1``, a bad message skipped and counted, and the CLI's bad options as one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.decisions.model import Decision, DecisionTopics
from gateway.service.broker import MosquittoBroker
from simulators.fleet.sample import capture
from simulators.preclearance import PreclearanceConfig, PreclearanceSimulator, Rules
from tests.central.helpers import Listener, publisher, send

ROOT = Path(__file__).resolve().parents[2]
DECLARATIONS = ROOT / "config" / "demo-data" / "declarations.json"
APPLES, BEEF, BISCUITS = "25DE0040560000001A", "25DE0040560000002A", "25DE0040560000003A"
MOVEMENT, MISMATCH = "25DE0040560000006A", "25DE0040560000007A"  # the demo's trucks 6 and 7 (issue 17)
OFFICE_TOPIC = DecisionTopics("bx/v1", "-", "-").office_intake("DE004056")
GATEWAY_TOPIC = DecisionTopics("bx/v1", "demo-post", "gw-demo").intake


@pytest.fixture
def broker(private_broker: Callable[..., MosquittoBroker]) -> MosquittoBroker:
    return private_broker()


@pytest.fixture
def decisions(broker: MosquittoBroker) -> Iterator[Listener]:
    listener = Listener(broker.host, broker.port, "bx/v1/in/#")
    yield listener
    listener.close()


def _decided(got: list[tuple[str, bytes]]) -> list[tuple[str, Decision]]:
    return [(topic, Decision.model_validate_json(payload)) for topic, payload in got]


def test_decisions_before_arrival_and_after_the_passage(broker: MosquittoBroker, decisions: Listener,
                                                        postgres_dsn: str, pg_schema: str) -> None:
    sim = PreclearanceSimulator(PreclearanceConfig(
        mqtt_url=broker.url, group="t-decide", declarations=(DECLARATIONS,), defer=frozenset({BISCUITS}),
        rules=Rules(seed=3, random_inspection=0.0), store_dsn=postgres_dsn, store_schema=pg_schema))
    sim.start()
    try:
        # before arrival: apples (plant health, certificate referenced) and beef (no CHED-P); biscuits deferred;
        # trucks 6 and 7 (brake discs, no agency) released
        assert decisions.wait_for(lambda got: len(got) >= 6)
        before = {(d.mrn, d.agency): d.outcome for topic, d in _decided(decisions.got) if topic == OFFICE_TOPIC}
        assert before == {(APPLES, "PHYTO"): "documentary-check", (APPLES, "CUSTOMS"): "release",
                          (BEEF, "VET"): "physical-inspection", (BEEF, "CUSTOMS"): "release",
                          (MOVEMENT, "CUSTOMS"): "release", (MISMATCH, "CUSTOMS"): "release"}
        assert all(d.office == "DE004056" for _t, d in _decided(decisions.got))

        sample = capture(seed=5)
        client = publisher(broker.host, broker.port)
        client.publish("bx/v1/customs/demo-post/gw-demo/enriched/lane1", b"not json", qos=1).wait_for_publish(5)
        send(client, [m for p in sample.passages for m in p.messages])  # the gateway's whole traffic
        flagged = [p.passage_id for p in sample.passages if any(m.kind == "flag" for m in p.messages)]

        def after_done(got: list[tuple[str, bytes]]) -> bool:
            subjects = {d.passage_id or d.mrn for t, d in _decided(got) if t == GATEWAY_TOPIC}
            return set(flagged) | {BISCUITS} <= subjects

        assert decisions.wait_for(after_done), _decided(decisions.got)
        after = [d for topic, d in _decided(decisions.got) if topic == GATEWAY_TOPIC]
        inspected = {d.passage_id: d for d in after if d.passage_id}
        assert set(inspected) == set(flagged)
        assert {d.outcome for d in inspected.values()} <= {"physical-inspection", "hold"}
        assert all(d.location and d.reason_codes and d.agency == "CUSTOMS" for d in inspected.values())
        late = {(d.agency, d.outcome) for d in after if d.mrn == BISCUITS}
        assert ("CUSTOMS", "release") in late  # a late declaration decided after its passage, by MRN
        assert not any(d.mrn in (APPLES, BEEF, MOVEMENT, MISMATCH) for d in after)  # decided before: not again

        decided = len(decisions.got)
        send(client, [m for p in sample.passages for m in p.messages if m.kind == "enriched"])  # redelivered
        client.disconnect()
        deadline = time.monotonic() + 20
        while sim.snapshot().get("duplicates", 0) < len(sample.passages) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a decision, were one sent, would have arrived
        assert len(decisions.got) == decided  # the same records again: nothing new is decided
        stats = sim.snapshot()
        assert stats["rejected"] == 1 and stats["stored"] == len(sample.passages)
        assert stats["duplicates"] == len(sample.passages)
        assert stats["decisions"] == len(decisions.got) == sim.store.counts()["decisions"]  # type: ignore[union-attr]
    finally:
        sim.stop()


def test_via_office_sends_post_passage_decisions_to_the_office_topic(broker: MosquittoBroker,
                                                                    decisions: Listener) -> None:
    sim = PreclearanceSimulator(PreclearanceConfig(
        mqtt_url=broker.url, group="t-office", via_office=True, office="DE004056", decision_delay_s=0.3,
        rules=Rules(random_inspection=1.0)))
    sim.start()
    try:
        sample = capture(seed=5)
        client = publisher(broker.host, broker.port)
        send(client, [m for m in sample.passages[0].messages if m.kind == "enriched"])
        client.disconnect()
        assert decisions.wait_for(lambda got: len(got) >= 2)  # plant health and customs, after the delay
        decided = _decided(decisions.got)
        assert {topic for topic, _d in decided} == {OFFICE_TOPIC}
        assert all(d.office == "DE004056" for _t, d in decided)
        customs = [d for _t, d in decided if d.agency == "CUSTOMS"]
        assert [(d.outcome, d.reason_codes) for d in customs] == [("physical-inspection", ["RANDOM"])]
    finally:
        sim.stop()


@pytest.mark.parametrize(("argv", "message"), [
    (["--to", "nogateway"], "expected SITE/GATEWAY"),
    (["--declarations", "/nonexistent.json"], "no such file"),
    (["--mqtt-url", "mqtt://127.0.0.1:1"], "cannot connect"),
    (["--store", "postgresql://127.0.0.1:1/none"], "cannot connect to PostgreSQL"),
    (["--nats-url", "http://127.0.0.1:4222"], "NATS URL must look like nats://host:port"),
    (["--nats-url", "nats://127.0.0.1:1", "--store-only"], "cannot connect"),
])
def test_cli_bad_options_are_one_line(argv: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "preclearance", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (1, 2) and not done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("border-gateway simulate preclearance: ") and message in lines[0]


def test_declarations_lodged_later_are_decided_at_the_next_rescan(broker: MosquittoBroker, decisions: Listener,
                                                                  tmp_path: Path) -> None:
    records = json.loads(DECLARATIONS.read_text(encoding="utf-8"))
    lodged = tmp_path / "declarations.json"
    lodged.write_text(json.dumps(records[:1]), encoding="utf-8")
    sim = PreclearanceSimulator(PreclearanceConfig(
        mqtt_url=broker.url, group="t-rescan", declarations=(lodged,), rescan_s=0.2,
        prelodged_to=(("demo-post", "gw-demo"),), rules=Rules(random_inspection=0.0)))
    sim.start()
    try:
        assert decisions.wait_for(lambda got: len(got) >= 2)  # apples: plant health and customs
        lodged.write_text(json.dumps([*records, {"not": "a declaration"}]), encoding="utf-8")  # four more, one bad
        assert decisions.wait_for(lambda got: {d.mrn for _t, d in _decided(got)} == {APPLES, BEEF, BISCUITS, MOVEMENT,
                                                                                     MISMATCH})
        assert {topic for topic, _d in _decided(decisions.got)} == {GATEWAY_TOPIC}
        assert len(decisions.got) == len({d.decision_id for _t, d in _decided(decisions.got)})  # none twice
    finally:
        sim.stop()
