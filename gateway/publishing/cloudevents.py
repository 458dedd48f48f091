"""CloudEvents 1.0 envelopes (structured JSON mode) and their ids.

Ids let consumers drop duplicates (QoS 1 is at-least-once) and tell corrections from repeats:

>>> h = "ni:///sha-256;2f11?ver=CBV2.0"
>>> projection_id(h, "customs", 1), projection_id(h, "sps", 2)
('ni:///sha-256;2f11?ver=CBV2.0#customs/r1', 'ni:///sha-256;2f11?ver=CBV2.0#sps/r2')

The plain observation uses the event hash itself; each enriched projection ``{hash}#{audience}/r{n}``,
where ``n`` grows with every re-enrichment (declaration amended, master data corrected) of the same
physical observation.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from gateway.publishing.payloads import Payload

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# schema id -> file name under gateway/publishing/schemas/
SCHEMA_FILES = {
    "bx.observation.v1": "observation.v1.json",
    "bx.enriched.v1": "enriched.v1.json",
    "bx.referral.sps.v1": "referral-sps.v1.json",
    "bx.referral.cites.v1": "referral-cites.v1.json",
    "bx.ops.decision.v1": "ops-decision.v1.json",
    "bx.flag.v1": "flag.v1.json",
    "bx.passage.v1": "passage.v1.json",
    "bx.status.v1": "status.v1.json",
    "bx.capabilities.v1": "capabilities.v1.json",
    "bx.lane-state.v1": "lane-state.v1.json",
    "bx.command-response.v1": "command-response.v1.json",
}


def projection_id(event_hash: str, audience: str, revision: int) -> str:
    return f"{event_hash}#{audience}/r{revision}"


def flag_id(event_hash: str, code: str, revision: int) -> str:
    return f"{event_hash}#flag/{code}/r{revision}"


def envelope(*, type_prefix: str, kind: str, source: str, id: str, time: str, schema_base: str, schema: str,
             data: Payload | dict[str, Any], subject: str | None = None) -> bytes:
    """The JSON bytes of a CloudEvent; ``data`` may be a projected dict (already in wire form)."""
    if isinstance(data, Payload):
        data = data.model_dump(mode="json", by_alias=True, exclude_none=True)
    head: dict[str, Any] = {"specversion": "1.0", "type": f"{type_prefix}.{kind}.v1", "source": source, "id": id,
                            "time": time}
    if subject:
        head["subject"] = subject
    head.update({"datacontenttype": "application/json", "dataschema": schema_base + SCHEMA_FILES[schema],
                 "data": data})
    return encode_json(head)


#: the fallback for what orjson refuses (integers beyond 64 bits, non-string keys)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class RawJson:
    """JSON that is already serialised, e.g. the EPCIS document that the observation and the enriched
    record both carry: :func:`encode_json` copies these bytes instead of encoding the structure again.

    Deliberately not a dataclass: orjson would serialise a dataclass field by field instead of asking
    :func:`_default`.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"RawJson({len(self.data)} bytes)"


def _default(value: Any) -> Any:
    if isinstance(value, RawJson):
        return orjson.Fragment(value.data)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII characters kept as they are).

    orjson does this about ten times faster than the standard library (the envelopes were most of the
    per-message CPU after SQLite).  What orjson refuses (integers beyond 64 bits, non-string keys)
    goes through the standard encoder, with the same compact output.

    >>> encode_json({"a": [1, 2.5, None], "doc": RawJson(b'{"type":"EPCISDocument"}')})
    b'{"a":[1,2.5,null],"doc":{"type":"EPCISDocument"}}'
    >>> encode_json({1: 2**70})
    b'{"1":1180591620717411303424}'
    """
    try:
        return orjson.dumps(value, default=_default)
    except TypeError:
        return _ENCODER.encode(_thaw(value)).encode("utf-8")


def _thaw(value: Any) -> Any:
    if isinstance(value, RawJson):
        return json.loads(value.data)
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value
