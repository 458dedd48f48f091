"""Vendor JSON tag events -> normalised reads (pure functions, no I/O).

Impinj IoT Device Interface ``tagInventoryEvent`` (HTTP stream, MQTT, webhook): EPC as
base64 ``epc`` or ``epcHex``, RSSI in centi-dBm (``peakRssiCdbm``), antenna by
``antennaPort`` or ``antennaName``, ``frequency`` in kHz, ISO-8601 times.

>>> ev = {"timestamp": "2024-05-01T10:00:00.250Z", "hostname": "impinj-14-1b-04", "eventType": "tagInventory",
...       "tagInventoryEvent": {"epc": "MHQle/cZTkAAABqF", "antennaPort": 2, "peakRssiCdbm": -5350,
...                             "frequency": 866900, "lastSeenTime": "2024-05-01T10:00:00.200Z"}}
>>> [r] = impinj_reads(ev, "dock-2", host_time=1714557600.3)
>>> r.raw, r.channel, r.rssi_dbm, r.frequency_khz, r.source_time, r.identifier.key_type
('3074257bf7194e4000001a85', '2', -53.5, 866900, 1714557600.2, 'sgtin')

Zebra IoT Connector data events: ``{"data": {"idHex", "antenna", "peakRssi" (dBm), "reads",
"channel" (MHz), "PC", ...}, "timestamp", "type"}``, or the batched ``tagData[]`` form.

>>> [z] = zebra_reads({"data": {"idHex": "3074257BF7194E4000001A85", "antenna": 3, "peakRssi": -61,
...                    "reads": 4, "channel": 865.7, "PC": "3000"}, "timestamp": "2024-05-01T10:00:00Z",
...                    "type": "SIMPLE"}, "fx9600", host_time=0.0)
>>> z.raw, z.channel, z.rssi_dbm, z.count, z.frequency_khz, z.pc
('3074257bf7194e4000001a85', '3', -61.0, 4, 865700, 12288)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from typing import Any

from drivers.rfid import rfid_read
from gateway.reads import Read, SourceEvent, SourceStatus


class VendorEventError(ValueError):
    """A JSON event that cannot be a tag read (the message says which field)."""


def _number(value: Any, field: str) -> float | None:
    """A JSON number as a finite float (``None`` when absent or not a number); a number no float can
    hold (``1e400`` as an integer, ``1e999`` parsed as infinity) is a :class:`VendorEventError`."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        raise VendorEventError(f"{field} is out of range") from None
    if not math.isfinite(number):
        raise VendorEventError(f"{field}={value!r} is not a finite number")
    return number


