"""The movement record (``bx.movement.v1``): the declarations of one crossing under one reference.

Pre-lodgement systems link the vehicle, its trailers and containers to the declarations that travel
with it: the UK Goods Vehicle Movement Service's GMR is the model (HMRC GVMS API: one ``gmrId``, the
declaration references, and the identity the carrier checks in with: ``vehicleRegNum`` for an
accompanied movement, ``trailerRegistrationNums`` for unaccompanied trailers,
``containerReferenceNums`` for unaccompanied containers).  A movement is optional: a declaration names
its own transport means (``activeTransport.id``, ``passiveTransport``, ``transportEquipment``), and a
truck whose plate matches either is linked.  What a movement adds is the grouping: a truck whose plate
matches a movement is linked to *every* declaration of the movement, GS1 keys or not.

Intake is the same as for the other master data: ``POST /api/movements`` (and ``/import``, ``/bulk``),
``bx/v1/in/{site}/{gw}/movements`` on MQTT, ``border-gateway import movements FILE``.  Idempotent on
``movementRef.id`` + ``version``; a higher version supersedes.

>>> m = Movement.model_validate({"movementRef": {"id": "GMRA00002KW2"}, "customsOfficeOfFirstEntry": "DE004056",
...     "vehicle": {"plate": "B-XY 1234", "nationality": "DE"}, "trailers": [{"plate": "B-XZ 77"}],
...     "containers": ["CSQU 305438 3"], "declarations": ["25DE0040560000005A"],
...     "eta": "2026-12-07T10:00:00Z"})
>>> m.ref, m.kind, m.containers, sorted(m.plate_keys())
('GMRA00002KW2', 'accompanied', ['CSQU3054383'], ['BXY1234', 'BXZ77'])
>>> Movement.model_validate({"movementRef": {"id": "GMR-1"}, "kind": "unaccompanied_trailer"})
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Movement
  Value error, an unaccompanied_trailer movement names its trailers (trailerRegistrationNums) ...
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from gateway.enrichment._base import STORE_INT_MAX, ContainerId, Country, Wire
from gateway.enrichment.declaration import SourceInfo
from gateway.vehicle import plate_key

SCHEMA_ID = "bx.movement.v1"
MovementKind = Literal["accompanied", "unaccompanied_trailer", "unaccompanied_container"]
MRN_PATTERN = r"^[0-9]{2}[A-Z]{2}[A-Z0-9]{14}$"


class MovementRef(Wire):
    id: str = Field(min_length=1, max_length=35, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                    description="the movement's reference (a GVMS gmrId, without spaces or dashes in GVMS)")
    version: int = Field(1, ge=1, le=STORE_INT_MAX, description="a higher version supersedes")


class Conveyance(Wire):
    """A vehicle or trailer: its registration (T006 / T026) and the country that issued it."""

    plate: str = Field(min_length=1, max_length=35, description="registration number as written (personal data)")
    nationality: Country | None = None

    @field_validator("plate")
    @classmethod
    def _plate(cls, value: str) -> str:
        if not plate_key(value):
            raise ValueError(f"{value!r} has no letters or digits")
        return value

    @property
    def key(self) -> str:
        return plate_key(self.plate)


class Movement(Wire):
    schema_: Literal["bx.movement.v1"] = Field("bx.movement.v1", alias="schema")
    movement_ref: MovementRef
    kind: MovementKind = "accompanied"
    customs_office_of_first_entry: str | None = Field(None, pattern=r"^[A-Z]{2}[A-Z0-9]{6}$",
                                                      description="51A/G004 customs office (an8)")
    direction: Literal["inbound", "outbound"] | None = None
    eta: AwareDatetime | None = Field(None, description="expected arrival at the office (with offset)")
    vehicle: Conveyance | None = Field(None, description="the presenting vehicle (GVMS vehicleRegNum)")
    trailers: list[Conveyance] = Field(default_factory=list, max_length=10,
                                       description="trailers (GVMS trailerRegistrationNums)")
    containers: list[ContainerId] = Field(default_factory=list, max_length=50,
                                          description="ISO 6346 container numbers (GVMS containerReferenceNums)")
    declarations: list[str] = Field(default_factory=list, max_length=999,
                                    description="MRNs of the declarations of this crossing")
    issued_at: AwareDatetime | None = None
    received_at: AwareDatetime | None = None
    source: SourceInfo | None = None

    @field_validator("declarations")
    @classmethod
    def _mrns(cls, value: list[str]) -> list[str]:
        import re

        bad = [mrn for mrn in value if not re.fullmatch(MRN_PATTERN, mrn)]
        if bad:
            raise ValueError(f"not an MRN (an18): {bad[:3]}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _identity(self) -> Movement:
        # GVMS checks a movement in with one identity, by kind: the movement must carry it.
        if self.kind == "accompanied" and self.vehicle is None:
            raise ValueError("an accompanied movement names its vehicle (vehicleRegNum)")
        if self.kind == "unaccompanied_trailer" and not self.trailers:
            raise ValueError("an unaccompanied_trailer movement names its trailers (trailerRegistrationNums)")
        if self.kind == "unaccompanied_container" and not self.containers:
            raise ValueError("an unaccompanied_container movement names its containers (containerReferenceNums)")
        return self

    @property
    def ref(self) -> str:
        return self.movement_ref.id

    @property
    def version(self) -> int:
        return self.movement_ref.version

    @property
    def when(self) -> datetime | None:
        """What the ETA window applies to: the ETA, else the issue or receipt time."""
        return self.eta or self.issued_at or self.received_at

    def plate_keys(self) -> set[str]:
        """Comparison keys of the vehicle's and trailers' plates."""
        return {c.key for c in ([self.vehicle] if self.vehicle else []) + self.trailers}
