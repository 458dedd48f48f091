"""ANPR / OCR camera events -> :class:`~gateway.reads.VehicleRead` (sans-I/O: bytes or JSON in, reads out).

Three formats, chosen per source with ``preset=`` in its URL (:mod:`drivers.anpr.sources`):

``rekor``
    Rekor Scout / OpenALPR agent posts (docs.rekor.ai "JSON Group Results" / "JSON Plate Results";
    ``openalpr/openalpr`` ``doc/source/alprd.rst``).  ``alpr_group`` (one per vehicle, up to ~10 s
    after it passed): ``best_plate_number``, ``best_confidence`` (0-100), ``best_region`` (``us-mo``)
    or ``country``, ``epoch_start``/``epoch_end`` (ms), ``camera_id``, ``best_uuid``, ``candidates``.
    ``alpr_results`` (one per frame): ``results[]`` with ``plate``, ``confidence``, ``region``,
    ``candidates``; ``epoch_time``, ``uuid``.  ``heartbeat`` and ``alpr_alert`` carry no new plate
    and are ignored.  Base64 crops (``vehicle_crop_jpeg``, ``plate_crop_jpeg``) are never kept.
``hikvision``
    The Hikvision ISAPI alarm ``EventNotificationAlert`` with ``eventType`` ``ANPR`` (ISAPI ANPR
    developer guide, ``XML_EventNotificationAlert_ANPR``), as XML or JSON, alone or as the first part
    of a ``multipart/form-data`` POST followed by the pictures (``licensePlatePicture.jpg``,
    ``detectionPicture.jpg``: their names are kept as the image reference, the bytes are not).
    ``ANPR/licensePlate``, ``ANPR/confidenceLevel`` (0-100), ``ANPR/direction`` (forward, reverse,
    unknown), ``ANPR/line`` (the lane), ``dateTime`` (ISO 8601 with offset), ``UUID``.  ``ANPR/country``
    is Hikvision's own country index, not ISO 3166, so the lane's default country applies.  An ANPR
    event whose plate could not be read (``unknown``, empty) still says a vehicle is there: it becomes
    a camera :class:`~gateway.reads.Trigger`.  Other event types (``videoloss`` heartbeats ...) are ignored.
``generic``
    Any JSON: the URL names the field paths (``a.b[0].c``) of the plate (or ``container``), and
    optionally ``confidence`` (``scale`` 1 or 100, else guessed), ``country``, ``time`` (``time_unit``
    s, ms or iso, else guessed), ``direction``, ``image``, ``event_id``; ``items`` is the path of a
    list of events inside one document, ``match`` a ``path:value`` a document must have (others are
    ignored).  E.g. Verkada's LPR webhook (apidocs.verkada.com/reference/lpr)::

        preset=generic&match=webhook_type:lpr&plate=data.license_plate_number&confidence=data.confidence
        &scale=1&time=data.detected&time_unit=ms&image=data.image_url&country=data.license_plate_state

Every document that is not what its format says is an :class:`AnprEventError` naming the field; a
document that is valid but carries no plate event is an empty list.  Nothing else is ever raised
(``tests/anpr/test_fuzz.py``).

>>> fmt = AnprFormat.from_query({"preset": "rekor", "position": "rear"})
>>> [r] = parse_document(fmt, "anpr-1", 100.0, {"data_type": "alpr_group", "best_plate_number": "b xy 1234",
...                      "best_confidence": 91.5, "best_region": "de", "epoch_end": 1700000000500, "camera_id": 7})
>>> r.value, r.confidence, r.country, r.position, r.source_time, r.host_time
('BXY1234', 0.915, 'DE', 'rear', 1700000000.5, 100.0)
>>> parse_document(fmt, "anpr-1", 100.0, {"data_type": "heartbeat"})
[]
>>> parse_document(fmt, "anpr-1", 100.0, {"data_type": "alpr_group"})
Traceback (most recent call last):
...
drivers.anpr.formats.AnprEventError: alpr_group: best_plate_number: missing
>>> xml = (b'<EventNotificationAlert xmlns="http://www.isapi.org/ver20/XMLSchema"><eventType>ANPR</eventType>'
...        b'<dateTime>2026-12-07T10:00:00+01:00</dateTime><ANPR><licensePlate>CSQ 123</licensePlate>'
...        b'<confidenceLevel>88</confidenceLevel></ANPR></EventNotificationAlert>')
>>> [(r.value, r.confidence, r.source_time) for r in parse_body(AnprFormat(), "cam", 1.0, xml, "application/xml")]
[('CSQ123', 0.88, 1796634000.0)]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from gateway.json_limits import JsonLimitError, loads
from gateway.reads import Trigger, VehicleKind, VehiclePosition, VehicleRead
from gateway.vehicle import vehicle_read

Preset = Literal["rekor", "hikvision", "generic"]
PRESETS: tuple[str, ...] = ("rekor", "hikvision", "generic")
POSITIONS: tuple[str, ...] = ("front", "rear", "trailer", "container", "unknown")
MAX_EVENTS = 100  # plate events in one document (a Rekor frame with 100 plates is not a lane)
MAX_PARTS = 16  # parts of one multipart POST (Hikvision sends the XML and two or three pictures)
_PATH = re.compile(r"[A-Za-z_][\w-]*(\[\d+])*(\.[A-Za-z_][\w-]*(\[\d+])*)*")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)]")
Event = VehicleRead | Trigger


class AnprEventError(ValueError):
    """A camera document that is not what its format says; the message names the field."""


@dataclass(frozen=True, slots=True)
class Mapping:
    """The generic preset's field paths (see the module docstring)."""

    plate: str | None = None
    container: str | None = None
    confidence: str | None = None
    scale: float | None = None
    country: str | None = None
    time: str | None = None
    time_unit: Literal["s", "ms", "iso", "auto"] = "auto"
    direction: str | None = None
    image: str | None = None
    event_id: str | None = None
    items: str | None = None
    match: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class AnprFormat:
    preset: Preset = "hikvision"
    position: VehiclePosition = "unknown"
    mapping: Mapping = Mapping()

    #: the URL parameters :meth:`from_query` takes (the sources add their own)
    PARAMS = frozenset({"preset", "position", "plate", "container", "confidence", "scale", "country", "time",
                        "time_unit", "direction", "image", "event_id", "items", "match"})

    @classmethod
    def from_query(cls, q: dict[str, str]) -> AnprFormat:
        """From a source URL's query; ``ValueError`` names the parameter."""
        preset = q.get("preset", "")
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        position = q.get("position", "unknown")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {', '.join(POSITIONS)}, got {position!r}")
        paths = {name: q.get(name) for name in ("plate", "container", "confidence", "country", "time", "direction",
                                                "image", "event_id", "items")}
        for name, path in paths.items():
            if path is not None and not _PATH.fullmatch(path):
                raise ValueError(f"{name}={path!r} is not a field path (a.b[0].c)")
        if preset != "generic":
            given = sorted(k for k, v in paths.items() if v is not None)
            if given:
                raise ValueError(f"{', '.join(given)}: field paths are for preset=generic only")
            return cls(cast(Preset, preset), cast(VehiclePosition, position))
        if (paths["plate"] is None) == (paths["container"] is None):
            raise ValueError("preset=generic needs plate= or container= (the field path of the code), not both")
        scale: float | None = None
        if "scale" in q:
            if q["scale"] not in ("1", "100"):
                raise ValueError(f"scale must be 1 or 100, got {q['scale']!r}")
            scale = float(q["scale"])
        unit = q.get("time_unit", "auto")
        if unit not in ("s", "ms", "iso", "auto"):
            raise ValueError(f"time_unit must be s, ms, iso or auto, got {unit!r}")
        match = None
        if "match" in q:
            path, sep, value = q["match"].partition(":")
            if not sep or not _PATH.fullmatch(path):
                raise ValueError(f"match={q['match']!r}: use path:value")
            match = (path, value)
        mapping = Mapping(plate=paths["plate"], container=paths["container"], confidence=paths["confidence"],
                          scale=scale, country=paths["country"], time=paths["time"],
                          time_unit=cast(Literal["s", "ms", "iso", "auto"], unit), direction=paths["direction"],
                          image=paths["image"], event_id=paths["event_id"], items=paths["items"], match=match)
        return cls("generic", cast(VehiclePosition, position), mapping)


