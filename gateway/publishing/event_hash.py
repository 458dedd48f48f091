"""The CBV 2.0 event hash (``ni:///sha-256;…?ver=CBV2.0``), computed offline.

CBV 2.0 section 8.9 identifies an EPCIS event by hashing a *pre-hash string*: the event type,
then each standard field in a fixed order as ``name=value`` with no separators, list elements
sorted, times in UTC with milliseconds, CBV values as full web-vocabulary URIs and numbers
without superfluous zeros.  ``eventID``, ``recordTime``, ``errorDeclaration`` and the JSON-LD
context do not take part, so ``eventID`` can carry the hash itself.

>>> event = {"type": "ObjectEvent", "eventTime": "2025-03-01T11:15:00.25+01:00",
...          "eventTimeZoneOffset": "+01:00", "epcList": ["https://id.gs1.org/00/340123450000000017"],
...          "action": "OBSERVE", "bizStep": "arriving"}
>>> prehash(event)[:88]
'eventType=ObjectEventeventTime=2025-03-01T10:15:00.250ZeventTimeZoneOffset=+01:00epcList'
>>> event_hash(event)[:15], event_hash(event).endswith("?ver=CBV2.0")
('ni:///sha-256;e', True)

The gateway hashes the *core* event only: extension fields (anything namespaced) would
change the hash, so they are refused with :class:`UnhashableEvent` rather than guessed at.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

CBV = "https://ref.gs1.org/cbv/"
_OLD_CBV = {
    "urn:epcglobal:cbv:bizstep:": CBV + "BizStep-",
    "urn:epcglobal:cbv:disp:": CBV + "Disp-",
    "urn:epcglobal:cbv:btt:": CBV + "BTT-",
    "urn:epcglobal:cbv:sdt:": CBV + "SDT-",
    "urn:epcglobal:cbv:er:": CBV + "ER-",
}
_IGNORED = frozenset({"type", "eventID", "recordTime", "errorDeclaration", "@context"})


class UnhashableEvent(ValueError):
    """The event has a field this implementation does not canonicalise (e.g. a user extension)."""


# Field order (CBV 2.0 8.9.1).  A spec is (field, kind, detail):
#   "value"  -> name=value           "list"  -> name + sorted(element_name=value)
#   "qlist"  -> name + sorted(quantityElement + epcClass/quantity/uom)
#   "object" -> name + ordered sub-fields   "pairs" -> name + sorted(type=..{detail}=..)
_QTY = ("epcClass", "quantity", "uom")
_ORDER: tuple[tuple[str, str, Any], ...] = (
    ("eventTime", "value", None),
    ("eventTimeZoneOffset", "value", None),
    ("certificationInfo", "value", None),
    ("parentID", "value", None),
    ("epcList", "list", "epc"),
    ("inputEPCList", "list", "epc"),
    ("childEPCs", "list", "epc"),
    ("quantityList", "qlist", None),
    ("childQuantityList", "qlist", None),
    ("inputQuantityList", "qlist", None),
    ("outputEPCList", "list", "epc"),
    ("outputQuantityList", "qlist", None),
    ("action", "value", None),
    ("transformationID", "value", None),
    ("bizStep", "value", "BizStep-"),
    ("disposition", "value", "Disp-"),
    ("persistentDisposition", "persistent", None),
    ("readPoint", "object", ("id",)),
    ("bizLocation", "object", ("id",)),
    ("bizTransactionList", "pairs", ("bizTransaction", "BTT-")),
    ("sourceList", "pairs", ("source", "SDT-")),
    ("destinationList", "pairs", ("destination", "SDT-")),
)
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_KNOWN = frozenset(name for name, _, _ in _ORDER) | _IGNORED


def _time(value: str) -> str:
    if _CANONICAL_TIME.fullmatch(value):
        return value  # already canonical (what epcis.format_time writes)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    # CBV: millisecond precision, rounded as Python's round() does in the reference implementation.
    moment = moment.replace(microsecond=0) + timedelta(microseconds=round(moment.microsecond, -3))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def canonical_number(value: float | int | str) -> str:
    """``3.0`` -> ``3``, ``2.50`` -> ``2.5``; non-numbers unchanged."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number == int(number) else str(number)


