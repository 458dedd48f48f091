"""What one real gateway publishes, captured offline: the fleet's templates (the only publisher adapter).

The demo scenario (``config/scenarios/demo.yaml``, the demo data of ``config/demo-data/``) is played
through the real lane engine, the real enricher and the real :class:`~gateway.publishing.publisher.Publisher`
on a virtual clock, as :func:`gateway.service.demo.offline_summary` does; the publisher is never
started, so every message stays in its outbox, and is read back from there exactly as it would go on
the wire: topic, payload bytes, QoS, retain flag and MQTT 5 properties.  Messages are grouped per
passage, in publishing order.  ``revisions`` > 1 re-publishes each enriched record that many times
(``publish_enriched`` again: the real re-enrichment path, revision ``r2``, ``r3`` ...).

This module is the one place that calls the publisher (and its MQTT 5 property packing): when the
publishing package changes its internals, only this file follows.

>>> sample = capture(seed=5)
>>> sample.site, sample.gateway, sorted(sample.lanes)
('demo-post', 'gw-demo', ['lane1', 'lane2'])
>>> kinds = {m.kind for p in sample.passages for m in p.messages}
>>> sorted(kinds)[:4]
['enriched', 'flag', 'lane-state', 'observation']
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: epoch second of the replay's start (as offline_summary: inside every demo batch's validity)
T0 = 1_767_225_600.0


@dataclass(frozen=True, slots=True)
class SampleMessage:
    """One publication as the gateway hands it to the broker."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    props: Mapping[str, Any]  # the stored form of the MQTT 5 properties (see pack_properties)

    @property
    def kind(self) -> str:
        """What the message is, from its topic: passage, lane-state, observation, enriched, flag,
        referral."""
        parts = self.topic.split("/")
        if parts[2] == "ops":
            return "lane-state" if parts[-1] == "state" else "passage"
        return parts[-2]  # customs/{site}/{gw}/{kind}/{lane|severity}, {agency}/{site}/{gw}/referral/{lane}


@dataclass(frozen=True, slots=True)
class SamplePassage:
    lane: str
    passage_id: str
    event_hash: str | None  # None: the passage observed nothing (no customs messages)
    messages: tuple[SampleMessage, ...]  # everything its lane published for it, in order
    revisions: tuple[tuple[SampleMessage, ...], ...] = ()  # later re-enrichments (r2, r3 ...), in order


@dataclass(frozen=True, slots=True)
class Sample:
    site: str
    gateway: str
    lanes: tuple[str, ...]
    passages: tuple[SamplePassage, ...]


@lru_cache(maxsize=4)
def capture(seed: int = 5, revisions: int = 1, cycles: int = 1) -> Sample:
    """Play the demo scenario ``cycles`` times through the real gateway pipeline (see the module doc)."""
    from gateway.config import load_config
    from gateway.enrichment.enricher import Enricher
    from gateway.enrichment.store import Store
    from gateway.lane.engine import LaneEngine
    from gateway.lane.passage import PassageEvent
    from gateway.lane.replay import merge, replay
    from gateway.publishing.publisher import Publisher
    from gateway.service.demo import CONFIG, SCENARIO, _camera_id, _camera_reads, load_demo_data
    from simulators.replay import world_reads
    from simulators.scenario import load_scenario

    scenario = load_scenario(SCENARIO, seed=seed)
    config = load_config(CONFIG)
    period = scenario.repeat_s or float(scenario.world.duration or 0.0)
    end = period * cycles
    reads = merge(world_reads(scenario.world, t0=T0, t1=end),
                  _camera_reads(scenario, _camera_id(config), T0, cycles, period))
    directory = Path(tempfile.mkdtemp(prefix="bx-fleet-sample-"))
    groups: dict[str, list[SampleMessage]] = {}
    later: dict[str, list[tuple[SampleMessage, ...]]] = {}
    lanes: dict[str, str] = {}
    hashes: dict[str, str | None] = {}
    try:
        config = config.model_copy(update={"storage": config.storage.model_copy(update={"path": directory})})
        with Store.for_storage_dir(directory) as store:
            load_demo_data(store, T0)
            engine, enricher = LaneEngine.from_site(config), Enricher(store, config.enrichment)
            publisher = Publisher.from_site(config)
            last = 0
            try:
                events = replay(engine, reads, until=T0 + end, tick_every=0.2, start=T0)
                events += engine.close_all(T0 + end)
                for event in events:
                    if not isinstance(event, PassageEvent):
                        continue
                    passage = event.passage
                    lanes[passage.id] = passage.lane
                    if event.kind != "end":
                        publisher.publish_passage_event(event)
                        last = _take(publisher, last, groups.setdefault(passage.id, []))
                        continue
                    result = enricher.enrich(passage, event.time)
                    customs_id = publisher.publish_passage_end(event, result)
                    last = _take(publisher, last, groups.setdefault(passage.id, []))
                    hashes[passage.id] = customs_id.split("#", 1)[0] if customs_id else None
                    for _ in range(revisions - 1):
                        if customs_id is None:
                            break
                        publisher.publish_enriched(passage, result)
                        again: list[SampleMessage] = []
                        last = _take(publisher, last, again)
                        later.setdefault(passage.id, []).append(tuple(again))
            finally:
                publisher.outbox.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    passages = tuple(SamplePassage(lanes[pid], pid, hashes.get(pid), tuple(messages), tuple(later.get(pid, ())))
                     for pid, messages in groups.items() if pid in hashes)
    return Sample(config.site, config.gateway, tuple(lane.id for lane in config.lanes), passages)


def _take(publisher: Any, after: int, into: list[SampleMessage]) -> int:
    """Move the outbox rows written since row ``after`` into ``into``; returns the last row id."""
    for row in publisher.outbox.pending(after, 10_000):
        into.append(SampleMessage(row.topic, row.payload, row.qos, row.retain, dict(row.props)))
        after = row.id
    return after


def pack_properties(props: Mapping[str, Any]) -> Any:
    """paho PUBLISH properties from the stored form, packed once (as the gateway's sender does)."""
    from gateway.publishing.mqtt_client import PackedProperties, pack_publish_properties

    return PackedProperties(pack_publish_properties(props))
