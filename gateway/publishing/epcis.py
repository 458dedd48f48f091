"""EPCIS 2.0 events for a lane passage.

Each closed passage with identifiers becomes an ``ObjectEvent`` (action ``OBSERVE``) over every
identifier seen, plus an ``AggregationEvent`` (``OBSERVE``) when exactly one logistic unit (SSCC)
was read together with trade items.  Locations are GLN Digital Links, the lane being the GLN
extension (AI 254); GSIN/GINC labels become ``bol`` business transactions and declaration MRNs a
business transaction of a private type.  ``eventID`` is the CBV 2.0 event hash of the core event.

>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, SeenIdentifier
>>> sscc = SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]), Evidence(1.0, 2.0, 3))
>>> p = Passage(id="p-1", lane="LANE03", direction="inbound", state="closed", opened_at=0.5,
...             closed_at=1_740_824_100.25, identifiers=(sscc,))
>>> ctx = EpcisContext(lane="LANE03", read_point_gln="4012345000009", timezone="Europe/Berlin")
>>> events = build_events(p, ctx)
>>> e = events.object_event
>>> e["eventTime"], e["eventTimeZoneOffset"], e["bizStep"], e["readPoint"]["id"]
('2025-03-01T10:15:00.250Z', '+01:00', 'arriving', 'https://id.gs1.org/414/4012345000009/254/LANE03')
>>> e["eventID"] == events.event_hash == event_hash(e)
True

Which bizStep: ``arriving`` inbound, ``departing`` outbound (CBV 2.0 has no ``releasing``), or
``inspecting``/``sampling``/``holding`` for secondary-inspection bays (per-lane configuration or an
explicit argument).  Identifiers that are neither objects nor transactions (GLN lane markers)
are not part of the event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gateway.lane.passage import Passage
from gateway.publishing import uris
from gateway.publishing.event_hash import event_hash

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
BizStep = Literal["arriving", "inspecting", "sampling", "holding", "departing"]
Disposition = Literal[
    "in_transit", "container_closed", "container_open", "conformant", "non_conformant",
    "mismatch_instance", "mismatch_class", "mismatch_quantity", "damaged", "expired", "recalled", "unknown",
]
_DEFAULT_DISPOSITION: dict[str, Disposition | None] = {
    "arriving": "in_transit", "departing": "in_transit", "inspecting": None, "sampling": None, "holding": None,
}


@dataclass(frozen=True, slots=True)
class EpcisContext:
    """Where and how a lane's events are stated (built once per lane from the configuration)."""

    lane: str
    read_point_gln: str | None = None  # GLN of the border post; None: no readPoint/bizLocation
    timezone: str = "UTC"
    vocabulary: str = "https://example.org/bx/voc/"
    mrn_uri: str = "urn:bx:mrn:{mrn}"
    biz_step: BizStep | None = None  # None: by direction

    @property
    def read_point(self) -> str | None:
        return uris.gln_uri(self.read_point_gln, self.lane) if self.read_point_gln else None

    @property
    def mrn_type(self) -> str:
        return self.vocabulary + "BTT-entrySummaryDeclaration"


