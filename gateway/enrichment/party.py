"""The party master model (``bx.party.v1``), research note §2.4.

``typeOfPerson`` (ICS2 CL729) 1 = natural person: names, addresses and EORIs of natural persons
are personal data and are masked outside the customs audience.

>>> p = Party.model_validate({"partyRef": "p-importer", "ids": {"gln": "4012345000009",
...     "eori": "DE123456789012345"}, "typeOfPerson": 2, "name": "Example Import GmbH",
...     "roles": ["consignee"], "aeo": {"status": "AEOF"}})
>>> p.ids.gln, p.natural_person
('4012345000009', False)
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from gateway.enrichment._base import EORI, GLN, LEI, Country, Wire

SCHEMA_ID = "bx.party.v1"


class PartyIds(Wire):
    gln: GLN | None = None
    gln_type: Literal["LEGAL_ENTITY", "FUNCTION", "FIXED_PHYSICAL_LOCATION", "DIGITAL_LOCATION"] | None = None
    eori: EORI | None = None
    lei: LEI | None = None
    duns: str | None = Field(None, pattern=r"^[0-9]{9}$")
    vat: str | None = Field(None, max_length=17)
    tcuin: str | None = Field(None, max_length=17, description="third-country unique identification number")


class Address(Wire):
    """04A: 239 street, 245 postcode, 241 city, 243 sub-division, 242 country."""

    street: str | None = Field(None, max_length=70)
    number: str | None = Field(None, max_length=35)
    postcode: str | None = Field(None, max_length=17)
    city: str | None = Field(None, max_length=35)
    subdivision: str | None = Field(None, max_length=35)
    country: Country


class Aeo(Wire):
    status: Literal["AEOC", "AEOS", "AEOF"] | None = None
    certificate: str | None = Field(None, max_length=35)
    valid_to: date | None = None
    mra_recognised_by: list[Country] = Field(default_factory=list)


class PartyVerification(Wire):
    eori_valid: bool | None = None
    gln_active: bool | None = None
    checked_at: AwareDatetime | None = None
    sources: list[str] = Field(default_factory=list)


class Party(Wire):
    schema_: Literal["bx.party.v1"] = Field("bx.party.v1", alias="schema")
    party_ref: str = Field(min_length=1, max_length=64)
    ids: PartyIds = Field(default_factory=PartyIds)
    type_of_person: Literal[1, 2, 3] = Field(2, description="CL729: 1 natural person, 2 legal person, 3 association")
    name: str | None = Field(None, max_length=70)
    address: Address | None = None
    roles: list[str] = Field(default_factory=list)
    aeo: Aeo | None = None
    verification: PartyVerification | None = None
    personal_data: bool | None = Field(None, description="defaults to typeOfPerson == 1")

    @property
    def natural_person(self) -> bool:
        return self.type_of_person == 1 or bool(self.personal_data)
