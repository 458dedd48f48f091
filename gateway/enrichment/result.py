"""The enrichment result: what matching a closed passage to declarations found.

This module is the one vocabulary shared by enrichment and publishing: :class:`Link`,
:class:`Product`, :class:`Party`, :class:`Flag`, :class:`Routing`, :class:`DocumentRef` and
:data:`Severity` are what the enrichment builds *and* what the customs record on the wire is made
of.  Nobody copies or remaps them: :mod:`gateway.publishing.compose` serialises the blocks of an
:class:`EnrichmentResult` with pydantic (``by_alias=True``: camelCase on the wire), and the
committed JSON Schemas of the MQTT contract are generated from these same classes.

* A field marked ``exclude=True`` is the enrichment's own (e.g. which declaration an item came
  from): it is never serialised, so never published.  Every other field of a published class is on
  the wire and must be classified per audience in :data:`gateway.publishing.projections.CLASSIFICATION`
  (a test fails otherwise), which decides who sees it.
* A rule reference is :class:`RuleRef` here and ``"id@version"`` on the wire (``str(rule)``).
* A field's ``description`` is the published contract's wording.

Data classes (for the audience projections; see the research note §4.4 and §5):

* **personal data** — ``Party.name``, ``Party.eori``, ``Party.address`` *when*
  ``Party.natural_person`` is true (ICS2 CL729 type of person 1): mask outside customs.
* **values** — ``Product.value`` and ``Product.currency`` (item amount invoiced / customs value):
  customs only.
* **rule logic** — ``Flag.rule``, ``Flag.evidence``, ``Link.via``, ``Link.confidence``,
  ``IdentifierMatch.via``, ``IdentifierMatch.confidence``, ``EnrichmentResult.rules_version``:
  customs only.  The whole ``flags`` list is law-enforcement sensitive (customs only).
* everything else (HS6, description, quantities, weights, SSCC lists, seals, document refs,
  origin, legal-person names) may go to the SPS / CITES agencies.

>>> flag = Flag(code="SPS_DOC_MISSING", severity="high", rule=RuleRef(id="R-SPS-DOC", version="1"),
...             evidence={"hs6": "020230", "expected_docs": ["N853"]}, goods_item_seq=1)
>>> result = EnrichmentResult(passage_id="p-1", lane="lane1", flags=[flag])
>>> result.model_dump(mode="json", by_alias=True, exclude_none=True, include={"flags"})
{'flags': [{'code': 'SPS_DOC_MISSING', 'severity': 'high', 'rule': 'R-SPS-DOC@1', 'evidence': {'hs6': '020230', \
'expected_docs': ['N853']}}]}
>>> result.has_flag("SPS_DOC_MISSING"), result.max_severity, result.decision
(True, 'high', 'go_to_bay')

A consumer reads what it received with the same models (camelCase keys, the rule as its text):

>>> Flag.model_validate_json(flag.model_dump_json(by_alias=True)).rule
RuleRef(id='R-SPS-DOC', version='1')
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, AliasGenerator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from gateway.config.decisions import Outcome, SignalState

#: How serious a flag is; ``high`` and ``critical`` send the vehicle to the inspection bay.  Flag rule
#: files may still say ``info``, read as ``low`` (see :mod:`gateway.enrichment.rules`).
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
#: The ops outcome of a passage, without its reasons.
Decision = Literal["proceed", "go_to_bay"]

#: expected & seen, expected & missing, seen & unexpected (+ seen but not matched as goods, e.g. GRAI)
MatchStatus = Literal["expected_seen", "expected_missing", "seen_unexpected", "seen_not_goods"]


class _Model(BaseModel):
    # Built by field name; serialised with camelCase aliases (by_alias=True) as the wire spells them, and
    # read back from either spelling, so a consumer can validate what it received with these same models.
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=AliasGenerator(
        serialization_alias=to_camel, validation_alias=lambda name: AliasChoices(name, to_camel(name))))


class RuleRef(_Model):
    """Which rule fired (rule logic: customs only); ``id@version`` as text and on the wire."""

    id: str
    version: str

    def __str__(self) -> str:
        return f"{self.id}@{self.version}"


def _rule_from_text(value: Any) -> Any:
    """``"R-SPS-02@3"`` as received on the wire -> the fields of a :class:`RuleRef`."""
    if isinstance(value, str):
        rule_id, _, version = value.rpartition("@") if "@" in value else (value, "", "")
        return {"id": rule_id, "version": version}
    return value


# A rule reference is published as its text, "R-SPS-02@3", and read back from it.
_RuleText = Annotated[RuleRef, PlainSerializer(str, return_type=str), BeforeValidator(_rule_from_text)]


class DocumentRef(_Model):
    """A document a declaration references: its type code and reference."""

    type: str = Field(description="document type code (02A/D006), e.g. N853 (CHED-P), C085 (CITES)")
    reference: str | None = None


class DeclarationRef(_Model):
    mrn: str
    version: int
    lrn: str | None = None
    office: str | None = Field(None, description="customs office of first entry")
    vehicle_via: str | None = Field(None, description="how the vehicle was linked (rule id), if at all")


class Link(_Model):
    """One seen identifier linked to a declaration (research note §1.6)."""

    mrn: str
    version: int | None = Field(None, exclude=True, description="version of the linked declaration")
    house_ucr: str | None = None
    goods_item_seq: int | None = None
    # the identifier's canonical key (Identifier.key), e.g. an SSCC
    key: str | None = Field(None, description="the identifier (Digital Link) that matched, e.g. an SSCC")
    key_type: str | None = None
    via: str | None = Field(None, description="how the link was made (matching rule): customs only")
    confidence: float | None = Field(None, description="link confidence: customs only")
    documents: list[DocumentRef] = Field(default_factory=list)
    seals: list[str] = Field(default_factory=list)


class IdentifierMatch(_Model):
    """Per seen identifier, and per declared identifier never seen."""

    key_type: str
    key: str
    status: MatchStatus
    mrn: str | None = None
    goods_item_seq: int | None = None
    via: str | None = None
    confidence: float | None = None


class ItemMatch(_Model):
    """Per declared goods item: which of its declared SSCCs/GTINs were seen."""

    mrn: str
    goods_item_seq: int
    house_ucr: str | None = None
    hs6: str | None = None
    status: Literal["expected_seen", "expected_missing", "partially_seen"]
    ssccs_expected: list[str] = Field(default_factory=list)
    ssccs_seen: list[str] = Field(default_factory=list)
    ssccs_missing: list[str] = Field(default_factory=list)
    gtins_seen: list[str] = Field(default_factory=list)


class Product(_Model):
    """A seen GTIN with its master data next to what was declared.  ``value``/``currency``: customs only.

    ``origin`` is the ISO 3166 country of origin from master data or AI 422.
    """

    gtin: str | None = None
    description: str | None = None
    brand: str | None = Field(None, exclude=True)
    hs6_master: str | None = None
    hs6_declared: str | None = None
    cn8: str | None = None
    origin: str | None = None
    quantity: float | None = None
    unit: str | None = None
    gross_mass_kg: float | None = None
    net_mass_kg: float | None = None
    batch: str | None = Field(None, exclude=True)
    expiry: str | None = Field(None, exclude=True, description="ISO date from AI 17 / 7003")
    mrn: str | None = Field(None, exclude=True)
    goods_item_seq: int | None = Field(None, exclude=True)
    value: float | None = Field(None, description="item amount invoiced / customs value: customs only")
    currency: str | None = None


class Party(_Model):
    """A party of a linked declaration.  ``name``/``eori``/``address`` are PERSONAL DATA if natural_person."""

    role: str
    natural_person: bool = Field(False, description="ICS2 CL729: natural persons are masked outside customs")
    name: str | None = None
    eori: str | None = None
    gln: str | None = None
    lei: str | None = Field(None, exclude=True)
    country: str | None = None
    address: str | None = Field(None, exclude=True)
    aeo: str | None = None
    mrn: str | None = Field(None, exclude=True)


class Flag(_Model):
    """A discrepancy: its code, severity, the rule that raised it and the rule's inputs (customs only)."""

    code: str
    severity: Severity
    message: str | None = None
    rule: _RuleText | None = Field(None, title="Rule", description="rule id and version: customs only")
    evidence: dict[str, Any] | None = Field(None, description="rule inputs: customs only")
    mrn: str | None = Field(None, exclude=True)
    goods_item_seq: int | None = Field(None, exclude=True)


