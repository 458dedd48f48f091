"""Impinj IoT Device Interface (R700/R720 firmware 7.1+): HTTP NDJSON stream and MQTT.

* ``impinj-iot+http://reader[:port][/path]`` streams ``GET /api/v1/data/stream`` (the default
  path) as newline-delimited JSON;
* ``impinj-iot+mqtt://broker[:1883]/topic`` subscribes to the reader's ``eventTopic``
  (webhook batches - JSON lists - are accepted on both).

>>> src = open_http_source("r700", "impinj-iot+http://10.0.0.7")
>>> src.http_url
'http://10.0.0.7/api/v1/data/stream'
>>> open_mqtt_source("r700", "impinj-iot+mqtt://127.0.0.1:1883/impinj/events/#").topic
'impinj/events/#'
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from drivers.vendor_json.mapping import impinj_reads
from drivers.vendor_json.sources import HTTPStreamSource, MQTTJsonSource

STREAM_PATH = "/api/v1/data/stream"


def check_http_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``): a reader host and a valid port."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r}: no reader host")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ValueError(f"{url!r}: bad port") from None


def open_http_source(source_id: str, url: str) -> HTTPStreamSource:
    check_http_url(url)
    parts = urlsplit(url)
    scheme = "https" if parts.scheme.lower().endswith("https") else "http"
    path = parts.path if parts.path not in ("", "/") else STREAM_PATH
    return HTTPStreamSource(source_id, urlunsplit((scheme, parts.netloc, path, parts.query, "")), impinj_reads)


def open_mqtt_source(source_id: str, url: str) -> MQTTJsonSource:
    return MQTTJsonSource(source_id, url, impinj_reads)
