"""From the enrichment's result to the publishing payload blocks.

The enrichment engine owns its own model (``gateway.enrichment.result.EnrichmentResult``); this
module copies only the fields the payload models know (snake_case or camelCase names), so a new
field over there is never published until it is added to a payload model *and* classified in
:mod:`gateway.publishing.projections`.

>>> blocks = blocks_from_result({"links": [{"mrn": "25DE000000000123A1", "confidence": 1.0, "x": 1}],
...                              "flags": [{"code": "SPS_DOC_MISSING", "severity": "warning"}]})
>>> blocks["links"][0].mrn, blocks["flags"][0].severity, decide(blocks)
('25DE000000000123A1', 'medium', 'proceed')
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel as _to_camel

from gateway.publishing.payloads import Flag, Link, Party, Product, Routing

to_camel = lru_cache(maxsize=512)(_to_camel)
_BLOCKS: dict[str, type[BaseModel]] = {
    "links": Link, "products": Product, "parties": Party, "flags": Flag, "routing": Routing}
_SEVERITY = {"info": "low", "low": "low", "warning": "medium", "warn": "medium", "medium": "medium",
             "high": "high", "error": "high", "critical": "critical", "block": "critical"}


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _item(model: type[BaseModel], raw: Any) -> BaseModel:
    data = _plain(raw)
    known: dict[str, Any] = {}
    for name in model.model_fields:
        for key in (name, to_camel(name)):
            if key in data and data[key] is not None:
                known[name] = data[key]
                break
    if model is Flag and "severity" in known:
        known["severity"] = _SEVERITY.get(str(known["severity"]).lower(), "medium")
    if model is Flag and isinstance(known.get("rule"), Mapping):  # RuleRef {id, version} -> "id@version"
        rule = known["rule"]
        known["rule"] = f"{rule.get('id')}@{rule.get('version')}" if rule.get("version") else str(rule.get("id"))
    if model is Link and isinstance(known.get("documents"), list):
        docs = map(_plain, known["documents"])
        known["documents"] = [d if isinstance(d, Mapping) else {"type": str(d)} for d in docs]
    return model.model_validate(known)


def blocks_from_result(result: Any) -> dict[str, Any]:
    """``links``, ``products``, ``parties``, ``flags``, ``routing`` (+ ``decision``, ``rules_version``,
    ``master_data`` when the result has them) as payload models."""
    data = _plain(result) if result is not None else {}
    blocks: dict[str, Any] = {}
    for name, model in _BLOCKS.items():
        blocks[name] = [_item(model, raw) for raw in (data.get(name) or [])]
    for name in ("decision", "rules_version", "master_data"):
        value = data.get(name) or data.get(to_camel(name))
        if value is not None:
            blocks[name] = value
    if blocks.get("decision") not in (None, "proceed", "go_to_bay"):
        blocks.pop("decision")
    return blocks


def decide(blocks: Mapping[str, Any]) -> str:
    """Ops outcome without reasons: a high or critical flag or an agency referral sends the vehicle to the bay."""
    if any(f.severity in ("high", "critical") for f in blocks.get("flags", [])):
        return "go_to_bay"
    if any(r.present is False for r in blocks.get("routing", [])):
        return "go_to_bay"
    return "proceed"
