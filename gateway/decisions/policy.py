"""The lane decision policy: central outcomes and local flags in, one :class:`LaneDecision` out.

Pure and clock-free (``now`` is an argument).  The rules, configured by ``decisions.policy``
(:class:`~gateway.config.decisions.PolicyConfig`):

* the central outcomes that apply (every linked declaration, movement and the passage itself; the
  latest of each agency per subject, still valid at ``now``) combine to the highest one: the gateway
  never lowers a central outcome;
* local flags only raise it (``flag_codes``, ``flag_severity``, ``missing_documents``);
* with no central outcome, the policy's ``default_outcome`` applies (never ``release``), raised by the flags
  like a central one.

Every decision lists what it was derived from.

>>> from gateway.config.decisions import PolicyConfig
>>> from gateway.decisions.model import Decision
>>> policy = PolicyConfig()
>>> release = Decision.model_validate({"decisionId": "D-1", "outcome": "release", "agency": "CUSTOMS",
...     "issuedAt": "2025-03-01T10:00:00Z", "mrn": "25DE0040560000002A"})
>>> d = decide(policy, [release], [], now=0.0)
>>> d.outcome, d.signal, d.source, [(b.kind, b.ref) for b in d.derived_from]
('release', 'proceed', 'central', [('central', 'D-1')])

A declared release with an undeclared SSCC goes to the inspection bay:

>>> d = decide(policy, [release], [("SSCC_NOT_DECLARED", "medium")], now=0.0)
>>> d.outcome, d.signal, d.source, [(b.kind, b.ref, b.outcome) for b in d.derived_from]
('physical-inspection', 'inspection', 'local', [('central', 'D-1', 'release'), \
('flag', 'SSCC_NOT_DECLARED', 'physical-inspection')])

A flag never lowers a central hold, and no central outcome is never a release:

>>> hold = release.model_copy(update={"decision_id": "D-2", "outcome": "hold", "agency": "SPS"})
>>> decide(policy, [release, hold], [("SSCC_NOT_DECLARED", "medium")], now=0.0).outcome
'hold'
>>> d = decide(policy, [], [("VAGUE_DESCRIPTION", "low")], now=0.0)
>>> d.outcome, d.signal, d.source
('documentary-check', 'inspection', 'default')

An expired decision no longer applies:

>>> expired = release.model_copy(update={"valid_until": release.issued_at.replace(hour=11)})
>>> decide(policy, [expired], [], now=expired.valid_until.timestamp() + 1).source
'default'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.config.decisions import Outcome, PolicyConfig
from gateway.decisions.model import OUTCOME_RANK, Decision
from gateway.enrichment.result import CentralOutcome, DecisionBasis, EnrichmentResult, LaneDecision

NO_CENTRAL = "no-central-outcome"  # the ref of the default basis
MISSING_DOCUMENTS = "missing-documents"  # the ref of the routing basis


def applicable(decisions: Iterable[Decision], now: float) -> list[Decision]:
    """The decisions still valid at ``now``, the latest per (subject, agency), in a stable order."""
    latest: dict[tuple[str, str, str], Decision] = {}
    for d in decisions:
        if d.valid_until is not None and d.valid_until.timestamp() <= now:
            continue
        key = (*d.subject, d.agency)
        kept = latest.get(key)
        if kept is None or (d.issued_at, d.decision_id) > (kept.issued_at, kept.decision_id):
            latest[key] = d
    return sorted(latest.values(), key=lambda d: (d.issued_at, d.decision_id))


def local_raises(policy: PolicyConfig, flags: Iterable[tuple[str, str]], missing_documents: bool = False
                 ) -> list[DecisionBasis]:
    """What the local flags ask for (code first, then severity; one basis per flag code)."""
    out: dict[str, DecisionBasis] = {}
    for code, severity in flags:
        wanted: list[Outcome] = [o for o in (policy.flag_codes.get(code),
                                             policy.flag_severity.get(severity)) if o is not None]  # type: ignore[call-overload]
        if not wanted:
            continue
        top = max(wanted, key=OUTCOME_RANK.__getitem__)
        kept = out.get(code)
        if kept is None or OUTCOME_RANK[top] > OUTCOME_RANK[kept.outcome]:
            out[code] = DecisionBasis(kind="flag", ref=code, outcome=top)
    if missing_documents and policy.missing_documents is not None:
        out[MISSING_DOCUMENTS] = DecisionBasis(kind="flag", ref=MISSING_DOCUMENTS, outcome=policy.missing_documents)
    return sorted(out.values(), key=lambda b: b.ref)


def decide(policy: PolicyConfig, central: Sequence[Decision], flags: Iterable[tuple[str, str]], *, now: float,
           missing_documents: bool = False) -> LaneDecision:
    """The lane decision from the central decisions concerning a passage and its local flags (code, severity)."""
    valid = applicable(central, now)
    bases: list[DecisionBasis] = [DecisionBasis(kind="central", ref=d.decision_id, outcome=d.outcome) for d in valid]
    if not bases:
        bases = [DecisionBasis(kind="default", ref=NO_CENTRAL, outcome=policy.default_outcome)]
    floor = max(OUTCOME_RANK[b.outcome] for b in bases)
    raises = [b for b in local_raises(policy, flags, missing_documents) if OUTCOME_RANK[b.outcome] > floor]
    top = max([*bases, *raises], key=lambda b: OUTCOME_RANK[b.outcome])
    outcome: Outcome = top.outcome
    source = "local" if raises else ("central" if valid else "default")
    return LaneDecision(
        outcome=outcome, signal=policy.signals[outcome], source=source, derived_from=[*bases, *raises],
        central=[CentralOutcome(decision_id=d.decision_id, outcome=d.outcome, agency=d.agency,
                                issued_at=d.issued_at.isoformat().replace("+00:00", "Z"), subject=d.subject[0])
                 for d in valid])


def decide_result(policy: PolicyConfig, central: Sequence[Decision], result: EnrichmentResult | None, *,
                  now: float) -> LaneDecision:
    """:func:`decide` for an enrichment result (``None``: enrichment failed, no flags known)."""
    if result is None:
        return decide(policy, central, [], now=now)
    return decide(policy, central, [(f.code, f.severity) for f in result.flags], now=now,
                  missing_documents=any(r.present is False for r in result.routing))


def subjects(passage_id: str, result: EnrichmentResult | None) -> list[tuple[str, str]]:
    """The subjects whose central decisions concern a passage: the passage, its declarations, its movements.

    >>> subjects("p-1", None)
    [('passage', 'p-1')]
    """
    out: set[tuple[str, str]] = {("passage", passage_id)}
    if result is not None:
        out |= {("mrn", mrn) for mrn in result.mrns}
        out |= {("mrn", ref.mrn) for ref in result.declaration_refs}
        out |= {("movement", ref) for ref in result.movement_refs}
    return sorted(out)