def _value(value: Any, vocabulary: str | None = None) -> str:
    if isinstance(value, str):
        text = value.strip()
        if ":" in text and not text.startswith("urn:epcglobal:cbv:"):
            return text  # a URI (no vocabulary prefix, never a number): the common case
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnhashableEvent(f"expected a scalar value, got {value!r}")
    else:
        return canonical_number(value)
    for old, new in _OLD_CBV.items():
        if text.startswith(old):
            return new + text[len(old):]
    if vocabulary and ":" not in text:  # bare CBV value, e.g. "arriving"
        return CBV + vocabulary + text
    return canonical_number(text) if _numeric(text) else text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field(name: str, kind: str, detail: Any, value: Any) -> str:
    if kind == "value":
        text = _time(value) if name == "eventTime" else _value(value, detail)
        return f"{name}={text}" if text else ""
    if kind == "list":
        items = sorted(f"{detail}={_value(v)}" for v in _seq(name, value))
        return name + "".join(items) if items else ""
    if kind == "qlist":
        items = sorted("quantityElement" + _object(name, q, _QTY) for q in _seq(name, value))
        return name + "".join(items) if items else ""
    if kind == "object":
        inner = _object(name, value, detail)
        return name + inner if inner else ""
    if kind == "persistent":
        parts = []
        for sub in ("set", "unset"):
            parts += sorted(f"{sub}={_value(v, 'Disp-')}" for v in _seq(name, value.get(sub, [])))
        if set(value) - {"set", "unset"}:
            raise UnhashableEvent(f"{name}: unexpected fields {sorted(set(value) - {'set', 'unset'})}")
        return name + "".join(parts) if parts else ""
    if kind == "pairs":
        element, vocabulary = detail
        items = []
        for entry in _seq(name, value):
            if not isinstance(entry, Mapping) or set(entry) - {"type", element}:
                raise UnhashableEvent(f"{name}: unexpected element {entry!r}")
            text = f"type={_value(entry['type'], vocabulary)}" if "type" in entry else ""
            items.append(text + f"{element}={_value(entry[element])}")
        # CBV keeps the type with its value; the elements themselves are sorted.
        return name + "".join(sorted(items)) if items else ""
    raise AssertionError(kind)


def _seq(name: str, value: Any) -> Sequence[Any]:
    if not isinstance(value, list):
        raise UnhashableEvent(f"{name} must be a list, got {type(value).__name__}")
    return value


def _object(name: str, value: Any, fields: tuple[str, ...]) -> str:
    if not isinstance(value, Mapping):
        raise UnhashableEvent(f"{name} must be an object, got {value!r}")
    extra = set(value) - set(fields)
    if extra:
        raise UnhashableEvent(f"{name}: unsupported fields {sorted(extra)}")
    texts = ((f, _value(value[f])) for f in fields if f in value)
    return "".join(f"{f}={text}" for f, text in texts if text)


def prehash(event: Mapping[str, Any]) -> str:
    """The CBV 2.0 pre-hash string of one EPCIS 2.0 JSON event."""
    unknown = sorted(set(event) - _KNOWN)
    if unknown:
        raise UnhashableEvent(f"{event.get('type', 'event')}: fields outside the hashed core: {unknown}")
    if "type" not in event:
        raise UnhashableEvent("event has no 'type'")
    parts = [f"eventType={event['type']}"]
    for name, kind, detail in _ORDER:
        if name in event and event[name] is not None:
            parts.append(_field(name, kind, detail, event[name]))
    return "".join(parts)


def event_hash(event: Mapping[str, Any]) -> str:
    """``ni:///sha-256;{hex}?ver=CBV2.0`` for ``event`` (its ``eventID`` is ignored)."""
    digest = hashlib.sha256(prehash(event).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
