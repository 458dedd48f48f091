"""The pre-clearance simulator's risk rules: declarations and enriched records in, ``bx.decision.v1`` out.

No I/O and no clock (``now`` is passed in); the only randomness is a seeded draw per subject, a hash of
``(seed, subject)``, so the same seed gives the same decisions in any order and in every member of a
shared subscription.  Each agency decides each subject at most once per outcome; a decision id is a
hash of ``(seed, subject, agency, outcome)``, so two members deciding the same thing send the same id
and the gateway's idempotency (by decision id) keeps one.

**Before arrival** (a pre-lodged declaration, subject ``mrn``), per declaration:

1. *SPS / CITES*: each agency that the gateway's routing table (``agency_routing.yaml``, audience
   ``sps`` or ``cites``) names for a goods item's HS code decides ``documentary-check`` (configurable:
   ``sps_outcome``), or ``physical-inspection`` when none of the documents it expects is referenced
   (reasons ``{AGENCY}-DOCS`` or ``{AGENCY}-DOC-MISSING`` and the expected document codes).
2. *Customs*: ``physical-inspection`` for a seeded share of subjects (``random_inspection``, reason
   ``RANDOM``), ``release`` otherwise (reason ``LOW-RISK``).

**After the passage** (an enriched record), in addition:

3. *Flags*: a ``critical`` flag makes customs ``hold`` the passage, a ``high`` one sends it to
   ``physical-inspection`` (subject ``passageId``, reasons = the flag codes, ``location`` = the bay).
4. *Late declarations*: each linked MRN not decided before arrival gets rules 1-2, the SPS agencies
   taken from the record's ``routing`` (what the gateway found); subject ``mrn``.
5. *No declaration*: a record that links no MRN gets rules 1-2 on the passage itself (subject
   ``passageId``), except customs when rule 3 already decided it.

Outcomes only go up: a subject and agency already decided at an equal or higher rank is not sent again.

>>> from datetime import UTC, datetime
>>> from gateway.enrichment.declaration import Declaration
>>> desk = Desk(Rules(seed=1, random_inspection=0.0))
>>> beef = Declaration.model_validate({"declarationRef": {"mrn": "25DE0040560000002A"},
...     "customsOfficeOfFirstEntry": "DE004056", "houseConsignments": [{"goodsItems": [
...     {"seq": 1, "description": "Frozen beef", "hs6": "020230"}]}]})
>>> [(d.agency, d.outcome, d.reason_codes) for d in desk.before_arrival(beef, datetime(2025, 3, 1, tzinfo=UTC))]
[('VET', 'physical-inspection', ['VET-DOC-MISSING', 'N853']), ('CUSTOMS', 'release', ['LOW-RISK'])]
>>> desk.before_arrival(beef, datetime(2025, 3, 1, tzinfo=UTC))  # decided already: nothing new
[]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from gateway.decisions.model import OUTCOME_RANK, Decision, Outcome
from gateway.enrichment.declaration import Declaration
from gateway.enrichment.rules import RoutingTable, load_routing
from simulators.preclearance.records import EnrichedRecord

CUSTOMS = "CUSTOMS"
_AGENCY_MAX = 16


@dataclass(frozen=True)
class Rules:
    """The knobs of the rules (see the module doc)."""

    seed: int = 0
    random_inspection: float = 0.05  # share of subjects customs inspects at random
    sps_outcome: Outcome = "documentary-check"  # SPS/CITES outcome when the expected documents are there
    validity_s: float = 86_400.0  # validUntil = issuedAt + this
    bay: str = "inspection bay"  # location given with physical-inspection and hold
    routing_path: str | None = None  # agency_routing.yaml (default: the gateway's)

    def __post_init__(self) -> None:
        if not 0.0 <= self.random_inspection <= 1.0:
            raise ValueError(f"random_inspection is a share between 0 and 1, got {self.random_inspection}")
        if self.validity_s <= 0:
            raise ValueError("validity_s must be positive")

    def draw(self, kind: str, subject: str) -> float:
        """The subject's seeded number in [0, 1): the same for every member, in any order."""
        digest = hashlib.sha256(f"{self.seed}|{kind}|{subject}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    @cached_property
    def routing(self) -> RoutingTable:
        return load_routing(self.routing_path)

    @cached_property
    def border_agencies(self) -> frozenset[str]:
        """The SPS and CITES agencies of the routing table (audience ``sps`` or ``cites``)."""
        return frozenset(e.agency.upper() for e in self.routing.agencies if e.audience in ("sps", "cites"))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one agency decides about one subject, before it becomes a :class:`Decision`."""

    kind: str  # mrn | passage
    subject: str
    agency: str
    outcome: Outcome
    reasons: tuple[str, ...]


@dataclass
class Desk:
    """The central desk: applies :class:`Rules` and remembers what it sent (outcomes only go up)."""

    rules: Rules = field(default_factory=Rules)
    sent: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (kind, subject, agency) -> rank
    decided_mrns: set[str] = field(default_factory=set)

    def before_arrival(self, declaration: Declaration, now: datetime) -> list[Decision]:
        """Rules 1-2 for a pre-lodged declaration."""
        agencies: dict[str, _Routed] = {}
        for house in declaration.house_consignments:
            docs = [d.type for d in house.supporting_documents]
            for item in house.goods_items:
                for entry in self.rules.routing.match(item.hs6):
                    if entry.audience not in ("sps", "cites"):
                        continue
                    present = any(t in docs for t in entry.expected_docs) if entry.expected_docs else None
                    _route(agencies, entry.agency.upper(), present, entry.expected_docs)
        self.decided_mrns.add(declaration.mrn)
        verdicts = [*self._agencies("mrn", declaration.mrn, agencies), self._customs("mrn", declaration.mrn)]
        return self._issue(verdicts, now, office=declaration.customs_office_of_first_entry)

    def after_passage(self, record: EnrichedRecord, now: datetime) -> list[Decision]:
        """Rules 3-5 for an enriched record (any revision)."""
        verdicts: list[Verdict] = []
        severities = {severity for _code, severity in record.flags}
        flagged = "critical" in severities or "high" in severities
        if flagged:
            level = "critical" if "critical" in severities else "high"
            codes = sorted({code for code, severity in record.flags if severity in ("critical", "high")})
            verdicts.append(Verdict("passage", record.passage_id, CUSTOMS,
                                    "hold" if level == "critical" else "physical-inspection", tuple(codes)))
        routed: dict[str, _Routed] = {}
        for agency, present, expected in record.routing:
            if agency in self.rules.border_agencies:
                _route(routed, agency, present, expected)
        late = [mrn for mrn in record.mrns if mrn not in self.decided_mrns]
        for mrn in late:
            self.decided_mrns.add(mrn)
            verdicts += [*self._agencies("mrn", mrn, routed), self._customs("mrn", mrn)]
        if not record.mrns:
            verdicts += self._agencies("passage", record.passage_id, routed)
            if not flagged:
                verdicts.append(self._customs("passage", record.passage_id))
        return self._issue(verdicts, now)

    # -- helpers -------------------------------------------------------------------------------------

    def _agencies(self, kind: str, subject: str, agencies: dict[str, _Routed]) -> list[Verdict]:
        out = []
        for agency, (present, docs) in sorted(agencies.items()):
            expected = sorted(docs)
            if present is False:
                out.append(Verdict(kind, subject, agency, "physical-inspection",
                                   (f"{agency}-DOC-MISSING", *expected)))
            else:
                out.append(Verdict(kind, subject, agency, self.rules.sps_outcome, (f"{agency}-DOCS", *expected)))
        return out

    def _customs(self, kind: str, subject: str) -> Verdict:
        if self.rules.draw(kind, subject) < self.rules.random_inspection:
            return Verdict(kind, subject, CUSTOMS, "physical-inspection", ("RANDOM",))
        return Verdict(kind, subject, CUSTOMS, "release", ("LOW-RISK",))

    def _issue(self, verdicts: Iterable[Verdict], now: datetime, office: str | None = None) -> list[Decision]:
        out = []
        for v in verdicts:
            key = (v.kind, v.subject, v.agency)
            rank = OUTCOME_RANK[v.outcome]
            if self.sent.get(key, -1) >= rank:
                continue
            self.sent[key] = rank
            out.append(self._decision(v, now, office))
        return out

    def _decision(self, v: Verdict, now: datetime, office: str | None) -> Decision:
        digest = hashlib.sha256(f"{self.rules.seed}|{v.kind}|{v.subject}|{v.agency}|{v.outcome}".encode())
        subject = {"mrn": v.subject} if v.kind == "mrn" else {"passage_id": v.subject}
        where = self.rules.bay if v.outcome in ("physical-inspection", "hold") else None
        return Decision(decision_id=f"D-{digest.hexdigest()[:24]}", outcome=v.outcome,
                        agency=v.agency[:_AGENCY_MAX], reason_codes=list(_codes(v.reasons)), issued_at=now,
                        valid_until=now + timedelta(seconds=self.rules.validity_s), office=office,
                        location=where, **subject)


_Routed = tuple[bool | None, set[str]]  # (expected documents present, their codes)


def _route(into: dict[str, _Routed], agency: str, present: bool | None, expected: Sequence[str]) -> None:
    before, docs = into.get(agency, (True, set()))
    into[agency] = (_worst(before, present), docs | set(expected))


def _worst(a: bool | None, b: bool | None) -> bool | None:
    """Documents present: False (missing somewhere) wins over True, True over None (nothing expected)."""
    if a is False or b is False:
        return False
    return True if (a or b) else None


def _codes(reasons: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for r in reasons:
        if r not in seen:
            seen.append(r)
    return seen[:20]
