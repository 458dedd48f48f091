"""The lane engine takes a reloaded configuration without losing what is in the lanes that remain.

``LaneEngine.reconfigure`` (a configuration reload, :mod:`gateway.service.reload`): an open passage of a
lane that stays goes on, with its identifiers and evidence, under the new settings; the open passage of a
removed lane is closed at once with reason ``lane_removed``; reads from a source no longer placed are
dropped and counted.
"""

from __future__ import annotations

from gateway.lane.engine import LaneEngine
from gateway.lane.events import LaneEvent
from gateway.lane.passage import PassageEvent
from gateway.lane.zones import ZoneMap
from gateway.reads import Read
from tests.lane.support import SGTINS, SSCCS, T0, decode, ends, read, reader, site, two_lanes

SSCC, OTHER = decode(SSCCS[0]), decode(SSCCS[1])
SGTIN = decode(SGTINS[0])


def feed(engine: LaneEngine, reads: list[Read]) -> list[LaneEvent]:
    out: list[LaneEvent] = []
    for r in reads:
        out += engine.feed(r)
    return out


def passages(events: list[LaneEvent], kind: str) -> list[PassageEvent]:
    return [e for e in events if isinstance(e, PassageEvent) and e.kind == kind]


def test_a_lane_that_stays_keeps_its_open_passage_and_a_removed_lane_closes_its_own() -> None:
    before = two_lanes()
    engine = LaneEngine.from_site(before)
    opened = feed(engine, [read("portal", "1", t, SSCC) for t in (0.0, 0.1)]  # lane 1
                  + [read("portal", "3", t, OTHER) for t in (0.2, 0.3)])  # lane 2
    assert sorted(e.passage.lane for e in passages(opened, "new")) == ["lane1", "lane2"]
    lane1_id = next(e.passage.id for e in passages(opened, "new") if e.passage.lane == "lane1")

    after = site([{"id": "lane1", "default_direction": "inbound",
                   "readers": [reader("portal", {1: "entry", 2: "exit"})]}], passage_quiet_s=8.0)
    out = engine.reconfigure(ZoneMap.from_site(after), after.lane_engine, T0 + 1.0)

    closed = ends(out)
    assert [(p.lane, p.close_reason, [s.identifier.key for s in p.identifiers]) for p in closed] == \
        [("lane2", "lane_removed", [OTHER.key])]
    assert [p.id for p in engine.open_passages] == [lane1_id]
    # Lane 1 goes on: a new identifier joins the same passage, and the new quiet period (8 s) holds it open.
    joined = feed(engine, [read("portal", "2", t, SGTIN) for t in (2.0, 2.1)])
    assert not ends(joined)
    assert {s.identifier.key for s in engine.open_passages[0].identifiers} == {SSCC.key, SGTIN.key}
    assert not ends(engine.tick(T0 + 9.0))  # the old 4 s quiet period would have closed it by now
    final = ends(engine.tick(T0 + 20.0))
    assert [(p.id, p.close_reason) for p in final] == [(lane1_id, "quiet")]
    # Antennas 3 and 4 are placed nowhere now: their reads are dropped and counted, never guessed.
    feed(engine, [read("portal", "3", 21.0, OTHER)])
    assert engine.stats.dropped.get("unmapped_antenna") == 1


def test_min_reads_counted_before_a_reload_carry_over_to_the_same_antenna() -> None:
    before = site([{"id": "lane1", "readers": [reader("rdr", {1: "entry", 2: "exit"})]}], min_reads=3)
    # a reader added in front: antenna 1 of "rdr" has another place in the new zone map
    after = site([{"id": "lane1", "readers": [reader("rdr0", {1: "portal"}), reader("rdr", {1: "entry"})]}],
                 min_reads=3)
    engine = LaneEngine.from_site(before)
    assert not feed(engine, [read("rdr", "1", t, SSCC) for t in (0.0, 0.1)])  # 2 of 3 reads
    engine.reconfigure(ZoneMap.from_site(after), after.lane_engine, T0 + 0.2)
    arrived = feed(engine, [read("rdr", "1", 0.3, SSCC)])  # the third read on the same antenna qualifies
    assert [e.kind for e in passages(arrived, "new")] == ["new"]
