"""The normalised read model shared by every driver and the lane engine.

Every driver (LLRP, Mercury, ASCII serial, vendor JSON, camera) yields :class:`Read`
objects and :class:`SourceStatus` events; nothing downstream knows which carrier or wire
format a read came from.  Times are host UTC epoch seconds (``host_time``) beside the
source's own clock (``source_time``), which may be unset or wrong on real readers.

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


SourceEvent = Read | SourceStatus


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