# -- entry points ----------------------------------------------------------------------------------


def parse_body(fmt: AnprFormat, source: str, host_time: float, body: bytes,
               content_type: str | None = None) -> list[Event]:
    """One HTTP body (JSON, XML, or multipart with the event first) -> events."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    image: str | None = None
    if media.startswith("multipart/"):
        body, media, image = _multipart(body, content_type or "")
    text = body.lstrip()[:1]
    if text == b"<" or media.endswith("xml"):
        if fmt.preset != "hikvision":
            raise AnprEventError(f"an XML body, but preset={fmt.preset} takes JSON")
        return _hikvision(_xml_dict(body), source, host_time, fmt, image)
    try:
        doc = loads(body)
    except JsonLimitError as exc:
        raise AnprEventError(f"body: {exc}") from None
    return parse_document(fmt, source, host_time, doc, image)


def parse_document(fmt: AnprFormat, source: str, host_time: float, doc: Any, image: str | None = None) -> list[Event]:
    """One parsed JSON document -> events (the MQTT sources and the webhook after parsing)."""
    if not isinstance(doc, dict):
        raise AnprEventError(f"expected a JSON object, got {type(doc).__name__}")
    if fmt.preset == "rekor":
        return _rekor(doc, source, host_time, fmt)
    if fmt.preset == "hikvision":
        return _hikvision(doc, source, host_time, fmt, image)
    return _generic(doc, source, host_time, fmt)


# -- Rekor Scout / OpenALPR ----------------------------------------------------------------------------


def _rekor(doc: dict[str, Any], source: str, host_time: float, fmt: AnprFormat) -> list[Event]:
    kind = doc.get("data_type")
    if kind in ("heartbeat", "alpr_alert"):
        return []
    if kind == "alpr_group":
        raw_best = doc.get("best_plate")
        best: dict[str, Any] = raw_best if isinstance(raw_best, dict) else {}
        plate = _text(doc, "best_plate_number", "alpr_group") or _text(best, "plate", "alpr_group.best_plate")
        if plate is None:
            raise AnprEventError("alpr_group: best_plate_number: missing")
        region = _text(doc, "best_region", "alpr_group") or _text(best, "region", "alpr_group.best_plate")
        country = region or _text(doc, "country", "alpr_group")
        when = _number(doc, "epoch_end", "alpr_group") or _number(doc, "epoch_start", "alpr_group")
        uuids = doc.get("uuids")
        event_id = _text(doc, "best_uuid", "alpr_group") or (
            str(uuids[0])[:128] if isinstance(uuids, list) and uuids and isinstance(uuids[0], str) else None)
        candidates = doc.get("candidates") if "candidates" in doc else best.get("candidates")
        return [vehicle_read(
            source, host_time, "plate", plate, confidence=_number(doc, "best_confidence", "alpr_group"), scale=100.0,
            country=country, position=fmt.position, source_time=_epoch(when, "ms", "alpr_group.epoch_end"),
            direction=_direction(doc.get("travel_direction")), image_ref=event_id, event_id=event_id,
            candidates=_candidates(candidates, "alpr_group.candidates"))]
    if kind == "alpr_results":
        results = doc.get("results")
        if not isinstance(results, list):
            raise AnprEventError("alpr_results: results: expected a list")
        when = _epoch(_number(doc, "epoch_time", "alpr_results"), "ms", "alpr_results.epoch_time")
        uuid = _text(doc, "uuid", "alpr_results")
        out: list[Event] = []
        for i, result in enumerate(results[:MAX_EVENTS]):
            where = f"alpr_results.results[{i}]"
            if not isinstance(result, dict):
                raise AnprEventError(f"{where}: expected an object")
            plate = _text(result, "plate", where)
            if plate is None:
                raise AnprEventError(f"{where}.plate: missing")
            out.append(vehicle_read(
                source, host_time, "plate", plate, confidence=_number(result, "confidence", where), scale=100.0,
                country=_text(result, "region", where), position=fmt.position, source_time=when, image_ref=uuid,
                event_id=f"{uuid}#{i}" if uuid else None,
                candidates=_candidates(result.get("candidates"), f"{where}.candidates")))
        return out
    raise AnprEventError(f"data_type: {kind!r} is not an OpenALPR / Rekor Scout result "
                         "(alpr_group, alpr_results, heartbeat)")


def _candidates(raw: Any, where: str) -> list[tuple[str, float | None]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AnprEventError(f"{where}: expected a list")
    out: list[tuple[str, float | None]] = []
    for i, cand in enumerate(raw[:20]):
        if not isinstance(cand, dict):
            raise AnprEventError(f"{where}[{i}]: expected an object")
        plate = _text(cand, "plate", f"{where}[{i}]")
        if plate is not None:
            out.append((plate, _number(cand, "confidence", f"{where}[{i}]")))
    return out


# -- Hikvision ISAPI ---------------------------------------------------------------------------------


_NO_PLATE = frozenset({"", "unknown", "none", "noplate", "无车牌", "车牌"})


def _hikvision(doc: dict[str, Any], source: str, host_time: float, fmt: AnprFormat,
               image: str | None) -> list[Event]:
    if "EventNotificationAlert" in doc and isinstance(doc["EventNotificationAlert"], dict):
        doc = doc["EventNotificationAlert"]  # a JSON device that wraps the alert
    event_type = _text(doc, "eventType", "EventNotificationAlert")
    if event_type is None:
        raise AnprEventError("EventNotificationAlert.eventType: missing")
    if event_type.upper() != "ANPR":
        return []  # videoloss heartbeats, motion ...: not a plate
    anpr = doc.get("ANPR")
    if not isinstance(anpr, dict):
        raise AnprEventError("EventNotificationAlert.ANPR: missing")
    where = "EventNotificationAlert.ANPR"
    when_text = _text(doc, "dateTime", "EventNotificationAlert")
    source_time = _iso(when_text, "EventNotificationAlert.dateTime") if when_text else None
    plate = _text(anpr, "licensePlate", where) or ""
    if plate.strip().lower() in _NO_PLATE:
        return [Trigger(source, host_time, kind="camera", source_time=source_time)]
    confidence = _number(anpr, "confidenceLevel", where)
    if confidence is None:
        confidence = _number(anpr, "confidence", where)
    event_id = _text(doc, "UUID", "EventNotificationAlert")
    if event_id is None:
        count = _text(doc, "activePostCount", "EventNotificationAlert")
        device = _text(doc, "macAddress", "EventNotificationAlert") or _text(doc, "ipAddress", "EventNotificationAlert")
        event_id = f"{device}#{count}" if device and count else None
    return [vehicle_read(source, host_time, "plate", plate, confidence=confidence, scale=100.0,
                         position=fmt.position, source_time=source_time, direction=_direction(anpr.get("direction")),
                         image_ref=image, event_id=event_id)]


def _xml_dict(body: bytes) -> dict[str, Any]:
    """The alert as nested dicts (namespaces dropped; a repeated element keeps its first value).

    Parsed with ``defusedxml``: DTDs, entities and external references are refused, so an XML bomb is
    a typed error and not a memory blow-up."""
    from xml.etree.ElementTree import Element, ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:  # LookupError: an unknown encoding
        raise AnprEventError(f"not well-formed XML ({type(exc).__name__}: {str(exc)[:120]})") from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def walk(el: Element, depth: int) -> Any:
        children = list(el)
        if not children:
            return (el.text or "").strip()
        if depth > 16:
            raise AnprEventError("XML nested deeper than 16 levels")
        out: dict[str, Any] = {}
        for child in children[:256]:
            out.setdefault(local(child.tag), walk(child, depth + 1))
        return out

    tree = walk(root, 0)
    if local(root.tag) != "EventNotificationAlert" or not isinstance(tree, dict):
        raise AnprEventError(f"the XML root is {local(root.tag)!r}, not EventNotificationAlert")
    return tree


def _multipart(body: bytes, content_type: str) -> tuple[bytes, str, str | None]:
    """(event part, its media type, the plate picture's name) of a multipart POST: the first part that is
    XML or JSON is the event; pictures are named, never kept.

    The body is cut at its boundary lines (RFC 2046 §5.1.1) and only the part headers are read: a
    camera's pictures are never scanned, decoded or copied."""
    boundary = _param(content_type, "boundary")
    if not boundary or len(boundary) > 200:
        raise AnprEventError("multipart body without a boundary")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise AnprEventError("multipart body that does not parse as multipart (no closing boundary)")
    event: tuple[bytes, str] | None = None
    picture: str | None = None
    for chunk in chunks[1:MAX_PARTS + 1]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = _headers(head)
        media = headers.get("content-type", "text/plain").split(";", 1)[0].strip().lower()
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "filename") or _param(disposition, "name")
        name = name[:128] if name else None
        data = data[:-2] if data.endswith(b"\r\n") else data
        if event is None and (media.endswith(("xml", "json")) or (name or "").lower().endswith((".xml", ".json"))):
            event = (data, media)
        elif media.startswith("image/") and name and (picture is None or "plate" in name.lower()):
            picture = name
    if event is None:
        raise AnprEventError("multipart body without an XML or JSON part")
    return event[0], event[1], picture


