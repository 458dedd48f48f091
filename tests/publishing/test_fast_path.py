"""The publisher's fast paths give the same bytes and guarantees as the slow, obvious code they replace."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.publishing.epcis import format_time
from gateway.publishing.mqtt_client import PackedProperties, pack_publish_properties, publish_properties
from gateway.publishing.outbox import Outbox, OutboxMessage
from gateway.publishing.projections import _project, project
from tests.publishing.support import RESULT, Subscriber, make_publisher, passage
from tests.support.brokers import SharedBroker

PROPS: list[dict[str, Any]] = [
    {},
    {"utf8": False},
    {"content_type": "application/cloudevents+json; charset=utf-8", "expiry": 259_200,
     "user": [["schema", "bx.enriched.v1"], ["audience", "customs"], ["gw", "gw-ä"]], "correlation": "p-1",
     "response_topic": "bx/v1/reply/x"},
    {"expiry": 1, "user": [["k", "v" * 300]] * 60},  # property length above 127: multi-byte varint
]


@pytest.mark.parametrize("props", PROPS)
def test_packed_properties_equal_paho_encoding(props: dict[str, Any]) -> None:
    expected = publish_properties(props).pack()  # type: ignore[no-untyped-call]
    assert pack_publish_properties(props) == expected
    assert PackedProperties(pack_publish_properties(props)).pack() == expected


@settings(max_examples=300)
@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_format_time_matches_datetime(moment: float) -> None:
    reference = datetime.fromtimestamp(round(moment, 3), UTC)
    expected = reference.strftime("%Y-%m-%dT%H:%M:%S.") + f"{reference.microsecond // 1000:03d}Z"
    assert format_time(moment) == expected


def test_record_blocks_are_the_enrichment_classes_serialised(tmp_path: Path) -> None:
    """The customs record's blocks are the enrichment's own objects as pydantic serialises them (camelCase,
    no ``None``), and the enrichment's own fields (``exclude=True``) never reach the wire."""
    from gateway.enrichment import result as er

    result = er.EnrichmentResult(
        passage_id="p-1", lane="L1",
        links=[er.Link(mrn="25DE000000000123A1", version=2, key="340123450000000017", via="declared-sscc-list",
                       documents=[er.DocumentRef(type="N853", reference="CHED.1")])],
        products=[er.Product(gtin="04012345000016", brand="BrandX", batch="LOT-9", expiry="2026-01-31",
                             mrn="25DE000000000123A1", goods_item_seq=1, quantity=3.0)],
        parties=[er.Party(role="consignee", lei="5493001KJTIIGC8Y1R12", address="Street 1", mrn="25DE0001")],
        flags=[er.Flag(code="X", severity="low", rule=er.RuleRef(id="R", version="3"), mrn="25DE0001",
                       goods_item_seq=4)],
        routing=[er.Routing(agency="VET", basis="HS 02", present=False, hs6="020230", audience="sps", name="Vets",
                            documents=[er.DocumentRef(type="N853")], mrn="25DE0001", goods_item_seq=1)])
    pub = make_publisher(tmp_path)
    pub.publish_enriched(passage(), result)
    customs = next(json.loads(m.payload)["data"] for m in pub.outbox.pending(0, 100) if "/enriched/" in m.topic)
    pub.outbox.close()
    for block in ("links", "products", "parties", "flags", "routing"):
        assert customs[block] == [item.model_dump(mode="json", by_alias=True, exclude_none=True)
                                  for item in getattr(result, block)], block
    assert customs["flags"] == [{"code": "X", "severity": "low", "rule": "R@3"}]
    assert customs["links"][0] == {"mrn": "25DE000000000123A1", "key": "340123450000000017",
                                   "via": "declared-sscc-list", "documents": [{"type": "N853", "reference": "CHED.1"}],
                                   "seals": []}
    text = json.dumps(customs)
    for private in ("BrandX", "LOT-9", "2026-01-31", "5493001KJTIIGC8Y1R12", "Street 1", "25DE0001\"", "Vets",
                    "goodsItemSeq\": 4"):
        assert private not in text, private


