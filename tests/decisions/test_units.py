"""The decision parts without a broker: policy, store, signal state machine, lane desk, configuration."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import ConfigError, parse_config
from gateway.config.decisions import DecisionsConfig, PolicyConfig
from gateway.decisions.desk import DecisionDesk, RecentPassages
from gateway.decisions.model import Decision
from gateway.decisions.policy import decide, decide_result, subjects
from gateway.decisions.signals import LaneSignal, SignalMachine
from gateway.decisions.store import DecisionStore
from gateway.enrichment.result import EnrichmentResult, LaneDecision, Link, Routing
from gateway.lane.passage import Passage

MRN = "25DE0040560000002A"


def dec(did: str, outcome: str, issued: str = "2026-01-01T10:00:00Z", agency: str = "CUSTOMS",
        **subject: Any) -> Decision:
    return Decision.model_validate({"decisionId": did, "outcome": outcome, "agency": agency, "issuedAt": issued,
                                    **(subject or {"mrn": MRN})})


def test_the_highest_central_outcome_wins_and_flags_only_raise() -> None:
    policy = PolicyConfig()
    d = decide(policy, [dec("A", "documentary-check"), dec("B", "release", agency="SPS")], [("X", "low")], now=0)
    assert (d.outcome, d.source) == ("documentary-check", "central")
    d = decide(policy, [dec("A", "refuse-entry")], [("SSCC_NOT_DECLARED", "high")], now=0)
    assert (d.outcome, d.signal, d.source) == ("refuse-entry", "refuse", "central")
    assert [b.kind for b in d.derived_from] == ["central"]  # a flag below the central outcome is not a basis


def test_the_latest_issue_per_agency_applies_and_missing_documents_raise() -> None:
    older, newer = dec("A", "hold", "2026-01-01T09:00:00Z"), dec("B", "release", "2026-01-01T11:00:00Z")
    assert decide(PolicyConfig(), [older, newer], [], now=0).outcome == "release"  # the agency lifted its hold
    result = EnrichmentResult(passage_id="p", lane="L", links=[Link(mrn=MRN)],
                              routing=[Routing(agency="VET", expected_docs=["N853"], present=False)])
    d = decide_result(PolicyConfig(), [newer], result, now=0)
    assert (d.outcome, d.source) == ("documentary-check", "local")
    assert d.derived_from[-1].ref == "missing-documents"


def test_subjects_are_the_passage_its_declarations_and_movements() -> None:
    result = EnrichmentResult(passage_id="p", lane="L", links=[Link(mrn=MRN)], movement_refs=["GMRA0000DEMO6"])
    assert subjects("p", result) == [("movement", "GMRA0000DEMO6"), ("mrn", MRN), ("passage", "p")]


def test_store_same_id_later_issue_replaces_and_bad_order_is_superseded(tmp_path: Any) -> None:
    store = DecisionStore.for_storage_dir(tmp_path)
    assert store.put(dec("A", "hold", "2026-01-01T10:00:00Z")) == "stored"
    assert store.put(dec("A", "release", "2026-01-01T10:00:00Z")) == "superseded"  # same issue, other content
    assert store.put(dec("A", "release", "2026-01-01T12:00:00Z")) == "stored"
    assert [d.outcome for d in store.for_subjects([("mrn", MRN)])] == ["release"]
    store.close()
    again = DecisionStore.for_storage_dir(tmp_path)  # durable
    assert again.count() == 1 and again.put(dec("A", "release", "2026-01-01T12:00:00Z")) == "duplicate"


def test_a_late_signal_for_a_vehicle_that_left_changes_nothing() -> None:
    m = SignalMachine(["L1"], wait_s=0, rest_timeout_s=60)
    m.start(0)
    release = LaneDecision(outcome="release", signal="proceed", source="central")
    hold = LaneDecision(outcome="hold", signal="hold", source="central")
    assert m.decided("L1", "p-1", release, now=1, closed_at=1)
    assert m.vehicle_entered("L1", "p-2", 2)[0].state == "stop"  # the next truck: back to rest
    assert not m.shows("L1", "p-1")
    assert m.decided("L1", "p-1", hold, now=3) == []  # p-1 has left
    assert m.decided("L1", "p-2", hold, now=4, closed_at=4)[0].state == "hold"
    assert m.decided("L1", "p-9", release, now=5, closed_at=5)[0].passage_id == "p-9"  # a later close shows
    assert m.decided("L1", "p-2", release, now=6) == []  # ... and an earlier passage's late decision does not


def test_the_desk_redecides_only_within_the_late_window_and_only_on_change() -> None:
    store = DecisionStore(":memory:")
    cfg = DecisionsConfig(late_window_s=100, policy=PolicyConfig(wait_s=0))
    desk = DecisionDesk(cfg, store, ["L1"])
    seen: list[LaneSignal] = []
    desk.on_signal.append(seen.append)
    desk.start(0)
    result = EnrichmentResult(passage_id="p-1", lane="L1", links=[Link(mrn=MRN)])
    closed = desk.passage_closed(Passage("p-1", "L1", "inbound", "closed", 0, closed_at=10), result, now=10)
    assert closed.result is not None and closed.result.lane_decision == closed.decision
    assert closed.decision.source == "default" and seen[-1].state == "inspection"
    first = dec("A", "documentary-check")
    store.put(first)
    assert desk.decision_received(first, now=20) != []  # default -> central documentary-check: derived_from changed
    same = dec("B", "documentary-check", "2026-01-01T09:00:00Z", agency="CUSTOMS")
    store.put(same)
    assert desk.decision_received(same, now=21) == []  # superseded by A: nothing changes
    late = dec("C", "hold", agency="SPS")
    store.put(late)
    assert desk.decision_received(late, now=10 + 101) == []  # outside the late window


def test_recent_passages_forget_a_subject_with_its_last_passage() -> None:
    idx = RecentPassages(limit=2)
    ld = LaneDecision(outcome="hold", signal="hold", source="default")
    from gateway.decisions.desk import ClosedPassage

    for i in range(5):
        idx.add(ClosedPassage(Passage(f"p-{i}", "L", "inbound", "closed", 0.0), None, (("mrn", f"M{i}"),), i, ld))
    assert len(idx) == 2 and idx.concerning(("mrn", "M0"), 0) == [] and len(idx._by_subject) == 2


@pytest.mark.parametrize(("section", "path"), [
    ({"policy": {"default_outcome": "release"}}, "decisions.policy.default_outcome"),
    ({"policy": {"signals": {"release": "proceed", "documentary-check": "proceed", "physical-inspection": "stop",
                             "hold": "hold", "refuse-entry": "refuse"}}}, "decisions.policy.signals"),
    ({"offices": ["de004056"]}, "decisions.offices"),
    ({"policy": {"wait_s": -1}}, "decisions.policy.wait_s"),
])
def test_bad_decision_settings_are_named_by_key_path(section: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        parse_config({"site": "s", "gateway": "g", "lanes": [{"id": "l1"}], "decisions": section}, "s.yaml")