def _headers(head: bytes) -> dict[str, str]:
    """A part's header lines, by lower-case name (the first of each; folded lines are not used by cameras)."""
    out: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[:32]:
        name, sep, value = line.partition(":")
        if sep:
            out.setdefault(name.strip().lower(), value.strip())
    return out


def _param(header: str, name: str) -> str | None:
    """A parameter of a structured header value (``multipart/form-data; boundary=x``), unquoted."""
    for item in header.split(";")[1:]:
        key, sep, value = item.partition("=")
        if sep and key.strip().lower() == name:
            return value.strip().strip('"') or None
    return None


# -- generic JSON ------------------------------------------------------------------------------------


def _generic(doc: dict[str, Any], source: str, host_time: float, fmt: AnprFormat) -> list[Event]:
    m = fmt.mapping
    if m.match is not None and str(_path(doc, m.match[0])) != m.match[1]:
        return []
    items: list[Any] = [doc]
    if m.items is not None:
        found = _path(doc, m.items)
        if not isinstance(found, list):
            raise AnprEventError(f"{m.items}: expected a list of events")
        items = found[:MAX_EVENTS]
    kind: VehicleKind = "plate" if m.plate is not None else "container"
    code_path = m.plate or m.container or ""
    out: list[Event] = []
    for i, item in enumerate(items):
        at = f"{m.items}[{i}]." if m.items is not None else ""
        code = _path(item, code_path)
        if not isinstance(code, (str, int)) or isinstance(code, bool) or str(code).strip() == "":
            raise AnprEventError(f"{at}{code_path}: missing or not text")
        confidence = _path(item, m.confidence) if m.confidence else None
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
            raise AnprEventError(f"{at}{m.confidence}: not a number")
        when = _path(item, m.time) if m.time else None
        source_time = _when(when, m.time_unit, f"{at}{m.time}") if when is not None else None
        position = fmt.position if fmt.position != "unknown" or kind == "plate" else "container"
        out.append(vehicle_read(
            source, host_time, kind, str(code), confidence=confidence, scale=m.scale,
            country=_opt_text(item, m.country), position=position, source_time=source_time,
            direction=_direction(_path(item, m.direction) if m.direction else None),
            image_ref=_opt_text(item, m.image, 512), event_id=_opt_text(item, m.event_id)))
    return out


