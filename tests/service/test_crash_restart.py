"""A passage interrupted by a crash is closed (issue #22 item 8).

``border-gateway run`` runs as a child process against an LLRP reader simulator (tags always in the
field: the passage stays open) and the test's own Mosquitto.  It is killed with SIGKILL while its passage
is open (after its ``new`` and an ``update`` went out), then started again on the same storage: the
journal of open passages makes it close the old passage with reason ``restart`` and publish its end
event, observation and enriched record.  The consumer ends up with an ``end`` for every ``new``,
correlated by passage id.  No wall-clock time is asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.lane.journal import JOURNAL_DB
from gateway.service.broker import LOOPBACK
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.tag_world import TagWorld
from tests.publishing.support import Received, Subscriber
from tests.service.test_run_service import SITE, Service, _clear_retained, site_config
from tests.support.brokers import SharedBroker


class Reader:
    """An LLRP simulator with three tags always in the field, its asyncio loop on a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llrp-crash-sim", daemon=True)
        self.thread.start()
        self.sim = LLRPReaderSimulator(TagWorld.steady("llrp-crash", tags=3, rate=30.0), "llrp-crash")
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def reader() -> Iterator[Reader]:
    r = Reader()
    try:
        yield r
    finally:
        r.stop()


def lifecycle(messages: list[Received]) -> list[dict[str, Any]]:
    """The passage lifecycle events on the lane's ops topic, in arrival order."""
    out = []
    for m in messages:
        if m.topic.endswith("/lane/lane1/passage") and m.payload:
            data = json.loads(m.payload).get("data", {})
            if "kind" in data:
                out.append(data)
    return out


def ids(events: list[dict[str, Any]], kind: str) -> list[str]:
    return [e["passage"]["id"] for e in events if e["kind"] == kind]


def test_a_passage_open_at_kill_9_is_closed_with_reason_restart(reader: Reader, mqtt_broker: SharedBroker,
                                                                tmp_path: Path) -> None:
    gateway = f"gw-crash-{os.getpid()}"
    storage = tmp_path / "data"
    config = site_config(gateway, mqtt_broker, storage, [
        {"id": "llrp-crash", "url": f"llrp://{LOOPBACK}:{reader.sim.port}?antennas=1",
         "antennas": {1: {"zone": "portal"}}}])
    config["lane_engine"] = {"passage_quiet_s": 30.0, "passage_max_s": 3600.0, "min_reads": 1,
                             "update_interval_s": 0.5}
    consumer = Subscriber(mqtt_broker.host, mqtt_broker.port, f"bx/v1/+/{SITE}/{gateway}/#",
                          client_id=f"{gateway}-consumer").start()
    first = Service(config, tmp_path).start()
    second: Service | None = None
    try:
        # The truck's passage is open and has been updated: the gateway dies without closing it.
        messages = consumer.wait_for(lambda ms: len(ids(lifecycle(ms), "update")) >= 1, timeout=90)
        assert ids(lifecycle(messages), "update"), first.output()
        [crashed] = ids(lifecycle(messages), "new")
        first.process.kill()  # SIGKILL: no shutdown, no `end`
        first.process.wait(10)
        first.log.close()
        with sqlite3.connect(storage / JOURNAL_DB) as db:
            assert [row[0] for row in db.execute("SELECT id FROM open_passages")] == [crashed]
        time.sleep(0.5)  # anything published before the kill has reached the consumer
        assert crashed not in ids(lifecycle(consumer.messages), "end")

        # Restart on the same storage: the crashed passage ends with reason restart, through the normal path.
        (tmp_path / "second").mkdir()
        second = Service(config, tmp_path / "second").start()
        messages = consumer.wait_for(lambda ms: crashed in ids(lifecycle(ms), "end"), timeout=90)
        ended = [e["passage"] for e in lifecycle(messages) if e["kind"] == "end" and e["passage"]["id"] == crashed]
        assert len(ended) == 1, lifecycle(messages)
        assert ended[0]["closeReason"] == "restart" and ended[0]["state"] == "closed"
        updates = [e["passage"]["counts"] for e in lifecycle(messages)
                   if e["kind"] == "update" and e["passage"]["id"] == crashed]
        assert ended[0]["counts"].get("sgtin", 0) >= max(c.get("sgtin", 0) for c in updates) >= 1  # kept by the journal

        def published_for(suffix: str) -> Any:
            return lambda ms: any(m.topic.endswith(suffix) and crashed.encode() in m.payload for m in ms)

        messages = consumer.wait_for(published_for("/enriched/lane1"), timeout=30)
        assert published_for("/observation/lane1")(messages), second.output()
        assert published_for("/enriched/lane1")(messages), second.output()

        # The same truck, still in the field, gets a new passage; a clean stop ends it (reason shutdown).
        consumer.wait_for(lambda ms: len(ids(lifecycle(ms), "new")) >= 2, timeout=60)
        assert second.terminate() == 0, second.output()
        final = consumer.wait_for(
            lambda ms: set(ids(lifecycle(ms), "new")) <= set(ids(lifecycle(ms), "end")), timeout=30)
        events = lifecycle(final)
        news, ends = ids(events, "new"), ids(events, "end")
        assert len(news) == 2 and set(news) <= set(ends), events  # every `new` has its `end`
        assert sorted(ends) == sorted(set(ends))  # ... exactly one
        with sqlite3.connect(storage / JOURNAL_DB) as db:
            assert list(db.execute("SELECT id FROM open_passages")) == []  # a clean stop leaves nothing
        assert "Traceback" not in second.output()
    finally:
        first.kill()
        if second is not None:
            second.kill()
        consumer.stop()
        _clear_retained(mqtt_broker, gateway)