class Routing(_Model):
    """Per goods item and agency: the documents expected and whether the declaration references them.

    ``basis`` says why the agency is concerned (e.g. ``HS chapter 02``); ``present`` is ``None`` when
    the agency expects no document.
    """

    agency: str
    basis: str | None = None
    expected_docs: list[str] = Field(default_factory=list)
    present: bool | None = None
    documents: list[DocumentRef] = Field(default_factory=list, exclude=True)
    mrn: str | None = Field(None, exclude=True)
    goods_item_seq: int | None = Field(None, exclude=True)
    hs6: str | None = Field(None, exclude=True)
    audience: Literal["sps", "cites"] | None = Field(None, exclude=True,
                                                     description="publishing audience of the referral")
    name: str | None = Field(None, exclude=True, description="the agency's name")


class DecisionBasis(_Model):
    """One thing a lane decision was derived from: a central decision, a local flag, or the policy's default."""

    kind: Literal["central", "flag", "default"]
    ref: str = Field(description="the central decision's id, the flag's code (or missing-documents), or "
                     "no-central-outcome")
    outcome: Outcome = Field(description="the outcome this basis asks for")


class CentralOutcome(_Model):
    """A central decision that applied to the passage (its reason codes are never repeated here)."""

    decision_id: str
    outcome: Outcome
    agency: str
    issued_at: str = Field(description="RFC 3339")
    subject: str = Field(description="what it was decided for: mrn, movement or passage")


