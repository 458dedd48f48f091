"""Prometheus metrics of one gateway (served at ``/metrics``).

A registry per service instance (not the global default) so that tests can run several
gateways in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reads = Counter("bx_reads", "Raw reads received", ["source", "carrier"], registry=r)
        self.vehicle_reads = Counter("bx_vehicle_reads", "Plates and container codes read by ANPR / OCR cameras",
                                     ["source", "kind"], registry=r)
        self.read_errors = Counter("bx_read_errors", "Reads that did not decode to a GS1 key",
                                   ["source"], registry=r)
        self.source_up = Gauge("bx_source_connected", "1 when the source is connected", ["source"], registry=r)
        self.source_restarts = Counter("bx_source_restarts", "Source restarts after a failure",
                                       ["source"], registry=r)
        self.passages = Counter("bx_passages", "Passages closed", ["lane"], registry=r)
        self.flags = Counter("bx_flags", "Flags raised", ["code", "severity"], registry=r)
        self.published = Counter("bx_messages_published", "Messages acknowledged by the broker",
                                 ["topic_class"], registry=r)
        self.mqtt_connected = Gauge("bx_mqtt_connected", "1 when connected to the broker", registry=r)
        self.decode_ok = Counter("bx_decodes", "Decoded carrier data", ["carrier", "result"], registry=r)

    def add_gauge_callback(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Expose a value that lives elsewhere (e.g. outbox depth) without copying it."""
        self.registry.register(_CallbackGauge(name, documentation, read))


class _CallbackGauge(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name, self._doc, self._read = name, documentation, read

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily(self._name, self._doc)
        family.add_metric([], float(self._read()))
        yield family
