"""An enriched record as the central side reads it off the wire: topic + CloudEvents JSON, nothing else.

The pre-clearance simulator and its store see the gateway only through its contract
(``docs/mqtt-topics.md``): the topic ``{base}/customs/{site}/{gw}/enriched/{lane}`` and the structured
CloudEvent whose ``data`` is the enriched record (``EnrichedData``: ``revision``, ``observation.eventHash``,
``passage.id``, ``links[].mrn``, ``flags[]``, ``routing[]``).  :func:`parse_enriched` keeps what the
rules and the store need and the payload bytes as received; anything else raises :class:`BadRecord`
with the field path, so one bad message is reported and skipped, never fatal.

>>> import json
>>> topic = "bx/v1/customs/de-ffo/gw-1/enriched/lane1"
>>> body = {"specversion": "1.0", "type": "org.example.bx.lane.enriched.v1", "source": "urn:x",
...         "id": "ni:///sha-256;ab?ver=CBV2.0#customs/r2", "time": "2025-03-01T10:15:00.250Z",
...         "data": {"revision": 2, "observation": {"eventHash": "ni:///sha-256;ab?ver=CBV2.0"},
...                  "passage": {"id": "lane1-20250301T101450.000Z-7", "lane": "lane1"},
...                  "links": [{"mrn": "25DE0040560000002A"}], "flags": [{"code": "HS_MISMATCH",
...                  "severity": "high"}], "routing": [{"agency": "VET", "present": False,
...                  "expectedDocs": ["N853"]}]}}
>>> r = parse_enriched(topic, json.dumps(body).encode())
>>> r.gateway, r.passage_id, r.revision, r.mrns
('gw-1', 'lane1-20250301T101450.000Z-7', 2, ('25DE0040560000002A',))
>>> r.flags, r.routing
((('HS_MISMATCH', 'high'),), (('VET', False, ('N853',)),))
>>> parse_enriched(topic, b'{"specversion": "1.0", "id": "x", "data": {"revision": 0}}')
Traceback (most recent call last):
  ...
simulators.preclearance.records.BadRecord: data.revision: must be an integer >= 1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

ENRICHED_FILTER = "{base}/customs/+/+/enriched/+"


class BadRecord(ValueError):
    """A message that is not an enriched record: ``path`` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True, slots=True)
class EnrichedRecord:
    ce_id: str  # CloudEvents id: {eventHash}#customs/r{revision}; the idempotency key
    ce_type: str
    time: datetime | None
    subject: str | None
    site: str
    gateway: str
    lane: str
    passage_id: str
    event_hash: str
    revision: int
    local_decision: str | None  # the gateway's own proceed / go_to_bay
    mrns: tuple[str, ...]  # linked declarations, sorted, unique
    flags: tuple[tuple[str, str], ...]  # (code, severity)
    routing: tuple[tuple[str, bool | None, tuple[str, ...]], ...]  # (agency, documents present, expected)
    payload: bytes  # as received


def split_topic(topic: str, base: str = "bx/v1") -> tuple[str, str, str]:
    """(site, gateway, lane) of an enriched topic under ``base``."""
    prefix = base.rstrip("/") + "/"
    parts = topic[len(prefix):].split("/") if topic.startswith(prefix) else []
    if len(parts) != 5 or parts[0] != "customs" or parts[3] != "enriched" or not all(parts):
        raise BadRecord("(topic)", f"not {prefix}customs/{{site}}/{{gw}}/enriched/{{lane}}")
    return parts[1], parts[2], parts[4]


def _get(obj: Any, path: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    node = obj
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            if required:
                raise BadRecord(path, "missing")
            return None
        node = node[key]
    if node is None and not required:
        return None
    if not isinstance(node, kind) or (kind is str and not node):
        raise BadRecord(path, f"must be {getattr(kind, '__name__', 'of the right type')}")
    return node


def parse_enriched(topic: str, payload: bytes, base: str = "bx/v1") -> EnrichedRecord:
    """The enriched record of one message (see the module doc); :class:`BadRecord` when it is not one."""
    site, gateway, lane = split_topic(topic, base)
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadRecord("(payload)", f"not UTF-8 JSON ({exc})") from None
    if not isinstance(event, dict):
        raise BadRecord("(payload)", "not a JSON object")
    if event.get("specversion") != "1.0":
        raise BadRecord("specversion", "must be '1.0' (a structured CloudEvent)")
    ce_id = _get(event, "id", str)
    data = _get(event, "data", dict)
    revision = data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise BadRecord("data.revision", "must be an integer >= 1")
    event_hash = _get(event, "data.observation.eventHash", str)
    passage_id = _get(event, "data.passage.id", str)
    time_text = _get(event, "time", str, required=False)
    try:
        when = datetime.fromisoformat(time_text) if time_text else None
    except ValueError:
        raise BadRecord("time", "not an RFC 3339 time") from None
    if when is not None and when.tzinfo is None:
        raise BadRecord("time", "has no UTC offset")
    mrns = sorted({str(link["mrn"]) for link in _list(data, "links") if isinstance(link.get("mrn"), str)})
    flags = tuple((str(f["code"]), str(f["severity"])) for f in _list(data, "flags")
                  if isinstance(f.get("code"), str) and isinstance(f.get("severity"), str))
    routing = tuple((str(r["agency"]).upper(), r.get("present") if isinstance(r.get("present"), bool) else None,
                     tuple(str(d) for d in r.get("expectedDocs") or () if isinstance(d, str)))
                    for r in _list(data, "routing") if isinstance(r.get("agency"), str))
    decision = data.get("decision")
    return EnrichedRecord(
        ce_id=ce_id, ce_type=str(event.get("type") or ""), time=when,
        subject=event.get("subject") if isinstance(event.get("subject"), str) else None,
        site=site, gateway=gateway, lane=lane, passage_id=passage_id, event_hash=event_hash, revision=revision,
        local_decision=decision if isinstance(decision, str) else None, mrns=tuple(mrns), flags=flags,
        routing=routing, payload=payload)


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise BadRecord(f"data.{key}", "must be a list")
    return [item for item in value if isinstance(item, dict)]
