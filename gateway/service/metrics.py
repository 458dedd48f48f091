"""Prometheus metrics of one gateway (served at ``/metrics``); the README's "Metrics and alerts" lists them.

A registry per service instance (not the global default) so that tests can run several gateways in one
process.  The API serves a scrape from a worker thread, so that asking the clock's state never holds the
event loop.  Counters the service increments itself are prometheus_client counters; figures another part
already keeps (the lane engine's drops by reason, the sender's acknowledged messages, the outbox's
drops, the clock's synchronisation) are read when Prometheus scrapes, never copied on the hot path.

>>> m = Metrics()
>>> m.watch(rejected=lambda: {"below_rssi": 3}, published=lambda: {"passage": 2}, failed=lambda: {})
>>> m.http_errors.labels("422").inc()
>>> text = m.exposition()
>>> 'bx_reads_rejected_total{reason="below_rssi"} 3.0' in text, 'bx_http_errors_total{status="422"} 1.0' in text
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.service.clock import ClockCheck

Figures = Callable[[], Mapping[str, float]]


class Metrics:
    def __init__(self, clock: ClockCheck | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reads = Counter("bx_reads", "Raw reads received", ["source", "carrier"], registry=r)
        self.vehicle_reads = Counter("bx_vehicle_reads", "Plates and container codes read by ANPR / OCR cameras",
                                     ["source", "kind"], registry=r)
        self.read_errors = Counter("bx_read_errors", "Reads that did not decode to a GS1 key",
                                   ["source"], registry=r)
        self.decode_ok = Counter("bx_decodes", "Decoded carrier data", ["carrier", "result"], registry=r)
        self.source_up = Gauge("bx_source_connected", "1 when the source is connected", ["source"], registry=r)
        self.source_reconnects = Counter(
            "bx_source_reconnects", "Times a source connected again after losing its connection (the driver's "
            "own reconnect, or a restart after a driver failure)", ["source"], registry=r)
        self.passages = Counter("bx_passages", "Passages closed", ["lane"], registry=r)
        self.flags = Counter("bx_flags", "Flags raised", ["code", "severity"], registry=r)
        self.mqtt_connected = Gauge("bx_mqtt_connected", "1 when connected to the broker", registry=r)
        self.http_errors = Counter("bx_http_errors", "HTTP API responses with an error status (4xx, 5xx)",
                                   ["status"], registry=r)
        self.intake_errors = Counter(
            "bx_intake_errors", "Declaration and master-data records refused (whole payloads count once)",
            ["channel", "kind"], registry=r)
        self.reloads = Counter("bx_config_reloads", "Configuration reloads (SIGHUP, POST /api/reload) by result",
                               ["result"], registry=r)
        self.registry.register(_ClockCollector(clock or ClockCheck()))

    def watch(self, *, rejected: Figures, published: Figures, failed: Figures) -> None:
        """Counters kept elsewhere, read at each scrape: the lane engine's rejected reads by reason, the
        messages the broker acknowledged by topic class, the messages that will never be published."""
        self.registry.register(_Counters("bx_reads_rejected", "Reads the lane engine dropped, by reason "
                                         "(unmapped antenna, undecoded, not a GS1 key, below RSSI ...)",
                                         "reason", rejected))
        self.registry.register(_Counters("bx_messages_published", "Messages acknowledged by the broker, by "
                                         "topic class", "topic_class", published))
        self.registry.register(_Counters("bx_messages_failed", "Messages that will not be published: refused "
                                         "by the broker, or dropped or refused by the full or expired outbox",
                                         "reason", failed))

    def add_gauge_callback(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Expose a value that lives elsewhere (e.g. outbox depth) without copying it."""
        self.registry.register(_CallbackGauge(name, documentation, read))

    def exposition(self) -> str:
        return generate_latest(self.registry).decode("utf-8")


class _CallbackGauge(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name, self._doc, self._read = name, documentation, read

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self._name, self._doc)
        family.add_metric([], float(self._read()))
        yield family


class _Counters(Collector):
    """A labelled counter whose values another part keeps (``read() -> {label value: count}``)."""

    def __init__(self, name: str, documentation: str, label: str, read: Figures) -> None:
        self._name, self._doc, self._label, self._read = name, documentation, label, read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._doc, labels=[self._label])
        for value, count in sorted(dict(self._read()).items()):  # a copy: the owner may add a key meanwhile
            family.add_metric([value], float(count))
        yield family


class _ClockCollector(Collector):
    """``bx_clock_synchronized`` and ``bx_clock_max_error_seconds``; nothing while the state is unknown."""

    def __init__(self, check: ClockCheck) -> None:
        self._check = check

    def collect(self) -> Iterator[Metric]:
        sync = self._check.state()
        synced = GaugeMetricFamily("bx_clock_synchronized", "1 when the host clock is synchronised (NTP, PTP ...) "
                                   "according to the kernel, 0 when not; absent when it cannot be told")
        error = GaugeMetricFamily("bx_clock_max_error_seconds", "The kernel's maximum error estimate of the host "
                                  "clock (adjtimex maxerror)")
        if sync.synchronized is not None:
            synced.add_metric([], 1.0 if sync.synchronized else 0.0)
        if sync.max_error_s is not None:
            error.add_metric([], sync.max_error_s)
        yield synced
        yield error


class HttpErrors:
    """ASGI middleware: count the API's error responses by status (``bx_http_errors``), the body limits' too."""

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self.app, self.counter = app, counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and int(message["status"]) >= 400:
                self.counter.labels(str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)
