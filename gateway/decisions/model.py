"""The decision contract (``bx.decision.v1``): a central outcome for one declaration, movement or passage.

The pre-clearance system (customs and the other border agencies, one coordinated risk decision)
sends outcomes to the gateway; the gateway combines them with its local flags into what the lane
signals.  One decision names exactly one subject: a declaration (``mrn``), a movement that groups the
declarations of one crossing (``movementRef``, as a GVMS goods movement reference does), or one passage
(``passageId``, for decisions taken after the truck was seen).

>>> d = Decision.model_validate({"decisionId": "D-2025-000017", "outcome": "documentary-check",
...     "agency": "SPS", "reasonCodes": ["CHED-P"], "issuedAt": "2025-03-01T10:00:00Z",
...     "validUntil": "2025-03-02T10:00:00Z", "mrn": "25DE0040560000002A"})
>>> d.subject, d.rank
(('mrn', '25DE0040560000002A'), 1)
>>> Decision.model_validate({"decisionId": "D-1", "outcome": "release", "agency": "CUSTOMS",
...     "issuedAt": "2025-03-01T10:00:00Z"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Decision
  Value error, a decision names exactly one subject: mrn, movementRef or passageId ...

Outcomes are ordered by how much they hold the vehicle (:data:`OUTCOME_RANK`); the gateway never
turns an outcome into a lower one.

Topics (``{base}`` is ``mqtt.base_topic``; ids only, never an MRN or a plate):

>>> t = DecisionTopics(base="bx/v1", site="de-ffo", gateway="gw-1")
>>> t.intake, t.office_intake("DE004056"), t.ack
('bx/v1/in/de-ffo/gw-1/decisions', 'bx/v1/in/office/DE004056/decisions', 'bx/v1/customs/de-ffo/gw-1/decision-ack')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from gateway.config.decisions import Outcome
from gateway.enrichment._base import Wire

SCHEMA_ID = "bx.decision.v1"
__all__ = ["OUTCOME_RANK", "SCHEMA_ID", "Decision", "DecisionTopics", "Outcome", "SubjectKind"]

#: how much each outcome holds the vehicle: a combination takes the highest, nothing is ever lowered
OUTCOME_RANK: dict[str, int] = {"release": 0, "documentary-check": 1, "physical-inspection": 2, "hold": 3,
                                "refuse-entry": 4}
SubjectKind = Literal["mrn", "movement", "passage"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"


class Decision(Wire):
    """One outcome for one subject, as the pre-clearance system sends it (camelCase on the wire)."""

    decision_id: str = Field(pattern=_ID, description="the sender's id of this decision; idempotency key")
    outcome: Outcome
    agency: str = Field(min_length=1, max_length=16, pattern=r"^[A-Z][A-Z0-9_-]*$",
                        description="deciding agency, e.g. CUSTOMS, SPS, CITES, POLICE")
    reason_codes: list[str] = Field(default_factory=list, max_length=20,
                                    description="the sender's reason / risk codes (never shown at the lane)")
    issued_at: AwareDatetime = Field(description="when it was decided: the latest issue time wins per subject "
                                     "and agency")
    valid_until: AwareDatetime | None = Field(None, description="no longer applies after this time")
    mrn: str | None = Field(None, pattern=r"^[0-9]{2}[A-Z]{2}[A-Z0-9]{14}$", description="declaration (MRN)")
    movement_ref: str | None = Field(None, pattern=_ID, description="movement reference (groups declarations)")
    passage_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._:\-]{1,96}$", description="one passage")
    office: str | None = Field(None, pattern=r"^[A-Z]{2}[A-Z0-9]{6}$", description="customs office (for "
                               "decisions published to every gateway of an office)")
    location: str | None = Field(None, max_length=70, description="where to report, e.g. the inspection bay")

    @model_validator(mode="after")
    def _one_subject(self) -> Decision:
        if sum(x is not None for x in (self.mrn, self.movement_ref, self.passage_id)) != 1:
            raise ValueError("a decision names exactly one subject: mrn, movementRef or passageId")
        if self.valid_until is not None and self.valid_until <= self.issued_at:
            raise ValueError("validUntil must be after issuedAt")
        return self

    @property
    def subject(self) -> tuple[SubjectKind, str]:
        if self.mrn is not None:
            return "mrn", self.mrn
        if self.movement_ref is not None:
            return "movement", self.movement_ref
        assert self.passage_id is not None
        return "passage", self.passage_id

    @property
    def rank(self) -> int:
        return OUTCOME_RANK[self.outcome]


@dataclass(frozen=True, slots=True)
class DecisionTopics:
    """Where decisions come in and where the gateway acknowledges them."""

    base: str
    site: str
    gateway: str

    @property
    def intake(self) -> str:
        """Decisions for this gateway (one object or a list)."""
        return f"{self.base}/in/{self.site}/{self.gateway}/decisions"

    def office_intake(self, office: str) -> str:
        """Decisions for every gateway of a customs office: a national system publishes one copy."""
        return f"{self.base}/in/office/{office}/decisions"

    @property
    def ack(self) -> str:
        """The gateway's acknowledgement of each decision: stored, duplicate, superseded or rejected."""
        return f"{self.base}/customs/{self.site}/{self.gateway}/decision-ack"
