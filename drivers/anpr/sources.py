"""ANPR sources: a camera (or its agent) pushes plate events to the gateway over HTTP or MQTT.

``anpr+webhook://host:port/path?preset=rekor|hikvision|generic[&position=front|rear|trailer|container][...]``
    An HTTP receiver (the same server as the Impinj webhook, :mod:`drivers.vendor_json.webhook`: basic
    auth or bearer ``token``, ``max_body`` (default 1 MB; a Hikvision POST with three pictures is a few
    hundred kB), ``request_timeout``, ``max_connections``).  Point the camera at it: Rekor Scout's
    agent ``upload_address``, Hikvision's ``/ISAPI/Event/notification/httpHosts`` (XML or JSON, with or
    without pictures), a Verkada LPR webhook.  A good event is answered ``200`` with ``{"accepted": n}``
    at once (Hikvision cameras do not retry, so nothing slow happens before the answer); a body the
    preset cannot read ``400`` with the reason, and the source keeps serving.
``anpr+mqtt://broker:1883/topic?preset=...``
    The same JSON events published on an MQTT topic (a camera or a bridge that publishes them).

The format parameters (``preset``, ``position``, and the generic preset's field paths) are those of
:class:`drivers.anpr.formats.AnprFormat`; ``config check`` validates them with the rest of the URL.

>>> check_webhook_url("anpr+webhook://0.0.0.0:8090/lpr?preset=rekor&position=front")
>>> check_webhook_url("anpr+webhook://0.0.0.0:8090/lpr?preset=acme")
Traceback (most recent call last):
...
drivers.vendor_json.webhook.WebhookURLError: 'anpr+webhook://0.0.0.0:8090/lpr?preset=acme': preset must be one of \
rekor, hikvision, generic, got 'acme'
>>> check_mqtt_url("anpr+mqtt://127.0.0.1/lpr?preset=generic&plate=data.plate&colour=red")
Traceback (most recent call last):
...
ValueError: 'anpr+mqtt://127.0.0.1/lpr?preset=generic&plate=data.plate&colour=red': unknown parameter(s) colour
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drivers.anpr.formats import AnprEventError, AnprFormat, parse_body, parse_document
from drivers.vendor_json.sources import MQTTJsonSource
from drivers.vendor_json.sources import check_mqtt_url as check_vendor_mqtt_url
from drivers.vendor_json.webhook import WebhookConfig, WebhookSource, WebhookURLError
from gateway.reads import SourceEvent

log = logging.getLogger(__name__)

WEBHOOK_SCHEME = "anpr+webhook"
MQTT_SCHEME = "anpr+mqtt"


def _format(url: str, query: dict[str, str], error: type[ValueError] = ValueError) -> AnprFormat:
    try:
        return AnprFormat.from_query(query)
    except ValueError as exc:
        raise error(f"{url!r}: {exc}") from None


def webhook_config(url: str) -> tuple[WebhookConfig, AnprFormat]:
    config = WebhookConfig.parse(url, WEBHOOK_SCHEME, AnprFormat.PARAMS)
    return config, _format(url, dict(config.options), WebhookURLError)


def check_webhook_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``)."""
    webhook_config(url)


def _mqtt_format(url: str) -> AnprFormat:
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    unknown = set(query) - AnprFormat.PARAMS
    if unknown:
        raise ValueError(f"{url!r}: unknown parameter(s) {', '.join(sorted(unknown))}")
    return _format(url, query)


def check_mqtt_url(url: str) -> None:
    """Config-time validation: the broker and topic, and the format parameters."""
    check_vendor_mqtt_url(url)
    _mqtt_format(url)


class AnprWebhookSource(WebhookSource):
    """Plate events POSTed by a camera (see the module docstring)."""

    def __init__(self, source_id: str, config: WebhookConfig, fmt: AnprFormat) -> None:
        super().__init__(source_id, config)
        self.format = fmt

    def _accept(self, body: bytes, content_type: str = "") -> tuple[int, dict[str, Any] | None]:
        try:
            events = parse_body(self.format, self.source_id, time.time(), body, content_type)
        except AnprEventError as exc:
            self.bad_documents += 1
            self._status("connected", f"ignored a bad ANPR event: {exc}")
            return 400, {"error": str(exc)}
        except Exception as exc:  # a case the parser did not foresee: this request only, never the source
            log.warning("ANPR webhook %s: an event could not be read: %s", self.source_id, type(exc).__name__)
            self.bad_documents += 1
            return 400, {"error": f"event could not be read ({type(exc).__name__})"}
        self.requests += 1
        self.events_accepted += len(events)
        for event in events:
            self._queue.put_nowait(event)
        return 200, {"accepted": len(events)}


def open_webhook_source(source_id: str, url: str) -> AnprWebhookSource:
    """``drivers.registry`` entry point for ``anpr+webhook://`` URLs."""
    config, fmt = webhook_config(url)
    return AnprWebhookSource(source_id, config, fmt)


def open_mqtt_source(source_id: str, url: str) -> MQTTJsonSource:
    """``drivers.registry`` entry point for ``anpr+mqtt://`` URLs: one JSON event per message."""
    fmt = _mqtt_format(url)

    def mapper(doc: Any, source: str, host_time: float) -> list[SourceEvent]:
        return list(parse_document(fmt, source, host_time, doc))

    return MQTTJsonSource(source_id, url, mapper)