def parse_time(value: Any) -> float | None:
    """ISO-8601 string, or epoch seconds / ms / µs as a number -> epoch seconds (``None`` if implausible)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            v = _number(value, "time")
        except VendorEventError:
            return None  # like an unparsable string: the host time stands in
        assert v is not None
        for scale in (1.0, 1e3, 1e6, 1e9):  # s, ms, µs, ns: pick the one that lands after 1990
            if v / scale < 4_102_444_800:
                return v / scale
        return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            t = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return t.timestamp()
    return None


def _hex(value: str, what: str) -> str:
    text = value.strip().lower().replace(" ", "").replace("-", "")
    try:
        bytes.fromhex(text)
    except ValueError:
        raise VendorEventError(f"{what}={value!r} is not hex") from None
    return text


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value and not value.lstrip("-").isdigit() else int(value)
        except ValueError:
            return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    return None


def _pc(value: Any) -> int | None:
    """PC words arrive as hex strings ("3000") or numbers."""
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            return None
    return _int(value)


def _read(source: str, raw: str, channel: str, host_time: float, **kw: Any) -> Read:
    return rfid_read(source, channel, raw, host_time, **kw)


# -- Impinj ------------------------------------------------------------------------------------


def impinj_reads(event: Any, source: str, host_time: float) -> list[SourceEvent]:
    """Reads (and antenna status changes) from one Impinj event or a webhook batch (a JSON list)."""
    if isinstance(event, list):
        return [r for e in event for r in impinj_reads(e, source, host_time)]
    if not isinstance(event, dict):
        raise VendorEventError(f"Impinj event must be an object, got {type(event).__name__}")
    tag = event.get("tagInventoryEvent")
    if tag is None:
        for kind in ("antennaDisconnectedEvent", "antennaConnectedEvent", "inventoryTerminatedEvent",
                     "overflowEvent"):
            if kind in event:
                return [SourceStatus(source, "connected", f"{kind} {event[kind]}", host_time=host_time)]
        return []  # inventoryStatusEvent, diagnosticEvent ...: nothing for the read pipeline
    if not isinstance(tag, dict):
        raise VendorEventError("tagInventoryEvent must be an object")
    if tag.get("epcHex"):
        raw = _hex(str(tag["epcHex"]), "epcHex")
    elif tag.get("epc"):
        try:
            raw = base64.b64decode(str(tag["epc"]), validate=True).hex()
        except (binascii.Error, ValueError):
            raise VendorEventError(f"epc={tag['epc']!r} is not base64") from None
    else:
        raise VendorEventError("tagInventoryEvent has neither epc nor epcHex")
    port = tag.get("antennaPort")
    channel = str(port) if port is not None else str(tag.get("antennaName") or "0")
    rssi = _number(tag.get("peakRssiCdbm"), "peakRssiCdbm")
    extra: dict[str, object] = {"hostname": event.get("hostname")}
    if port is not None and tag.get("antennaName"):
        extra["antenna_name"] = tag["antennaName"]
    for key in ("tidHex", "tid", "xpcHex", "transmitPowerCdbm"):
        if key in tag:
            extra[key] = tag[key]
    phase = _number(tag.get("phaseAngle"), "phaseAngle")
    return [_read(source, raw, channel, host_time,
                  source_time=parse_time(tag.get("lastSeenTime") or event.get("timestamp")),
                  rssi_dbm=rssi / 100.0 if rssi is not None else None,
                  pc=_pc(tag.get("pc", tag.get("pcHex"))),
                  frequency_khz=_int(tag.get("frequency")),
                  phase_deg=phase, extra=extra)]


# -- Zebra ---------------------------------------------------------------------------------------


def _zebra_one(data: dict[str, Any], source: str, host_time: float, ts: Any, mode: Any) -> Read:
    id_hex = data.get("idHex") or data.get("epc")
    if not id_hex:
        raise VendorEventError("Zebra data event has no idHex")
    channel_mhz = _number(data.get("channel"), "channel")
    freq = None
    if channel_mhz is not None:
        freq = round(channel_mhz * 1000) if channel_mhz < 10_000 else int(channel_mhz)
    rssi = _number(data.get("peakRssi", data.get("rssi")), "peakRssi")
    phase = _number(data.get("phase"), "phase")
    count = _int(data.get("reads", data.get("seenCount"))) or 1
    return _read(source, _hex(str(id_hex), "idHex"), str(data.get("antenna", 0)), host_time,
                 source_time=parse_time(data.get("timestamp", ts)),
                 rssi_dbm=rssi,
                 count=max(1, count), pc=_pc(data.get("PC", data.get("pc"))), frequency_khz=freq,
                 phase_deg=phase, extra={"mode": mode, "eventNum": data.get("eventNum")})


def zebra_reads(event: Any, source: str, host_time: float) -> list[SourceEvent]:
    """Reads from one Zebra IoT Connector data event (single ``data`` or batched ``tagData[]``)."""
    if isinstance(event, list):
        return [r for e in event for r in zebra_reads(e, source, host_time)]
    if not isinstance(event, dict):
        raise VendorEventError(f"Zebra event must be an object, got {type(event).__name__}")
    ts, mode = event.get("timestamp"), event.get("type")
    data = event.get("data", event)
    if isinstance(data, dict) and isinstance(data.get("tagData"), list):
        return [_zebra_one(d, source, host_time, ts, mode) for d in data["tagData"] if isinstance(d, dict)]
    if isinstance(data, list):
        return [_zebra_one(d, source, host_time, ts, mode) for d in data if isinstance(d, dict)]
    if not isinstance(data, dict) or not (data.get("idHex") or data.get("epc")):
        return []  # heartbeats and management events
    return [_zebra_one(data, source, host_time, ts, mode)]
