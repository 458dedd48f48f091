"""Late data on a real Mosquitto: a declaration lodged over the MQTT intake after the truck passed
re-enriches the closed passage and publishes revision 2 of its enriched record (same event hash), an
amended version revision 3, also after a restart of the service; outside the late window nothing changes."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.config import load_config
from gateway.service.gateway import Gateway
from gateway.service.wiring import build
from tests.enrichment.helpers import declaration, item, sscc
from tests.history.test_history_api import pass_truck, site, stop
from tests.publishing.support import Subscriber
from tests.support.brokers import SharedBroker

INTAKE = "bx/v1/in/test-post/gw-hist/declarations"
ENRICHED = "bx/v1/customs/test-post/gw-hist/enriched/#"
STATE = "bx/v1/ops/test-post/gw-hist/lane/lane1/state"


def start(gateway: Gateway) -> Gateway:
    gateway.publisher.start()
    for hook in gateway.on_start:
        hook()
    return gateway


def records(sub: Subscriber) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in sub.messages]


def wait_revision(sub: Subscriber, pid: str, revision: int) -> dict[str, Any]:
    def found(_: Any) -> bool:
        return any(r["data"]["passage"]["id"] == pid and r["data"]["revision"] == revision for r in records(sub))
    sub.wait_for(found, timeout=20)
    matching = [r for r in records(sub) if r["data"]["passage"]["id"] == pid and r["data"]["revision"] == revision]
    assert matching, f"no revision {revision}: {[(r['id'], r['data']['revision']) for r in records(sub)]}"
    return matching[0]


def lodge(broker: SharedBroker, body: dict[str, Any]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(INTAKE, json.dumps(body), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def flag_codes(record: dict[str, Any]) -> set[str]:
    return {f["code"] for f in record["data"].get("flags", [])}


def test_a_late_declaration_and_its_amendment_publish_revisions_after_a_restart(
        tmp_path: Path, mqtt_broker: SharedBroker) -> None:
    config = load_config(site(tmp_path, mqtt_broker.url, intake_mqtt=True))
    pallet = sscc(901)
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, ENRICHED).start()
    lane = Subscriber(mqtt_broker.host, mqtt_broker.port, STATE).start()
    first = start(build(config))
    try:
        t0 = time.time() - 600  # the truck passed ten minutes ago
        pid = pass_truck(first, pallet, t0)
        r1 = wait_revision(sub, pid, 1)
        assert "NO_DECLARATION" in flag_codes(r1) and not r1["data"].get("links")
        assert first.publisher.wait_idle(10)
    finally:
        stop(first)

    seen_before = len(lane.messages)
    second = start(build(config))  # a restart: the passage comes back from the history
    try:
        event_hash = r1["id"].rpartition("#")[0]
        lodge(mqtt_broker, declaration(901, items=[item(ssccs=[pallet])], eta=iso(t0)))
        r2 = wait_revision(sub, pid, 2)
        assert r2["id"] == f"{event_hash}#customs/r2"  # the same observation, the next revision
        assert [link["mrn"] for link in r2["data"]["links"]] == ["25DE00000000000901"]
        assert "NO_DECLARATION" not in flag_codes(r2)

        amended = declaration(901, items=[item(ssccs=[pallet], description="Frozen beef, amended")], version=2,
                              eta=iso(t0))
        lodge(mqtt_broker, amended)
        r3 = wait_revision(sub, pid, 3)
        assert r3["id"] == f"{event_hash}#customs/r3"
        assert [link["mrn"] for link in r3["data"]["links"]] == ["25DE00000000000901"]

        lodge(mqtt_broker, amended)  # the same version again: unchanged, no revision
        assert second.late.wait_idle(10) and second.publisher.wait_idle(10)
        assert second.late.stats["revisions"] == 2
        story = second.history.passage_history(pid)
        assert story is not None
        enriched = [e for e in story["events"] if e["kind"] == "enriched"]
        assert [(e["body"]["revision"], e["source"]) for e in enriched] == [
            (1, "enrichment"), (2, "late:declaration-new"), (3, "late:declaration-amended")]
        assert [e["body"]["declaration_refs"][0]["version"] for e in enriched[1:]] == [1, 2]
        assert story["revision"] == 3 and story["declarations"] == ["25DE00000000000901"]
        listed = second.history.query(mrn="25DE00000000000901")
        assert [(r["id"], r["revision"]) for r in listed] == [(pid, 3)]
        assert not second.history.query(flag="NO_DECLARATION")
        time.sleep(0.3)
        assert sorted(r["data"]["revision"] for r in records(sub) if r["data"]["passage"]["id"] == pid) == [1, 2, 3]
        # after a restart the gateway does not know what the lane shows: the revisions leave its state alone
        assert [m for m in lane.messages[seen_before:] if m.payload and json.loads(m.payload).get("decision")] == []
    finally:
        stop(second)
        sub.stop()
        lane.client.publish(STATE, b"", qos=1, retain=True).wait_for_publish(5)  # no retained state left
        lane.stop()


def test_a_declaration_after_the_late_window_changes_nothing(tmp_path: Path, mqtt_broker: SharedBroker) -> None:
    config = load_config(site(tmp_path, mqtt_broker.url, intake_mqtt=True, late_window_s=3600))
    pallet = sscc(902)
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, ENRICHED).start()
    gateway = start(build(config))
    try:
        t0 = time.time() - 7200  # two hours ago: outside a one-hour window
        pid = pass_truck(gateway, pallet, t0)
        wait_revision(sub, pid, 1)
        lodge(mqtt_broker, declaration(902, items=[item(ssccs=[pallet])], eta=iso(t0)))
        deadline = time.monotonic() + 10
        while gateway.store.declaration("25DE00000000000902") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gateway.store.declaration("25DE00000000000902") is not None  # stored all the same
        assert gateway.late.wait_idle(10) and gateway.publisher.wait_idle(10)
        assert gateway.late.stats["revisions"] == 0 and gateway.late.stats["candidates"] == 0
        assert [r["data"]["revision"] for r in records(sub) if r["data"]["passage"]["id"] == pid] == [1]
        story = gateway.history.passage_history(pid)
        assert story is not None and story["revision"] == 1
        # inside the window (the same passage re-enriched now that the window is wider) it would link; the lane
        # still shows the passage (no truck since): its state takes the new decision
        lane = Subscriber(mqtt_broker.host, mqtt_broker.port, STATE).start()
        gateway.late._window_s = 3 * 3600.0
        assert [r.revision for r in gateway.late.reenrich([pid], "declaration-new")] == [2]
        states = lane.wait_for(lambda ms: any(json.loads(m.payload).get("decision") == "proceed" for m in ms
                                              if m.payload))
        shown = [json.loads(m.payload) for m in states if m.payload][-1]
        assert shown["passageId"] == pid and shown["decision"] == "proceed" and shown["occupied"] is False
        lane.client.publish(STATE, b"", qos=1, retain=True).wait_for_publish(5)
        lane.stop()
    finally:
        stop(gateway)
        sub.stop()
