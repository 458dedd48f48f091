"""Build a :class:`~gateway.service.gateway.Gateway` from a site configuration with the real
parts: the lane engine, the enrichment store and enricher, the MQTT intake and the publisher."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gateway.config import SiteConfig
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.store import Store
from gateway.history.late import LateData
from gateway.history.store import HistoryStore
from gateway.lane.engine import LaneEngine
from gateway.lane.journal import JOURNAL_DB, OpenPassages
from gateway.publishing.publisher import Publisher
from gateway.service.gateway import Gateway
from gateway.storage.files import databases
from gateway.storage.retention import RetentionJob, outbox_max_age

log = logging.getLogger(__name__)


def build(config: SiteConfig, storage_dir: Path | None = None) -> Gateway:
    directory = Path(storage_dir or config.storage.path)
    directory.mkdir(parents=True, exist_ok=True)
    store = Store.for_storage_dir(directory)
    enricher = make_enricher(store, config)
    publisher = Publisher.from_site(config)
    # Retention (gateway.storage.retention): passages through the outbox's own age bound, the rest daily.
    outbox = publisher.outbox
    outbox.max_age_s = outbox_max_age(config.storage.retention, outbox.max_age_s)
    history = HistoryStore.for_storage_dir(directory)
    gateway = Gateway(config, LaneEngine.from_site(config), enricher, publisher, asyncapi=_asyncapi,
                      history=history)
    journal = gateway.journal = OpenPassages(directory / JOURNAL_DB)  # passages a crash left open: closed at start
    gateway.on_stop.append(journal.close)  # after the shutdown closed (and removed) every open passage
    if config.decisions is not None:
        wire_decisions(gateway, config, directory)
    retention = RetentionJob(databases(config), config.storage.retention)
    gateway.on_start.append(retention.start)
    gateway.on_stop.append(retention.stop)
    if any(lane.gpo for lane in config.lanes):  # lane signals on the LLRP readers' outputs, at rest from the start
        from gateway.lane.gpo import GpoSignalSink

        gpo = gateway.gpo_signals = GpoSignalSink(config)
        if gateway.decisions is not None:  # the lane decisions drive the outputs; without, they stay at rest
            gateway.decisions.sinks.append(gpo)
        gateway.on_start.append(gpo.start)
        gateway.on_stop.append(gpo.stop)
    triggers = config.lane_engine.intake_mqtt  # lane controllers' triggers on bx/v1/in/.../lane/{lane}/trigger
    if getattr(config.enrichment, "intake_mqtt", False) or triggers:
        from gateway.enrichment.mqtt_intake import MqttIntake

        intake = MqttIntake.from_config(store, config, on_trigger=gateway.submit if triggers else None)
        intake.on_refused = lambda kind, count: gateway.metrics.intake_errors.labels("mqtt", kind).inc(count)
        gateway.on_start.append(intake.start)
        gateway.on_stop.append(intake.stop)
    # Late data (gateway.history.late): a record stored after a passage closed re-enriches it
    late = gateway.late = LateData(history, store, lambda: gateway.enricher, publisher, clock=gateway.clock)
    late.on_revision.append(gateway.on_revision)
    desk = gateway.decisions
    if desk is not None:  # a re-enriched passage is decided again: central outcomes and its new flags
        late.decide = desk.late_result
        desk.on_signal.append(lambda s: gateway.record_history(s.passage_id, "signal", s.since, f"signal:{s.source}",
                                                               s.as_json()) if s.passage_id else None)
    gateway.on_start.append(late.start)
    gateway.on_stop.append(late.stop)
    gateway.on_stop.append(history.close)  # last: what the other hooks recorded is committed first
    return gateway


def wire_decisions(gateway: Gateway, config: SiteConfig, directory: Path) -> None:
    """Central decisions back to the lane: the store, the lane desk, the MQTT lane signals and the intake."""
    from gateway.decisions.desk import DecisionDesk
    from gateway.decisions.intake import DecisionIntake
    from gateway.decisions.signals import MqttSignalSink
    from gateway.decisions.store import DecisionStore

    cfg = config.decisions
    assert cfg is not None
    store = DecisionStore.for_storage_dir(directory)
    lanes = [lane.id for lane in config.lanes]
    desk = gateway.decisions = DecisionDesk(cfg, store, lanes)
    gateway.api_ctx.decisions = store
    gateway.api_ctx.submit_decision = gateway.submit_decision
    base_id = config.mqtt.client_id or f"bx-{config.site}-{config.gateway}"
    if cfg.signals.mqtt:
        sink = MqttSignalSink(config.mqtt, base_client_id=base_id, topic=gateway.publisher.topics.lane_signal,
                              lanes=lanes)
        desk.sinks.append(sink)
        gateway.on_start.append(sink.start)
        gateway.on_stop.append(sink.stop)
    if cfg.intake_mqtt:
        intake = DecisionIntake(store, config.mqtt, site=config.site, gateway=config.gateway, offices=cfg.offices,
                                on_stored=gateway.submit_decision, client_id=f"{base_id}-decisions")
        intake.on_refused = lambda count: gateway.metrics.intake_errors.labels("mqtt", "decisions").inc(count)
        gateway.decision_intake = intake
        gateway.api_ctx.decision_ack = lambda ack: intake.publish_ack(ack, error_topic=False)
        gateway.on_start.append(intake.start)
        gateway.on_stop.append(intake.stop)
    gateway.on_stop.append(store.close)


def make_enricher(store: Store, config: SiteConfig) -> Enricher:
    """The enrichment of a configuration (its flag rules and routing files are read now): at start-up and
    at each reload (:mod:`gateway.service.reload`)."""
    return Enricher(store, config.enrichment)


def _asyncapi() -> dict[str, Any]:
    """The committed AsyncAPI document (a test keeps it equal to what the code generates)."""
    import json
    from importlib import resources

    text = resources.files("gateway.publishing").joinpath("schemas/asyncapi.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
