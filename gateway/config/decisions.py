"""``decisions:`` section: central decisions back to the lane (issue #18).

Absent (the default), the gateway takes no decisions and signals nothing: a site without a pre-clearance
system keeps the local ``proceed`` / ``go_to_bay`` of its flags.  Present, the lane decision of every closed
passage combines the central outcomes with the local flags by the policy below
(:mod:`gateway.decisions.policy`), and the lane signal shows it.

>>> cfg = DecisionsConfig()
>>> cfg.policy.default_outcome, cfg.policy.wait_s, cfg.signals.rest_timeout_s
('documentary-check', 30.0, 120.0)
>>> PolicyConfig(default_outcome="release")  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
pydantic_core._pydantic_core.ValidationError: 1 validation error for PolicyConfig
default_outcome
  Value error, a vehicle without a central outcome is never released: ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from gateway.config.common import Section

Outcome = Literal["release", "documentary-check", "physical-inspection", "hold", "refuse-entry"]
SignalState = Literal["stop", "proceed", "inspection", "hold", "refuse"]
Severity = Literal["low", "medium", "high", "critical"]


def _default_severity() -> dict[Severity, Outcome]:
    return {"high": "physical-inspection", "critical": "physical-inspection"}


def _default_codes() -> dict[str, Outcome]:
    return {"SSCC_NOT_DECLARED": "physical-inspection", "NO_DECLARATION": "physical-inspection"}


def _default_signals() -> dict[Outcome, SignalState]:
    return {"release": "proceed", "documentary-check": "inspection", "physical-inspection": "inspection",
            "hold": "hold", "refuse-entry": "refuse"}


class PolicyConfig(Section):
    """How the lane decision is derived: central outcomes are never lowered, local flags only raise."""

    wait_s: float = Field(30.0, ge=0, le=86_400, description="after a passage closes without any central outcome, "
                          "the lane shows stop for this long waiting for one, then the default outcome")
    default_outcome: Outcome = Field("documentary-check", description="the outcome of a vehicle with no central "
                                     "outcome (never release)")
    flag_severity: dict[Severity, Outcome] = Field(
        default_factory=_default_severity, description="a local flag of this severity raises the outcome to at "
        "least this")
    flag_codes: dict[str, Outcome] = Field(default_factory=_default_codes, description="a local flag with this "
                                           "code raises the outcome to at least this (e.g. an undeclared SSCC "
                                           "sends a released truck to the inspection bay)")
    missing_documents: Outcome | None = Field("documentary-check", description="an agency expecting a document "
                                              "the declaration does not reference raises the outcome to this")
    signals: dict[Outcome, SignalState] = Field(default_factory=_default_signals, description="the lane signal of "
                                                "each outcome")

    @field_validator("default_outcome")
    @classmethod
    def _never_release(cls, value: str) -> str:
        if value == "release":
            raise ValueError("a vehicle without a central outcome is never released: use documentary-check, "
                             "physical-inspection, hold or refuse-entry")
        return value

    @field_validator("signals")
    @classmethod
    def _all_outcomes(cls, value: dict[str, str]) -> dict[str, str]:
        missing = sorted(set(_default_signals()) - set(value))
        if missing:
            raise ValueError(f"every outcome needs a signal: missing {missing}")
        if any(state == "proceed" for outcome, state in value.items() if outcome != "release"):
            raise ValueError("only release may signal proceed")
        return value


class SignalConfig(Section):
    mqtt: bool = Field(True, description="publish each lane's signal, retained, on "
                       "{base}/ops/{site}/{gw}/lane/{lane}/signal (one small connection per lane whose Last Will is "
                       "that lane's stop)")
    rest_timeout_s: float = Field(120.0, gt=0, le=86_400, description="a signal returns to rest (stop) this long "
                                  "after it was set, unless the vehicle left or the next one entered the lane first")
    hold_after_exit_s: float = Field(5.0, ge=0, le=600, description="when the decided vehicle releases its lane's "
                                     "loop (it drove off), the signal returns to rest, but not before it was shown "
                                     "this long (a sign never flashes)")


class DecisionsConfig(Section):
    offices: list[str] = Field(default_factory=list, description="customs offices this gateway serves: it also "
                               "takes the decisions published on {base}/in/office/{office}/decisions")
    intake_mqtt: bool = Field(True, description="subscribe to {base}/in/{site}/{gw}/decisions and the offices' "
                              "decision topics")
    late_window_s: float = Field(86_400.0, ge=0, le=30 * 86_400, description="a decision arriving this long after "
                                 "its passage closed still re-decides it (a new revision of the enriched record)")
    recent_passages: int = Field(10_000, ge=10, le=1_000_000, description="closed passages kept in memory for "
                                 "late decisions")
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    signals: SignalConfig = Field(default_factory=SignalConfig)

    @field_validator("offices")
    @classmethod
    def _offices(cls, value: list[str]) -> list[str]:
        import re

        bad = [o for o in value if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{6}", o)]
        if bad:
            raise ValueError(f"{bad}: a customs office reference number is 2 letters and 6 letters or digits "
                             "(e.g. DE004056)")
        return value


__all__ = ["DecisionsConfig", "Outcome", "PolicyConfig", "SignalConfig", "SignalState"]
