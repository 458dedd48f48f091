"""Reader and camera health in the retained gateway status, on a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.publishing.contract import SCHEMA_DIR
from gateway.publishing.redact import safe_detail
from gateway.reads import SourceStatus
from tests.publishing.support import Subscriber, make_publisher
from tests.support.brokers import SharedBroker

pytestmark = pytest.mark.timeout(60)
STATUS_SCHEMA = json.loads((SCHEMA_DIR / "status.v1.json").read_text(encoding="utf-8"))


def _statuses(messages: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.payload]


def _sources_are(expected: dict[str, str]) -> Any:
    def check(messages: list[Any]) -> bool:
        bodies = _statuses(messages)
        return bool(bodies) and {k: v["state"] for k, v in (bodies[-1].get("sources") or {}).items()} == expected
    return check


def test_source_changes_are_retained_in_the_status(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    topic = "bx/v1/ops/s1/gw-src/status"
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway="gw-src")
    # the service's path: SourceStatus -> publish_source_status; before the connection, it goes with the birth
    pub.publish_source_status(SourceStatus("llrp-1", "starting"))
    pub.start()
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
    try:
        assert pub.link.connected.wait(10)
        got = sub.wait_for(_sources_are({"llrp-1": "connecting"}))
        assert _statuses(got)[-1]["reason"] in ("startup", "source")
        pub.publish_source_status(SourceStatus("llrp-1", "connected"))
        pub.publish_source_status(SourceStatus("cam-1", "starting", "rtsp://admin:pw@10.0.0.7:554/s?token=x"))
        pub.publish_source_status(SourceStatus("cam-1", "connected"))
        got = sub.wait_for(_sources_are({"llrp-1": "ok", "cam-1": "ok"}))
        # A reader reporting trouble over a live link is degraded; the detail reaches the topic
        # without the tag it was reading.
        pub.publish_source_status(SourceStatus("llrp-1", "error", "antenna 2 fault reading 3034257BF7194E4000001A85"))
        got = sub.wait_for(_sources_are({"llrp-1": "degraded", "cam-1": "ok"}))
        pub.publish_source_status(SourceStatus("cam-1", "reconnecting", "restarting in 1.0s", attempt=1))
        got = sub.wait_for(_sources_are({"llrp-1": "degraded", "cam-1": "down"}))
        # Same folded state, new detail: no new retained message.
        count = len(got)
        pub.publish_source_status(SourceStatus("cam-1", "reconnecting", "restarting in 2.0s", attempt=2))
        assert len(sub.wait_for(lambda ms: len(ms) > count, timeout=0.5)) == count
    finally:
        pub.stop()
        sub.stop()
    last = _statuses(got)[-1]
    jsonschema.validate(last, STATUS_SCHEMA)
    assert last["state"] == "online" and last["reason"] == "source"
    assert last["sources"]["llrp-1"]["detail"] == "antenna 2 fault reading [id]"
    assert last["sources"]["cam-1"]["detail"] == "restarting in 1.0s"
    assert all(entry["since"].endswith("Z") for entry in last["sources"].values())
    assert "3034257BF7194E4000001A85" not in str(_statuses(got)) and "admin" not in str(_statuses(got))
    # Retained: a late subscriber sees the gateway's shutdown status (no sources in it) ...
    late = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
    retained = late.wait_for(lambda ms: bool(ms))
    late.stop()
    assert retained[0].retain and json.loads(retained[0].payload)["state"] == "offline"


def test_a_late_subscriber_gets_the_retained_sources(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    topic = "bx/v1/ops/s1/gw-src2/status"
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway="gw-src2")
    watcher = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
    pub.start()
    try:
        assert pub.link.connected.wait(10)
        pub.publish_source_status(SourceStatus("mercury-1", "connected"))
        pub.publish_source_status(SourceStatus("mercury-1", "error", "reader status 0x0504 TEMPERATURE: too hot"))
        assert watcher.wait_for(_sources_are({"mercury-1": "degraded"}))  # the broker has it
        late = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
        got = late.wait_for(lambda ms: bool(ms))
        late.stop()
    finally:
        pub.stop()
        watcher.stop()
    assert len(got) == 1 and got[0].retain
    health = _statuses(got)[-1]["sources"]["mercury-1"]
    assert health["detail"] == "reader status 0x0504 TEMPERATURE: too hot"
    assert pub.source_health()["mercury-1"].state == "degraded"


@pytest.mark.parametrize(("driver", "previous", "folded"), [
    ("starting", None, "connecting"), ("connected", "connecting", "ok"), ("error", "ok", "degraded"),
    ("error", "degraded", "degraded"), ("error", "connecting", "down"), ("error", None, "down"),
    ("reconnecting", "ok", "down"), ("stopped", "ok", "down"), ("connected", "down", "ok"),
])
def test_driver_states_fold_into_four(driver: str, previous: str | None, folded: str) -> None:
    from gateway.reads import health

    assert health(driver, previous) == folded  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "leak"), [
    ("cannot open: rtsp://admin:s3cret@10.0.0.7:554/cam1?token=abc", "s3cret"),
    ("cannot open: rtsp://admin:s3cret@10.0.0.7:554/cam1?token=abc", "token"),
    ("tag urn:epc:id:sgtin:0614141.812345.6789 rejected", "812345"),
    ("label (00)340123450000000017 unreadable", "340123450000000017"),
    ("declaration 25DE000000000123A1 not found", "25DE000000000123A1"),
    ("consignee DE123456789012345", "DE123456789012345"),
    ("contact ops@example.org", "ops@example.org"),
    ("login failed: password=hunter2", "hunter2"),
    ("broken\x00frame\x1b[31m", "\x00"),
])
def test_details_never_carry_identifiers_or_secrets(text: str, leak: str) -> None:
    out = safe_detail(text)
    assert out is not None and leak not in out


def test_useful_detail_survives() -> None:
    for text in ("connection refused (127.0.0.1:5084)", "restarting in 12.0s", "end of input",
                 "driver failed: OSError: [Errno 111] Connection refused", "reader status 0x0504 TEMPERATURE"):
        assert safe_detail(text) == text
    assert len(safe_detail("x" * 1000) or "") <= 160