def _path(doc: Any, path: str) -> Any:
    """The value at ``a.b[0].c`` (``None`` where the document has no such field)."""
    value = doc
    for name, index in _STEP.findall(path):
        if name:
            value = value.get(name) if isinstance(value, dict) else None
        else:
            i = int(index)
            value = value[i] if isinstance(value, list) and i < len(value) else None
        if value is None:
            return None
    return value


def _opt_text(item: Any, path: str | None, limit: int = 128) -> str | None:
    if path is None:
        return None
    value = _path(item, path)
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit]


# -- fields --------------------------------------------------------------------------------------------


def _text(doc: dict[str, Any], key: str, where: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AnprEventError(f"{where}.{key}: expected text, got {type(value).__name__}")
    return str(value)[:128]


def _number(doc: dict[str, Any], key: str, where: str) -> float | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise AnprEventError(f"{where}.{key}: expected a number, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnprEventError(f"{where}.{key}: expected a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise AnprEventError(f"{where}.{key}: not a finite number")
    return number


def _epoch(value: float | None, unit: str, where: str) -> float | None:
    if value is None:
        return None
    seconds = value / 1000.0 if unit == "ms" else value
    if not 0 <= seconds < 32_503_680_000:  # before the year 3000
        raise AnprEventError(f"{where}: {value!r} is not a time")
    return round(seconds, 6)


def _iso(text: str, where: str) -> float:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AnprEventError(f"{where}: {text[:40]!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a camera without an offset: taken as UTC
    return round(when.timestamp(), 6)


def _when(value: Any, unit: str, where: str) -> float:
    if isinstance(value, str) and unit in ("iso", "auto") and not value.replace(".", "", 1).isdigit():
        return _iso(value, where)
    if isinstance(value, bool):
        raise AnprEventError(f"{where}: not a time")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnprEventError(f"{where}: {str(value)[:40]!r} is not a time") from None
    if not math.isfinite(number):
        raise AnprEventError(f"{where}: not a finite number")
    if unit == "auto":
        unit = "ms" if number > 1e11 else "s"
    result = _epoch(number, unit, where)
    assert result is not None
    return result


def _direction(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()[:32]
    return text or None


__all__ = ["PRESETS", "AnprEventError", "AnprFormat", "Event", "Mapping", "parse_body", "parse_document"]
