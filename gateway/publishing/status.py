"""The gateway's retained status and capabilities: birth, Last Will, offline, and each source's health.

:class:`GatewayStatus` composes the retained messages of ``ops/{site}/{gw}/status`` and
``ops/{site}/{gw}/capabilities`` and keeps what they say; the
:class:`~gateway.publishing.publisher.Publisher` sends them.  They do not go through the outbox: they
are state, and the birth after the next CONNACK carries the latest, so one missed while offline is not
lost.

* the Last Will ``{"state":"offline","reason":"lwt"}``, set when connecting;
* the birth ``online`` after every CONNACK (``reason: startup``, or ``degraded`` once the outbox had to
  drop or refuse messages, until the gateway restarts), and ``offline`` on a graceful stop;
* ``sources``: the health of every reader and camera (:func:`gateway.reads.health` folds a driver's state
  into ok / degraded / down / connecting), with a detail made safe by
  :func:`~gateway.publishing.redact.safe_detail` and since when; re-published (``reason: source``) when a
  source's folded state changes;
* the outbox's figures once it had to drop or refuse messages (``reason: degraded``).

>>> from gateway.publishing.topics import Topics
>>> from gateway.reads import SourceStatus
>>> status = GatewayStatus(Topics("s1", "gw-1"), qos=1)
>>> status.source_changed(SourceStatus("rdr-1", "connected", host_time=0.0), now=1_740_824_100.0)
True
>>> status.source_changed(SourceStatus("rdr-1", "connected", "again", host_time=1.0), now=1_740_824_101.0)
False
>>> status.online("source", now=1_740_824_101.0).sources
{'rdr-1': SourceHealth(state='ok', detail='again', since='2025-03-01T10:15:00.000Z')}
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from gateway.publishing import cloudevents as ce
from gateway.publishing.epcis import format_time
from gateway.publishing.mqtt_client import Will
from gateway.publishing.payloads import JSON, SOFTWARE, Capabilities, LaneInfo, MqttConnection, SourceHealth, Status
from gateway.publishing.redact import safe_detail
from gateway.publishing.topics import Topics
from gateway.reads import SourceStatus, health

Reason = Literal["startup", "degraded", "source"]


class GatewayStatus:
    """What the retained status says.  Thread-safe (paho's thread asks for the birth)."""

    def __init__(self, topics: Topics, *, qos: int, software: str = SOFTWARE,
                 asyncapi_url: str | None = None,
                 outbox_metrics: Callable[[], Mapping[str, float]] = lambda: {},
                 connection: Callable[[], MqttConnection | None] = lambda: None) -> None:
        self.topics = topics
        self.site, self.gateway = topics.site, topics.gateway
        self.qos, self.software, self.asyncapi_url = qos, software, asyncapi_url
        self.outbox_metrics = outbox_metrics
        self.connection = connection  # the broker in use and the others' failures (failover, TLS errors)
        self.degraded: str | None = None  # why the outbox dropped or refused messages (since start-up)
        self.props: dict[str, object] = {"content_type": JSON,
                                         "user": [["schema", "bx.status.v1"], ["gw", self.gateway]]}
        self._sources: dict[str, SourceHealth] = {}  # reader/camera id -> health (under _lock)
        self._lock = threading.Lock()

    def will(self) -> Will:
        return Will(self.topics.status, Status(state="offline", site=self.site, gateway=self.gateway,
                                               reason="lwt").to_json())

    def birth(self, now: float) -> tuple[str, bytes]:
        # After the outbox had to drop or refuse messages, every birth says so until the gateway restarts.
        return self.topics.status, self.online("degraded" if self.degraded else "startup", now).to_json()

    def online(self, reason: Reason, now: float, outbox: Mapping[str, float] | None = None) -> Status:
        """The retained ``online`` status: outbox health when degraded, and every source's health."""
        with self._lock:
            sources = dict(self._sources) or None
        if outbox is None and self.degraded:
            outbox = self.outbox_metrics()
        return Status(state="online", site=self.site, gateway=self.gateway, time=format_time(now), reason=reason,
                      software=self.software, schemas=sorted(ce.SCHEMA_FILES),
                      outbox=dict(outbox) if outbox is not None else None, sources=sources,
                      connection=self.connection())

    def offline(self, now: float) -> Status:
        return Status(state="offline", site=self.site, gateway=self.gateway, time=format_time(now), reason="shutdown")

    def outbox_dropped(self, reason: str, count: int, now: float) -> Status:
        """The outbox dropped or refused ``count`` messages (never silent): the status to publish."""
        self.degraded = f"outbox_{reason}"
        return self.online("degraded", now, {**self.outbox_metrics(), "droppedNow": count})

    def source_changed(self, status: SourceStatus, now: float) -> bool:
        """Note a reader's or camera's new state; True when its health changed (publish the status then).

        The detail comes from the driver and passes through :func:`safe_detail` (no identifiers, no
        credentials on a retained topic).
        """
        with self._lock:
            previous = self._sources.get(status.source)
            folded = health(status.state, previous.state if previous else None)
            changed = previous is None or previous.state != folded
            since = format_time(now) if changed or previous is None else previous.since
            self._sources[status.source] = SourceHealth(state=folded, detail=safe_detail(status.detail) or None,
                                                        since=since)
        return changed

    def source_health(self) -> dict[str, SourceHealth]:
        """Every source's health as the status topic shows it."""
        with self._lock:
            return dict(self._sources)

    def capabilities(self, protocol: str, lanes: Sequence[LaneInfo]) -> Capabilities:
        return Capabilities(site=self.site, gateway=self.gateway, software=self.software, lanes=list(lanes),
                            schemas=sorted(ce.SCHEMA_FILES), asyncapi=self.asyncapi_url, protocol=protocol,
                            qos=self.qos)

    @property
    def capabilities_props(self) -> dict[str, object]:
        return {"content_type": JSON, "user": [["schema", "bx.capabilities.v1"], ["gw", self.gateway]]}
