"""The pre-arrival declaration model (``bx.declaration.v1``), research note §1.5.

One normalised shape for an ENS (ICS2 F50/F51 ...), an ACE e-Manifest or a pre-lodged import
declaration.  GS1 keys the legal declaration has no slot for live in the explicit ``gs1`` block
of a goods item; commercial values sit in ``restricted`` (customs only).  The WCO Data Model
class / element behind each field is in its description.

>>> d = Declaration.model_validate({
...     "declarationRef": {"mrn": "25DE000000000123A1", "version": 1},
...     "customsOfficeOfFirstEntry": "DE004056",
...     "activeTransport": {"mode": "3", "id": "B-XY-1234", "eta": "2025-03-01T10:30:00Z"},
...     "houseConsignments": [{"goodsItems": [{"seq": 1, "description": "Frozen boneless beef cuts",
...                                           "hs6": "020230", "gs1": {"ssccs": ["340123450000000017"]}}]}]})
>>> d.mrn, d.version, d.house_consignments[0].goods_items[0].gs1.ssccs
('25DE000000000123A1', 1, ['340123450000000017'])
>>> Declaration.model_validate({"declarationRef": {"mrn": "25DE000000000123A1"}, "houseConsignments": [
...     {"goodsItems": [{"seq": 1, "description": "x", "hs6": "0202", "colour": "red"}]}]})
... # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
pydantic_core._pydantic_core.ValidationError: 2 validation errors for Declaration
houseConsignments.0.goodsItems.0.hs6
  Value error, HS sub-heading must be 6 digits, got '0202' ...
houseConsignments.0.goodsItems.0.colour
  Extra inputs are not permitted ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from gateway.enrichment._base import (
    GTIN,
    HS6,
    SSCC,
    STORE_INT_MAX,
    ContainerId,
    Country,
    UNLocode,
    UNNumber,
    Wire,
)
from gateway.enrichment.keys import gs1_ok

SCHEMA_ID = "bx.declaration.v1"


class DeclarationRef(Wire):
    mrn: str = Field(description="ICS2 MRN (an18): 2-digit year, country, 14 characters",
                     pattern=r"^[0-9]{2}[A-Z]{2}[A-Z0-9]{14}$")
    lrn: str | None = Field(None, max_length=22, description="D026 local reference number")
    kind: Literal["ENS", "IMPORT", "E-MANIFEST", "TRANSIT", "OTHER"] = "ENS"
    filing_type: str | None = Field(None, max_length=3, description="ICS2 filing type, e.g. F50")
    version: int = Field(1, ge=1, le=STORE_INT_MAX, description="amendment number: a higher version supersedes")


class PartyRole(Wire):
    party_ref: str = Field(min_length=1, description="key into ``parties`` or a party master record")
    status: str | None = Field(None, description="representative status (CL094)")


class ActiveTransport(Wire):
    """15A active border transport means."""

    mode: str = Field("3", pattern=r"^[0-9]$", description="T022 mode of transport (CL018; 3 = road)")
    id: str | None = Field(None, max_length=35, description="T006 identification (plate for road)")
    id_type: str | None = Field(None, description="T018 type of identification (CL750)")
    nationality: Country | None = None
    eta: AwareDatetime | None = Field(None, description="estimated arrival date-time (with offset)")
    conveyance_ref: str | None = Field(None, max_length=17, description="149 conveyance reference")
    itinerary: list[Country] = Field(default_factory=list, description="81A/064 routing countries")


class PassiveTransport(Wire):
    """19C passive border transport means (trailer, semi-trailer)."""

    id: str = Field(max_length=35, description="T026 identification")
    id_type: str | None = None
    type: str | None = None


class TransportDocument(Wire):
    """30B transport document: D023 number, D024 type (CL754, e.g. N730 road consignment note)."""

    type: str = Field(max_length=4)
    number: str = Field(min_length=1, max_length=70)


class Place(Wire):
    unlocode: UNLocode


class Ucr(Wire):
    """35B/009 UCR; the scheme says whether it is a GSIN (AI 402), a GINC (AI 401) or something else."""

    value: str = Field(min_length=1, max_length=35)
    scheme: Literal["GS1_GSIN", "GS1_GINC", "WCO", "OTHER"] = "OTHER"

    @model_validator(mode="after")
    def _gs1(self) -> Ucr:
        if self.scheme == "GS1_GSIN" and not (len(self.value) == 17 and gs1_ok(self.value)):
            raise ValueError(f"GSIN {self.value!r}: must be 17 digits with a valid check digit")
        if self.scheme == "GS1_GINC" and not re.fullmatch(r"[0-9]{4,12}[!-~]{0,26}", self.value):
            raise ValueError(f"GINC {self.value!r}: must start with a GS1 Company Prefix, up to 30 characters")
        return self


class SupplyChainActor(Wire):
    """16C additional supply chain actor: R143 id (e.g. AEO number), R005 role (CL704)."""

    id: str = Field(max_length=35)
    role: str = Field(max_length=3)


class TransportEquipment(Wire):
    """31B: 159 container id (ISO 6346), 44B/165 seals."""

    container_id: ContainerId | None = None
    seals: list[str] = Field(default_factory=list)


class SupportingDocument(Wire):
    """02A: D006 type code (e.g. N853 CHED-P), D005 reference."""

    type: str = Field(min_length=1, max_length=4)
    ref: str | None = Field(None, max_length=70)


class Packaging(Wire):
    """93A: 141 type (UNECE Rec 21: PX pallet, CT carton ...), 144 number of packages, 142 shipping marks."""

    type: str = Field(min_length=2, max_length=2)
    count: int = Field(ge=0, le=99_999_999)
    shipping_marks: str | None = Field(None, max_length=512)


class DeclaredGtin(Wire):
    gtin: GTIN
    quantity: float | None = Field(None, ge=0)
    batch: str | None = Field(None, max_length=20)


class Gs1Block(Wire):
    """GS1 keys the legal declaration has no slot for (parsed shipping marks, DESADV, EPCIS packing)."""

    ssccs: list[SSCC] = Field(default_factory=list)
    gtins: list[DeclaredGtin] = Field(default_factory=list)
    source: str | None = None


class GoodsItem(Wire):
    """29A consignment item."""

    seq: int = Field(ge=1, le=9999, description="006 goods item number")
    description: str = Field(min_length=1, max_length=512, description="137 description of goods")
    hs6: HS6 = Field(description="HS sub-heading (harmonizedSystemSubHeadingCode)")
    cn2: str | None = Field(None, pattern=r"^[0-9]{2}$", description="combined nomenclature digits 7-8")
    cus_code: str | None = Field(None, pattern=r"^[0-9]{7}-[0-9]$")
    un_numbers: list[UNNumber] = Field(default_factory=list, description="12C/506 dangerous goods")
    gross_mass_kg: float | None = Field(None, ge=0, description="126 gross mass")
    packaging: list[Packaging] = Field(default_factory=list)
    gs1: Gs1Block = Field(default_factory=Gs1Block)
    origin_country: Country | None = Field(None, description="import declarations only (not in the ENS)")


class HouseConsignment(Wire):
    """21C house consignment."""

    ucr: Ucr | None = None
    transport_document_house: TransportDocument | None = None
    total_gross_mass_kg: float | None = Field(None, ge=0, description="131 total gross mass")
    containerised: bool | None = None
    place_of_acceptance: Place | None = None
    place_of_delivery: Place | None = None
    parties: dict[str, str] = Field(default_factory=dict, description="role -> party reference")
    supply_chain_actors: list[SupplyChainActor] = Field(default_factory=list)
    routing_countries: list[Country] = Field(default_factory=list)
    passive_transport: list[PassiveTransport] = Field(default_factory=list)
    transport_equipment: list[TransportEquipment] = Field(default_factory=list)
    supporting_documents: list[SupportingDocument] = Field(default_factory=list)
    goods_items: list[GoodsItem] = Field(min_length=1, max_length=9999)

    @field_validator("parties")
    @classmethod
    def _roles(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(value) - PARTY_ROLES)
        if bad:
            raise ValueError(f"unknown party role(s) {bad} (known: {sorted(PARTY_ROLES)})")
        return value

    @field_validator("goods_items")
    @classmethod
    def _unique_seq(cls, value: list[GoodsItem]) -> list[GoodsItem]:
        seqs = [item.seq for item in value]
        if len(set(seqs)) != len(seqs):
            raise ValueError(f"goods item numbers must be unique, got {seqs}")
        return value


PARTY_ROLES = frozenset({"consignor", "consignee", "buyer", "seller", "notify", "carrier", "declarant",
                         "representative", "exporter", "importer", "manufacturer"})


class InlineParty(Wire):
    """A party as the declaration gives it (identifiers checked loosely here; flagged at matching)."""

    eori: str | None = Field(None, max_length=17, description="R-id (an..17)")
    gln: str | None = Field(None, max_length=13)
    name: str | None = Field(None, max_length=70)
    country_code: Country | None = None
    type_of_person: Literal[1, 2, 3] | None = Field(None, description="CL729: 1 natural, 2 legal, 3 association")


class Amount(Wire):
    value: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class RestrictedItem(Wire):
    seq: int = Field(ge=1, le=9999)
    item_amount_invoiced: Amount | None = None
    invoice_ref: str | None = None


class Restricted(Wire):
    """Commercial values: customs only."""

    classification: Literal["customs-only"] = "customs-only"
    items: list[RestrictedItem] = Field(default_factory=list)


class SourceInfo(Wire):
    system: str | None = None
    message_type: str | None = None


class Declaration(Wire):
    schema_: Literal["bx.declaration.v1"] = Field("bx.declaration.v1", alias="schema")
    declaration_ref: DeclarationRef
    issued_at: AwareDatetime | None = None
    customs_office_of_first_entry: str | None = Field(None, pattern=r"^[A-Z]{2}[A-Z0-9]{6}$",
                                                      description="51A/G004 customs office (an8)")
    declarant: PartyRole | None = None
    representative: PartyRole | None = None
    carrier: PartyRole | None = None
    active_transport: ActiveTransport | None = None
    transport_document_master: TransportDocument | None = None
    place_of_loading: Place | None = None
    place_of_unloading: Place | None = None
    house_consignments: list[HouseConsignment] = Field(min_length=1, max_length=99_999)
    parties: dict[str, InlineParty] = Field(default_factory=dict)
    restricted: Restricted | None = None
    received_at: AwareDatetime | None = None
    source: SourceInfo | None = None

    @property
    def mrn(self) -> str:
        return self.declaration_ref.mrn

    @property
    def version(self) -> int:
        return self.declaration_ref.version

    @property
    def eta(self) -> datetime | None:
        return self.active_transport.eta if self.active_transport else None

    def goods_items(self) -> Iterator[tuple[HouseConsignment, GoodsItem]]:
        for house in self.house_consignments:
            for item in house.goods_items:
                yield house, item

    def party_roles(self) -> Iterator[tuple[str, str]]:
        """(role, party reference) for the declaration-level and house-level parties."""
        for role in ("declarant", "representative", "carrier"):
            ref = getattr(self, role)
            if ref is not None:
                yield role, ref.party_ref
        seen: set[tuple[str, str]] = set()
        for house in self.house_consignments:
            for role, party_ref in house.parties.items():
                if (role, party_ref) not in seen:
                    seen.add((role, party_ref))
                    yield role, party_ref

    def amount(self, seq: int) -> Amount | None:
        if self.restricted is None:
            return None
        for item in self.restricted.items:
            if item.seq == seq:
                return item.item_amount_invoiced
        return None