def test_customs_projection_shortcut_equals_the_walk(tmp_path: Path) -> None:
    pub = make_publisher(tmp_path)
    pub.publish_enriched(passage(), RESULT)
    customs = next(json.loads(m.payload)["data"] for m in pub.outbox.pending(0, 100) if "/enriched/" in m.topic)
    pub.outbox.close()
    assert project(customs, "customs") == _project(customs, "", "customs", False) == customs


def _msgs(n: int, lane: str = "L1") -> list[OutboxMessage]:
    return [OutboxMessage(f"bx/v1/t/{lane}", f"{lane}-{i}".encode(), props={"expiry": 5}, lane=lane)
            for i in range(n)]


def test_take_serves_memory_then_sqlite_after_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    ids = box.put(_msgs(3))
    assert [m.id for m in box.take(0)] == ids == [1, 2, 3]
    assert [m.id for m in box.take(ids[0])] == ids[1:]  # handed rows leave memory
    box.close()
    again = Outbox(tmp_path / "o.sqlite")  # nothing acknowledged: everything replays from disk
    assert [(m.id, m.payload, m.props) for m in again.take(0)] == [(i, f"L1-{i - 1}".encode(), {"expiry": 5})
                                                                   for i in ids]
    more = again.put(_msgs(2, "L2"))
    assert [m.id for m in again.take(ids[-1])] == more == [4, 5]  # ids keep growing after a restart


def test_deferred_acks_ride_along_and_survive_nothing_extra(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.DELETE_BATCH = 2
    ids = box.put(_msgs(4))
    box.ack(ids[:3], defer=True)
    assert box.depth() == 4 and box.deferred_acks() == 3  # not deleted yet: a crash would resend them
    box.put(_msgs(1, "L2"))  # the deletion commits with this write
    assert box.depth() == 2 and box.deferred_acks() == 0 and box.stats.acked == 3
    box.ack([ids[3]], defer=True)
    box.close()  # closing commits what is left
    assert [m.payload for m in Outbox(tmp_path / "o.sqlite").pending(0)] == [b"L2-0"]


def test_counters_are_stored_with_their_messages_and_survive_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.next_count("revision:h") == 1
    box.put(_msgs(1), {"revision:h": 1})
    assert box.next_count("revision:h") == 2
    box.put(_msgs(1), {"revision:h": 2})
    assert box.next_count("revision:other") == 1  # allocated but never stored: forgotten on restart
    with pytest.raises(ValueError, match="more counters than messages"):
        box.put(_msgs(1), {"a": 1, "b": 1})
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert again.next_count("revision:h") == 3 and again.next_count("revision:other") == 1


def test_an_outbox_from_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
        payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, props TEXT NOT NULL, lane TEXT,
        created REAL NOT NULL);
        INSERT INTO outbox (topic, payload, qos, retain, props, lane, created)
        VALUES ('t', x'00', 1, 0, '{}', 'L1', 1);""")
    db.commit()
    db.close()
    box = Outbox(path)
    assert box.depth() == 1 and [m.payload for m in box.take(0)] == [b"\x00"]
    assert box.put(_msgs(1), {"k": 1}) == [2]
    box.close()


def test_group_durability_without_a_sender_commits_at_once(tmp_path: Path) -> None:
    pub = make_publisher(tmp_path)
    pub.durability = "group"
    pub.publish_enriched(passage(), RESULT)  # not started: nobody would commit later
    assert pub.outbox.depth() == 7
    pub.outbox.close()


def test_group_durability_delivers_everything_once_committed(mqtt_broker: SharedBroker, tmp_path: Path) -> None:
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, "bx/v1/customs/s1/gw-group/enriched/#").start()
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway="gw-group")
    pub.durability = "group"
    pub.start()
    try:
        assert pub.link.connected.wait(10)
        sent = [pub.publish_enriched(passage(f"p-{i}", serial=str(i)), RESULT) for i in range(50)]
        assert pub.wait_idle(20)
        got = sub.wait_for(lambda ms: len(ms) >= 50)
    finally:
        pub.stop()
        sub.stop()
    assert [json.loads(m.payload)["id"] for m in got] == sent  # all of them, in order
