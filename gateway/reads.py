"""The normalised read model shared by every driver and the lane engine.

Every driver (LLRP, Mercury, ASCII serial, vendor JSON, camera, ANPR) yields what it saw as one
of four events (:data:`SourceEvent`); nothing downstream knows which carrier or wire format it
came from:

* :class:`Read` - one GS1 carrier (RFID tag, barcode) read once;
* :class:`VehicleRead` - one number plate or container code read by an ANPR / OCR camera;
* :class:`Trigger` - one edge of a presence input (a loop or light barrier on a reader's GPI, a
  camera's vehicle detection, a lane controller's message): no identifier, only "a vehicle is
  here" or "it has gone";
* :class:`SourceStatus` - a change in the source's health.

Times are host UTC epoch seconds (``host_time``) beside the source's own clock
(``source_time``), which may be unset or wrong on real readers.

>>> r = Read(source="rdr-1", channel="1", carrier="rfid", raw="3074257bf7194e4000001a85",
...          host_time=1_700_000_000.0, rssi_dbm=-52.5)
>>> r.identifier is None and r.error is None
True

A source's :class:`SourceStatus` says what its driver is doing; :func:`health` folds that into what
the retained status topic, the dashboard and the metrics show:

>>> health("connected"), health("error", previous="ok"), health("error", previous="connecting")
('ok', 'degraded', 'down')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from gateway.identity import Identifier

Carrier = Literal["rfid", "barcode"]
SourceState = Literal["starting", "connected", "reconnecting", "error", "stopped"]
TriggerKind = Literal["gpi", "camera", "external"]
TriggerRole = Literal["entry", "exit", "presence"]
VehicleKind = Literal["plate", "container"]
#: Where on the vehicle the camera looked: the tractor's front plate, its rear plate, a trailer's
#: plate, a container's side or door, or unknown.
VehiclePosition = Literal["front", "rear", "trailer", "container", "unknown"]
#: ok: delivering; degraded: connected but reporting trouble; down: not delivering (failed, stopped, or
#: waiting to reconnect); connecting: starting up
HealthState = Literal["ok", "degraded", "down", "connecting"]
_HEALTH: dict[str, HealthState] = {"connected": "ok", "starting": "connecting", "reconnecting": "down",
                                   "stopped": "down"}


@dataclass(frozen=True, slots=True)
class Read:
    """One observation of one carrier by one source.

    ``raw`` is the carrier data as delivered: the EPC as upper-case-free lower hex for RFID,
    the decoded text with its ``]`` symbology identifier (GS as ``\\x1d``) for barcodes.
    ``identifier`` is set when the data decoded to a GS1 key; otherwise ``error`` says why
    (the read is still delivered: nothing is dropped silently).
    """

    source: str
    channel: str  # antenna number for RFID, camera id (or ROI name) for barcodes
    carrier: Carrier
    raw: str
    host_time: float
    source_time: float | None = None
    rssi_dbm: float | None = None
    count: int = 1
    identifier: Identifier | None = None
    error: str | None = None
    scheme: str | None = None  # EPC scheme (``sgtin-96``) or barcode symbology
    pc: int | None = None
    frequency_khz: int | None = None
    phase_deg: float | None = None
    position: tuple[tuple[float, float], ...] | None = None  # barcode corners, pixels
    seq: int | None = None  # simulator sequence number, for loss checks
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def antenna(self) -> int | None:
        return int(self.channel) if self.carrier == "rfid" and self.channel.isdigit() else None


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A change in a source's health, published on the status topics and the dashboard."""

    source: str
    state: SourceState
    detail: str = ""
    host_time: float = field(default_factory=time.time)
    attempt: int = 0  # reconnect attempt counter; 0 when connected


@dataclass(frozen=True, slots=True)
class Trigger:
    """One edge of one presence input; the site configuration says what it means.

    A reader's ``gpi_entry`` / ``gpi_exit`` port and a camera's zone (``entry``/``exit``/``portal``)
    turn it into a role in one lane (:mod:`gateway.lane.zones`): ``entry`` and ``exit`` open and
    close passages and give the direction by their order, ``presence`` only opens one.  A lane
    controller that says itself which lane and role it means (MQTT, the HTTP API) sets ``lane`` and
    ``role`` (``kind="external"``).  Drivers emit a trigger on each edge; only rising edges
    (``active=True``) act, releases are counted and ignored.

    >>> Trigger(source="portal-llrp", host_time=1_700_000_000.0, port=1).label
    'gpi:portal-llrp:1'
    >>> Trigger(source="plc-1", host_time=0.0, kind="external", lane="lane1", role="entry").label
    'external:plc-1'
    """

    source: str
    host_time: float
    port: int | None = None  # GPI port (None for a camera detection or an external trigger)
    active: bool = True  # rising edge / vehicle detected; False = released
    kind: TriggerKind = "gpi"
    source_time: float | None = None
    lane: str | None = None  # external triggers: the lane and role they name themselves
    role: TriggerRole | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.source}" + (f":{self.port}" if self.port is not None else "")


@dataclass(frozen=True, slots=True)
class VehicleRead:
    """One number plate or container code read by an ANPR / OCR camera (:mod:`drivers.anpr`).

    ``text`` is what the camera printed; ``value`` the comparison key built from it by
    :mod:`gateway.vehicle` (a plate without spaces, hyphens, dots and case; a container code in
    its 11-character ISO 6346 form).  ``confidence`` is the camera's own, scaled to 0..1.  A
    container code whose check digit fails keeps ``value`` and says why in ``error``: it is
    evidence, never a key.  ``candidates`` are the camera's other readings of the same plate.

    >>> v = VehicleRead(source="anpr-1", host_time=10.0, kind="plate", text="B-XY 1234", value="BXY1234",
    ...                 confidence=0.93, country="DE", position="front")
    >>> v.usable, v.key
    (True, ('plate', 'BXY1234'))
    """

    source: str
    host_time: float
    kind: VehicleKind
    text: str
    value: str
    confidence: float | None = None
    country: str | None = None  # ISO 3166 alpha-2 (plates)
    position: VehiclePosition = "unknown"
    source_time: float | None = None
    direction: str | None = None  # as the camera says it: approach / away / forward / reverse ...
    image_ref: str | None = None  # a URL or the camera's image id; image bytes are never kept here
    event_id: str | None = None  # the camera's own event id (one per vehicle on most cameras)
    error: str | None = None
    candidates: tuple[tuple[str, float | None], ...] = ()  # (value, confidence) alternatives

    @property
    def usable(self) -> bool:
        """Something to compare: a value and no error (a bad check digit, an empty plate)."""
        return bool(self.value) and self.error is None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.value


SourceEvent = Read | SourceStatus | Trigger | VehicleRead


def health(state: str, previous: HealthState | None = None) -> HealthState:
    """Fold a driver's state into the four a source's health shows (``previous``: its health before).

    ``error`` from a source that was delivering (a reader reporting trouble over a live connection)
    is ``degraded``; any other ``error`` (cannot open, driver failed before delivering) is ``down``.
    A driver that then gives up and reconnects reports ``reconnecting``, which is ``down``.  Only a
    ``connected`` source is ``ok``.
    """
    if state == "error":
        return "degraded" if previous in ("ok", "degraded") else "down"
    return _HEALTH.get(state, "down")
