"""Build a :class:`~gateway.service.gateway.Gateway` from a site configuration with the real
parts: the lane engine, the enrichment store and enricher, the MQTT intake and the publisher."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gateway.config import SiteConfig
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.result import EnrichmentResult
from gateway.enrichment.store import Store
from gateway.lane.engine import LaneEngine
from gateway.lane.passage import Passage, PassageEvent
from gateway.publishing.publisher import Publisher
from gateway.reads import SourceStatus
from gateway.service.gateway import Gateway
from gateway.service.views import passage_view
from gateway.storage.files import databases
from gateway.storage.retention import RetentionJob, outbox_max_age

log = logging.getLogger(__name__)


class PublisherPort:
    """The publisher as the gateway uses it: results in, health and outbox state out."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def start(self) -> None:
        self.publisher.start()

    def stop(self, flush_timeout: float) -> None:
        self.publisher.stop(flush_timeout)

    def publish_passage_event(self, event: PassageEvent) -> None:
        self.publisher.publish_passage_event(event)

    def publish_passage_end(self, event: PassageEvent, result: Any) -> None:
        """The end event with the observation (``result`` None: enrichment failed) or the enriched record."""
        self.publisher.publish_passage_end(event, result)

    def publish_source_status(self, status: SourceStatus) -> None:
        self.publisher.publish_source_status(status.source, status.state, status.detail)

    def outbox_state(self) -> dict[str, Any]:
        outbox = self.publisher.outbox
        stats = outbox.stats
        return {"depth": outbox.depth(), "oldest_age_s": round(outbox.oldest_age(), 3),
                "rejected_by_broker": self.publisher.rejected_by_broker, "degraded": self.publisher.degraded,
                # the outbox's bounds at work (mqtt.outbox.when_full / max_age_s): never silent
                "dropped": stats.dropped_full + stats.dropped_age + stats.rejected,
                "dropped_full": stats.dropped_full, "dropped_age": stats.dropped_age, "refused_full": stats.rejected}

    @property
    def connected(self) -> bool:
        return self.publisher.link.connected.is_set()


def result_view(passage: Passage, result: EnrichmentResult | None) -> dict[str, Any]:
    """A closed passage with what the dashboard shows of its enrichment (keys, MRNs, flag codes)."""
    view = passage_view(passage)
    if result is None:
        view.update(declarations=[], flags=[], routing=[], enrichment="failed")
        return view
    view["declarations"] = [ref.mrn for ref in result.declaration_refs]
    view["flags"] = [{"code": f.code, "severity": f.severity, "rule": f"{f.rule.id}@{f.rule.version}",
                      "message": f.message} for f in result.flags]
    view["routing"] = [{"agency": r.agency, "expected_docs": r.expected_docs, "present": r.present}
                       for r in result.routing]
    view["matches"] = {m.key: m.status for m in result.identifiers}
    return view


def build(config: SiteConfig, storage_dir: Path | None = None) -> Gateway:
    directory = Path(storage_dir or config.storage.path)
    directory.mkdir(parents=True, exist_ok=True)
    store = Store.for_storage_dir(directory)
    enricher = Enricher(store, config.enrichment)
    publisher = Publisher.from_site(config)
    # Retention (gateway.storage.retention): passages through the outbox's own age bound, the rest daily.
    outbox = publisher.outbox
    outbox.max_age_s = outbox_max_age(config.storage.retention, outbox.max_age_s)
    gateway = Gateway(config, LaneEngine.from_site(config), enricher, PublisherPort(publisher), store=store,
                      result_view=result_view, asyncapi=_asyncapi)
    retention = RetentionJob(databases(config), config.storage.retention)
    gateway.on_start.append(retention.start)
    gateway.on_stop.append(retention.stop)
    if getattr(config.enrichment, "intake_mqtt", False):
        from gateway.enrichment.mqtt_intake import MqttIntake

        intake = MqttIntake.from_config(store, config)
        gateway.on_start.append(intake.start)
        gateway.on_stop.append(intake.stop)
    return gateway


def _asyncapi() -> dict[str, Any]:
    """The committed AsyncAPI document (a test keeps it equal to what the code generates)."""
    import json
    from importlib import resources

    text = resources.files("gateway.publishing").joinpath("schemas/asyncapi.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