@dataclass(frozen=True, slots=True)
class PassageEvents:
    """The EPCIS events of one passage; ``event_hash`` (of the ObjectEvent) identifies the observation."""

    object_event: dict[str, Any]
    aggregation_event: dict[str, Any] | None = None
    event_hash: str = field(default="")

    @property
    def events(self) -> list[dict[str, Any]]:
        return [self.object_event] + ([self.aggregation_event] if self.aggregation_event else [])

    def document(self, created: datetime | float | None = None) -> dict[str, Any]:
        """An ``EPCISDocument`` carrying the events, ready for an EPCIS repository's capture interface
        (``created``: its ``creationDate``, default now)."""
        return {
            "@context": [EPCIS_CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": format_time(created if created is not None else datetime.now(UTC)),
            "epcisBody": {"eventList": self.events},
        }


def format_time(moment: datetime | float) -> str:
    """UTC with milliseconds and ``Z``: the form the CBV hash canonicalises to.

    >>> format_time(1_740_824_100.2504), format_time(datetime(2025, 3, 1, 11, 15, tzinfo=ZoneInfo("Europe/Berlin")))
    ('2025-03-01T10:15:00.250Z', '2025-03-01T10:15:00.000Z')
    """
    if not isinstance(moment, datetime):
        # Same result as datetime.fromtimestamp(round(moment, 3), UTC), without building a datetime.
        seconds, millis = divmod(round(round(moment, 3) * 1000), 1000)
        return f"{_second(seconds)}.{millis:03d}Z"
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def _offset(zone: str, moment: float) -> str:
    delta = datetime.fromtimestamp(moment, ZoneInfo(zone)).utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def event_time(passage: Passage) -> float:
    """When the passage is stated to have happened: its end, else its last read, else its start."""
    if passage.closed_at is not None:
        return passage.closed_at
    seen = [s.evidence.last_seen for s in passage.identifiers]
    return max(seen) if seen else passage.opened_at


def _biz_step(passage: Passage, ctx: EpcisContext) -> BizStep:
    if ctx.biz_step is not None:
        return ctx.biz_step
    return "departing" if passage.direction == "outbound" else "arriving"


def _quantities(classes: dict[str, int]) -> list[dict[str, Any]]:
    return [{"epcClass": uri, "quantity": count} for uri, count in sorted(classes.items())]


def build_events(
    passage: Passage,
    ctx: EpcisContext,
    *,
    mrns: Sequence[str] = (),
    biz_step: BizStep | None = None,
    disposition: Disposition | None = None,
) -> PassageEvents:
    """The EPCIS events for ``passage``; raises ``ValueError`` when it carried no identifiers."""
    epcs: list[str] = []
    classes: dict[str, int] = {}
    transactions: list[dict[str, str]] = []
    ssccs: list[str] = []
    items: list[str] = []
    item_classes: dict[str, int] = {}
    for seen in passage.identifiers:
        ident = seen.identifier
        if (uri := uris.instance_uri(ident)) is not None:
            if uri not in epcs:
                epcs.append(uri)
                (ssccs if ident.key_type == "sscc" else items).append(uri)
        elif (uri := uris.class_uri(ident)) is not None:
            # Class-level reads (no serial) are indistinguishable: count distinct identifiers seen.
            classes[uri] = classes.get(uri, 0) + 1
            item_classes[uri] = classes[uri]
        elif (uri := uris.transaction_uri(ident)) is not None:
            entry = {"type": "bol", "bizTransaction": uri}
            if entry not in transactions:
                transactions.append(entry)
    for mrn in mrns:
        entry = {"type": ctx.mrn_type, "bizTransaction": ctx.mrn_uri.format(mrn=mrn)}
        if entry not in transactions:
            transactions.append(entry)
    if not epcs and not classes:
        raise ValueError(f"passage {passage.id!r} carried no object identifiers: nothing to state in EPCIS")

    moment = event_time(passage)
    step = biz_step or _biz_step(passage, ctx)
    disp = disposition if disposition is not None else _DEFAULT_DISPOSITION[step]
    common: dict[str, Any] = {
        "eventTime": format_time(moment),
        "eventTimeZoneOffset": _offset(ctx.timezone, moment),
    }
    tail: dict[str, Any] = {"action": "OBSERVE", "bizStep": step}
    if disp:
        tail["disposition"] = disp
    if ctx.read_point_gln:
        tail["readPoint"] = {"id": uris.gln_uri(ctx.read_point_gln, ctx.lane)}
        tail["bizLocation"] = {"id": uris.gln_uri(ctx.read_point_gln)}
    if transactions:
        tail["bizTransactionList"] = transactions

    obj: dict[str, Any] = {"type": "ObjectEvent", **common, "epcList": epcs}
    if classes:
        obj["quantityList"] = _quantities(classes)
    obj.update(tail)
    obj_hash = event_hash(obj)
    obj = {"type": "ObjectEvent", "eventID": obj_hash, **{k: v for k, v in obj.items() if k != "type"}}

    agg: dict[str, Any] | None = None
    if len(ssccs) == 1 and (items or item_classes):
        # One pallet and its cases read together; with two pallets we cannot tell whose cases they are.
        agg = {"type": "AggregationEvent", **common, "parentID": ssccs[0]}
        if items:
            agg["childEPCs"] = items
        if item_classes:
            agg["childQuantityList"] = _quantities(item_classes)
        agg.update(tail)
        agg = {"type": "AggregationEvent", "eventID": event_hash(agg),
               **{k: v for k, v in agg.items() if k != "type"}}
    return PassageEvents(obj, agg, obj_hash)
