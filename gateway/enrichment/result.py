"""The enrichment result: what matching a closed passage to declarations found.

This is the ``data`` the publisher embeds (``links``, ``products``, ``parties``, ``flags``,
``routing``) plus the per-item and per-identifier match status.  Field names are snake_case and
line up with :mod:`gateway.publishing.payloads`, so ``blocks_from_result`` copies them as they are.

Data classes (for the audience projections; see the research note §4.4 and §5):

* **personal data** — ``PartySummary.name``, ``PartySummary.eori``, ``PartySummary.address`` *when*
  ``PartySummary.natural_person`` is true (ICS2 CL729 type of person 1): mask outside customs.
* **values** — ``ProductSummary.value`` and ``ProductSummary.currency`` (item amount invoiced /
  customs value): customs only.
* **rule logic** — ``Flag.rule``, ``Flag.evidence``, ``Link.via``, ``Link.confidence``,
  ``IdentifierMatch.via``, ``IdentifierMatch.confidence``, ``EnrichmentResult.rules_version``:
  customs only.  The whole ``flags`` list is law-enforcement sensitive (customs only).
* everything else (HS6, description, quantities, weights, SSCC lists, seals, document refs,
  origin, legal-person names) may go to the SPS / CITES agencies.

>>> flag = Flag(code="SPS_DOC_MISSING", severity="high", rule=RuleRef(id="R-SPS-DOC", version="1"),
...             evidence={"hs6": "020230", "expected_docs": ["N853"]})
>>> result = EnrichmentResult(passage_id="p-1", lane="lane1", flags=[flag])
>>> result.model_dump(mode="json")["flags"][0]["rule"]
{'id': 'R-SPS-DOC', 'version': '1'}
>>> result.has_flag("SPS_DOC_MISSING"), result.max_severity
(True, 'high')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "low", "medium", "high"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3}

#: expected & seen, expected & missing, seen & unexpected (+ seen but not matched as goods, e.g. GRAI)
MatchStatus = Literal["expected_seen", "expected_missing", "seen_unexpected", "seen_not_goods"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleRef(_Model):
    """Which rule fired (rule logic: customs only)."""

    id: str
    version: str


class DocumentRef(_Model):
    type: str = Field(description="document type code (02A/D006), e.g. N853 (CHED-P)")
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
    version: int | None = None
    house_ucr: str | None = None
    goods_item_seq: int | None = None
    key: str | None = Field(None, description="the identifier's canonical key, e.g. an SSCC")
    key_type: str | None = None
    via: str | None = Field(None, description="linking rule id (rule logic: customs only)")
    confidence: float | None = Field(None, description="0..1 (rule logic: customs only)")
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


class ProductSummary(_Model):
    """A seen GTIN with its master data next to what was declared.  ``value``/``currency``: customs only."""

    gtin: str
    description: str | None = None
    brand: str | None = None
    hs6_master: str | None = None
    hs6_declared: str | None = None
    cn8: str | None = None
    origin: str | None = Field(None, description="ISO 3166 country of origin from master data or AI 422")
    quantity: float | None = None
    unit: str | None = None
    gross_mass_kg: float | None = None
    net_mass_kg: float | None = None
    batch: str | None = None
    expiry: str | None = Field(None, description="ISO date from AI 17 / 7003")
    mrn: str | None = None
    goods_item_seq: int | None = None
    value: float | None = Field(None, description="item amount invoiced: VALUE, customs only")
    currency: str | None = Field(None, description="VALUE, customs only")


class PartySummary(_Model):
    """A party of a linked declaration.  ``name``/``eori``/``address`` are PERSONAL DATA if natural_person."""

    role: str
    natural_person: bool = False
    name: str | None = None
    eori: str | None = None
    gln: str | None = None
    lei: str | None = None
    country: str | None = None
    address: str | None = None
    aeo: str | None = None
    mrn: str | None = None


class Flag(_Model):
    """``{"code", "severity", "rule": {"id", "version"}, "evidence"}`` (rule and evidence: customs only)."""

    code: str
    severity: Severity
    rule: RuleRef
    evidence: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    mrn: str | None = None
    goods_item_seq: int | None = None


class AgencyRouting(_Model):
    """Per goods item and agency: the documents expected and whether the declaration references them."""

    agency: str
    basis: str = Field(description="e.g. 'HS chapter 02'")
    expected_docs: list[str] = Field(default_factory=list)
    present: bool | None = Field(None, description="None when the agency expects no document")
    documents: list[DocumentRef] = Field(default_factory=list)
    mrn: str | None = None
    goods_item_seq: int | None = None
    hs6: str | None = None
    audience: Literal["sps", "cites"] | None = Field(None, description="publishing audience of the referral")
    name: str | None = Field(None, description="the agency's name")


class EnrichmentResult(_Model):
    passage_id: str
    lane: str
    evaluated_at: float | None = Field(None, description="the 'now' the matching used (UTC epoch seconds)")
    declaration_refs: list[DeclarationRef] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    identifiers: list[IdentifierMatch] = Field(default_factory=list)
    items: list[ItemMatch] = Field(default_factory=list)
    products: list[ProductSummary] = Field(default_factory=list)
    parties: list[PartySummary] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    routing: list[AgencyRouting] = Field(default_factory=list)
    rules_version: str | None = Field(None, description="version of the flag rule set (rule logic)")
    master_data: dict[str, str] = Field(default_factory=dict)

    def has_flag(self, code: str) -> bool:
        return any(flag.code == code for flag in self.flags)

    def flag_codes(self) -> list[str]:
        return sorted({flag.code for flag in self.flags})

    @property
    def max_severity(self) -> Severity | None:
        if not self.flags:
            return None
        return max((flag.severity for flag in self.flags), key=SEVERITY_ORDER.__getitem__)