class LaneDecision(_Model):
    """What the lane was told for a closed passage, and why (:mod:`gateway.decisions.policy`)."""

    outcome: Outcome
    signal: SignalState = Field(description="the lane signal of the outcome")
    source: Literal["central", "local", "default"] = Field(
        description="central: a central outcome decided; local: a local flag raised it; default: no central "
        "outcome, the policy's default")
    derived_from: list[DecisionBasis] = Field(default_factory=list)
    central: list[CentralOutcome] = Field(default_factory=list)


class EnrichmentResult(_Model):
    passage_id: str
    lane: str
    evaluated_at: float | None = Field(None, description="the 'now' the matching used (UTC epoch seconds)")
    declaration_refs: list[DeclarationRef] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    identifiers: list[IdentifierMatch] = Field(default_factory=list)
    items: list[ItemMatch] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)
    parties: list[Party] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    routing: list[Routing] = Field(default_factory=list)
    rules_version: str | None = Field(None, description="version of the flag rule set (rule logic)")
    master_data: dict[str, str] = Field(default_factory=dict)
    lane_decision: LaneDecision | None = Field(None, description="the lane decision (decisions configured)")
    movement_refs: list[str] = Field(default_factory=list, exclude=True,
                                     description="the movements that linked declarations (decisions by movement)")

    def has_flag(self, code: str) -> bool:
        return any(flag.code == code for flag in self.flags)

    def flag_codes(self) -> list[str]:
        return sorted({flag.code for flag in self.flags})

    @property
    def mrns(self) -> list[str]:
        """The linked declarations' MRNs, sorted (the EPCIS event's business transactions)."""
        return sorted({link.mrn for link in self.links})

    @property
    def max_severity(self) -> Severity | None:
        if not self.flags:
            return None
        return max((flag.severity for flag in self.flags), key=SEVERITY_ORDER.__getitem__)

    @property
    def decision(self) -> Decision:
        """The lane's outcome: a high or critical flag, or an agency expecting a document the declaration
        does not reference, sends the vehicle to the inspection bay; anything else proceeds.  With a lane
        decision (``decisions`` configured), its signal decides: only ``proceed`` proceeds."""
        if self.lane_decision is not None:
            return "proceed" if self.lane_decision.signal == "proceed" else "go_to_bay"
        if any(flag.severity in ("high", "critical") for flag in self.flags):
            return "go_to_bay"
        if any(r.present is False for r in self.routing):
            return "go_to_bay"
        return "proceed"
