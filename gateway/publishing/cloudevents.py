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


#: compact UTF-8 JSON; one encoder instance (``json.dumps`` with options builds one per call)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_json(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")
