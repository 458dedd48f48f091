"""The product master model (``bx.product.v1``), research note §2.3 (GDSN / Verified by GS1).

>>> p = Product.model_validate({"gtin": "4012345000016", "description": "Beef striploin, frozen",
...     "countryOfOrigin": ["076"], "importClassifications": [
...         {"type": "HS6", "value": "020230", "hsEdition": "HS2022"}],
...     "recalls": [{"id": "RASFF-2025.0001", "batches": ["LOT9"]}]})
>>> p.gtin, p.hs6, p.recalled("LOT9"), p.recalled("LOT7")
('04012345000016', '020230', True, False)
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from gateway.enrichment._base import GTIN, Country, UNNumber, Wire

SCHEMA_ID = "bx.product.v1"


class Quantity(Wire):
    value: float = Field(ge=0)
    uom: str = Field(min_length=1, max_length=3, description="UN/ECE Rec 20 unit, e.g. KGM")


class Classification(Wire):
    """GDSN importClassificationTypeCode / Value; keep the HS edition explicit."""

    type: Literal["HS6", "CUSTOMS_TARIFF_NUMBER", "INTRASTAT", "HARMONIZED_TARIFF_SCHEDULE_OF_THE_US", "OTHER"]
    value: str = Field(pattern=r"^[0-9]{4,14}$")
    hs_edition: str | None = Field(None, pattern=r"^HS20[0-9]{2}$")
    source: str | None = None
    market: str | None = None

    @model_validator(mode="after")
    def _hs6(self) -> Classification:
        if self.type == "HS6" and len(self.value) != 6:
            raise ValueError(f"HS6 classification must have 6 digits, got {self.value!r}")
        return self


class DangerousGoods(Wire):
    un_numbers: list[UNNumber] = Field(default_factory=list)


class Hierarchy(Wire):
    child_gtins: list[GTIN] = Field(default_factory=list)
    parent_gtins: list[GTIN] = Field(default_factory=list)


class Recall(Wire):
    """A recall notice (EU Safety Gate / RASFF / GS1 recall feed); no batches = the whole GTIN."""

    id: str = Field(min_length=1)
    batches: list[str] = Field(default_factory=list)
    source: str | None = None
    date: dt.date | None = None
    reason: str | None = None


class Verification(Wire):
    verified_by_gs1: bool | None = None
    licence_valid: bool | None = None
    checked_at: AwareDatetime | None = None


class IssuerPrefix(Wire):
    gcp: str | None = Field(None, pattern=r"^[0-9]{4,12}$")
    issuing_mo: str | None = None
    note: str | None = Field(None, description="a GS1 prefix is never a country of origin")


class Product(Wire):
    schema_: Literal["bx.product.v1"] = Field("bx.product.v1", alias="schema")
    gtin: GTIN
    brand_name: str | None = Field(None, max_length=70)
    description: str | None = Field(None, max_length=512)
    gpc_brick: str | None = Field(None, pattern=r"^[0-9]{8}$")
    net_content: list[Quantity] = Field(default_factory=list)
    gross_weight_kg: float | None = Field(None, ge=0)
    net_weight_kg: float | None = Field(None, ge=0)
    target_markets: list[Country] = Field(default_factory=list)
    country_of_origin: list[Country] = Field(default_factory=list)
    import_classifications: list[Classification] = Field(default_factory=list)
    dangerous_goods: DangerousGoods = Field(default_factory=DangerousGoods)
    hierarchy: Hierarchy = Field(default_factory=Hierarchy)
    regulatory_tags: list[str] = Field(default_factory=list)
    recalls: list[Recall] = Field(default_factory=list)
    verification: Verification | None = None
    issuer_prefix: IssuerPrefix | None = None
    master_data_version: str | None = None

    @property
    def hs6(self) -> str | None:
        """The HS6 from master data: the HS6 classification, else the first 6 digits of a tariff number."""
        for c in self.import_classifications:
            if c.type == "HS6":
                return c.value
        for c in self.import_classifications:
            if c.type in ("CUSTOMS_TARIFF_NUMBER", "INTRASTAT", "HARMONIZED_TARIFF_SCHEDULE_OF_THE_US"):
                return c.value[:6] if len(c.value) >= 6 else None
        return None

    @property
    def hs_edition(self) -> str | None:
        for c in self.import_classifications:
            if c.type == "HS6":
                return c.hs_edition
        return None

    def recalled(self, batch: str | None) -> bool:
        return any(not r.batches or (batch is not None and batch in r.batches) for r in self.recalls)

    def recall_ids(self, batch: str | None) -> list[str]:
        return [r.id for r in self.recalls if not r.batches or (batch is not None and batch in r.batches)]
