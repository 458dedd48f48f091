"""From the enrichment's result to the publishing payload blocks, in wire form.

The enrichment engine owns its own model (``gateway.enrichment.result.EnrichmentResult``); this
module copies only the fields the payload models know (snake_case or camelCase names), so a new
field over there is never published until it is added to a payload model *and* classified in
:mod:`gateway.publishing.projections`.

The blocks come out as plain camelCase dicts, exactly as the payload models would serialise them
(defaults filled in, ``None`` left out): the publisher's hot path never builds pydantic objects,
and the tests check these dicts against the models and the committed JSON Schemas.

>>> blocks = wire_blocks({"links": [{"mrn": "25DE000000000123A1", "confidence": 1.0, "x": 1}],
...                       "flags": [{"code": "SPS_DOC_MISSING", "severity": "warning"}]})
>>> blocks["links"][0]
{'mrn': '25DE000000000123A1', 'confidence': 1.0, 'documents': [], 'seals': []}
>>> blocks["flags"][0]["severity"], decide(blocks)
('medium', 'proceed')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel as _to_camel
from pydantic_core import PydanticUndefined

from gateway.publishing.payloads import DocumentRef, Flag, Link, Party, Product, Routing

to_camel = lru_cache(maxsize=512)(_to_camel)
_BLOCKS: dict[str, type[BaseModel]] = {
    "links": Link, "products": Product, "parties": Party, "flags": Flag, "routing": Routing}
_EXTRAS = ("decision", "rules_version", "master_data")
_SEVERITY = {"info": "low", "low": "low", "warning": "medium", "warn": "medium", "medium": "medium",
             "high": "high", "error": "high", "critical": "critical", "block": "critical"}


class BadEnrichment(ValueError):
    """An enrichment block lacks a field its payload model requires."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # snake_case, as the enrichment model spells it
    alias: str  # camelCase, on the wire
    required: bool
    default: Callable[[], Any] | None  # None: left out when absent


def _fields(model: type[BaseModel]) -> tuple[_Field, ...]:
    out = []
    for name, info in model.model_fields.items():
        default: Callable[[], Any] | None = None
        if info.default_factory is not None:
            default = info.default_factory  # type: ignore[assignment]
        elif info.default is not PydanticUndefined and info.default is not None:
            default = (lambda value: lambda: value)(info.default)
        out.append(_Field(name, info.alias or name, info.is_required(), default))
    return tuple(out)


_MODELS: tuple[type[BaseModel], ...] = (*_BLOCKS.values(), DocumentRef)
_FIELDS = {model: _fields(model) for model in _MODELS}


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    if isinstance(value, Mapping):
        return value
    return value


def _item(model: type[BaseModel], raw: Any, where: str) -> dict[str, Any]:
    data = _plain(raw)
    if not isinstance(data, Mapping):
        raise BadEnrichment(f"{where}: expected an object, got {type(data).__name__}")
    out: dict[str, Any] = {}
    for f in _FIELDS[model]:
        value = data.get(f.name)
        if value is None and f.alias != f.name:
            value = data.get(f.alias)
        if value is None:
            if f.default is not None:
                out[f.alias] = f.default()
            elif f.required:
                raise BadEnrichment(f"{where}: missing {f.name!r}")
            continue
        out[f.alias] = value
    if model is Flag:
        out["severity"] = _SEVERITY.get(str(out["severity"]).lower(), "medium")
        rule = out.get("rule")
        if isinstance(rule, Mapping):  # RuleRef {id, version} -> "id@version"
            out["rule"] = f"{rule.get('id')}@{rule.get('version')}" if rule.get("version") else str(rule.get("id"))
    elif model is Link and out["documents"]:
        docs = [_plain(d) for d in out["documents"]]
        out["documents"] = [_item(DocumentRef, d if isinstance(d, Mapping) else {"type": str(d)},
                                  f"{where}.documents[{i}]") for i, d in enumerate(docs)]
    return out


def wire_blocks(result: Any) -> dict[str, Any]:
    """``links``, ``products``, ``parties``, ``flags``, ``routing`` as wire dicts (+ ``decision``,
    ``rules_version``, ``master_data`` when the result has them); raises :class:`BadEnrichment`."""
    if isinstance(result, BaseModel):  # dump only what is published (not identifiers, items ...)
        keep = {name for name in (*_BLOCKS, *_EXTRAS) if name in type(result).model_fields}
        data: Any = result.model_dump(mode="json", include=keep)
    else:
        data = _plain(result) if result is not None else {}
    blocks: dict[str, Any] = {}
    for name, model in _BLOCKS.items():
        blocks[name] = [_item(model, raw, f"{name}[{i}]") for i, raw in enumerate(data.get(name) or ())]
    for name in _EXTRAS:
        value = data.get(name) or data.get(to_camel(name))
        if value is not None:
            blocks[name] = value
    if blocks.get("decision") not in (None, "proceed", "go_to_bay"):
        blocks.pop("decision")
    return blocks


def blocks_from_result(result: Any) -> dict[str, Any]:
    """:func:`wire_blocks` validated into the payload models (for tests and tools; slow)."""
    blocks = wire_blocks(result)
    for name, model in _BLOCKS.items():
        blocks[name] = [model.model_validate(item) for item in blocks[name]]
    return blocks


def decide(blocks: Mapping[str, Any]) -> str:
    """Ops outcome without reasons: a high or critical flag or an agency referral sends the vehicle to the bay."""
    if any(_get(f, "severity") in ("high", "critical") for f in blocks.get("flags", [])):
        return "go_to_bay"
    if any(_get(r, "present") is False for r in blocks.get("routing", [])):
        return "go_to_bay"
    return "proceed"


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
