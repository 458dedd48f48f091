"""Source URL scheme -> driver factory.

Each driver module exposes ``open_source(source_id: str, url: str) -> Source``.  The
registry imports it lazily so that a deployment without OpenCV can still run RFID only,
and so that a scheme whose driver is missing gives a clear error instead of a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import Protocol, cast
from urllib.parse import urlsplit

from gateway.reads import SourceEvent


class Source(Protocol):
    """A running reader or camera.  ``events()`` yields reads and status changes until
    ``close()`` is called; it reconnects by itself and never raises for I/O faults."""

    source_id: str

    def events(self) -> AsyncIterator[SourceEvent]: ...

    async def close(self) -> None: ...


class DriverNotAvailable(RuntimeError):
    """The URL's scheme is known but its driver is not built or cannot be imported."""


# scheme -> "module:function"
DRIVERS: dict[str, str] = {
    "llrp": "drivers.llrp.client:open_source",
    "mercury": "drivers.mercury.driver:open_source",
    "serial-ascii": "drivers.ascii_serial.driver:open_source",
    "impinj-iot+http": "drivers.vendor_json.impinj:open_http_source",
    "impinj-iot+mqtt": "drivers.vendor_json.impinj:open_mqtt_source",
    "impinj-iot+webhook": "drivers.vendor_json.webhook:open_webhook_source",
    "zebra-iot+mqtt": "drivers.vendor_json.zebra:open_mqtt_source",
    "camera": "drivers.camera.source:open_source",
    "images": "drivers.camera.source:open_source",
    "anpr+webhook": "drivers.anpr.sources:open_webhook_source",
    "anpr+mqtt": "drivers.anpr.sources:open_mqtt_source",
}
# scheme -> "module:function" that checks a URL's parameters without opening anything, so that
# ``config check`` rejects ``llrp://h?report=0`` instead of the reader failing at start-up.
URL_CHECKS: dict[str, str] = {
    "llrp": "drivers.llrp.config:check_url",
    "mercury": "drivers.mercury.driver:check_url",
    "serial-ascii": "drivers.ascii_serial.driver:check_url",
    "camera": "drivers.camera.source:check_url",
    "images": "drivers.camera.source:check_url",
    "impinj-iot+http": "drivers.vendor_json.impinj:check_http_url",
    "impinj-iot+mqtt": "drivers.vendor_json.sources:check_mqtt_url",
    "zebra-iot+mqtt": "drivers.vendor_json.sources:check_mqtt_url",
    "impinj-iot+webhook": "drivers.vendor_json.webhook:check_url",
    "anpr+webhook": "drivers.anpr.sources:check_webhook_url",
    "anpr+mqtt": "drivers.anpr.sources:check_mqtt_url",
}
# ANPR / OCR cameras are cameras: they sit in a lane's ``cameras`` with a zone, like barcode cameras.
CAMERA_SCHEMES = frozenset({"camera", "images", "anpr+webhook", "anpr+mqtt"})
READER_SCHEMES = frozenset(s for s in DRIVERS if s not in CAMERA_SCHEMES)


def scheme_of(url: str) -> str:
    """``llrp://h:5084`` -> ``llrp``; ``camera:0`` -> ``camera``."""
    return urlsplit(url).scheme.lower()


def validate_url(url: str) -> None:
    """Raise ``ValueError`` (naming the parameter) when the URL's driver can tell it is wrong.

    >>> validate_url("llrp://10.0.0.5?report=0")
    Traceback (most recent call last):
    ...
    drivers.llrp.config.ConfigError: 'llrp://10.0.0.5?report=0': report must be 1..65535 tags or ms (0 would mean \
'never report')
    """
    target = URL_CHECKS.get(scheme_of(url))
    if target is None:
        return
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # the driver or a library it needs is missing: open_source will say so
        return
    check = cast(Callable[[str], None], getattr(module, func_name))
    check(url)


def open_source(source_id: str, url: str) -> Source:
    scheme = scheme_of(url)
    target = DRIVERS.get(scheme)
    if target is None:
        raise DriverNotAvailable(f"{url!r}: unknown source scheme {scheme!r}")
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise DriverNotAvailable(f"{scheme!r} driver is not available: {exc}") from exc
    factory = cast(Callable[[str, str], Source], getattr(module, func_name))
    return factory(source_id, url)
