"""Trucks through lanes in the scripted tag world (virtual clock): whole passages, end to end."""

from __future__ import annotations

from itertools import pairwise

from gateway.lane.passage import PassageEvent
from simulators.tag_world import TagTrack, TagWorld, truck_passage
from tests.lane.support import (
    GIAIS,
    GRAIS,
    SGTINS,
    SSCCS,
    T0,
    ends,
    identifier_events,
    keys,
    load,
    one_lane,
    run,
    two_lanes,
)

TRUCK_A = SSCCS[:26] + SGTINS[:40] + GRAIS[:2] + GIAIS[:1]
TRUCK_B = SSCCS[26:40] + SGTINS[100:130] + GRAIS[5:7]


def test_one_truck_through_one_lane() -> None:
    world = TagWorld(truck_passage("rdr1", [1, 3], TRUCK_A, start=2.0), seed=11)
    engine, events = run(one_lane(), world, until=20.0)
    [p] = ends(events)
    assert keys(p) == load(TRUCK_A)
    assert (p.count("sscc"), p.count("sgtin"), p.count("grai"), p.count("giai")) == (26, 40, 2, 1)
    assert p.lane == "lane1" and p.direction == "inbound" and p.close_reason == "quiet"
    [gtin] = p.gtins().values()
    assert gtin.items == 40 and len(gtin.serials) == 40
    last_read = max(s.evidence.last_seen for s in p.identifiers)
    assert p.opened_at < last_read < p.closed_at  # type: ignore[operator]
    for seen in p.identifiers:
        ev = seen.evidence
        assert ev.reads >= 2 and ev.carriers == ("rfid",) and ev.sources == ("rdr1",) and ev.confidence == 1.0
        assert ev.first_seen <= ev.last_seen and ev.best_rssi_dbm is not None and ev.best_rssi_dbm > -80
    assert {s.evidence.zones for s in p.identifiers} <= {("entry", "exit"), ("entry",), ("exit",)}
    # lifecycle: one new, updates at most once per update interval, one end, all with the same id
    lifecycle = [e for e in events if isinstance(e, PassageEvent)]
    assert lifecycle[0].kind == "new" and lifecycle[-1].kind == "end"
    assert {e.passage.id for e in lifecycle} == {p.id}
    update_times = [e.time for e in lifecycle if e.kind == "update"]
    assert update_times and all(b - a >= 1.0 for a, b in pairwise(update_times))
    assert len(identifier_events(events, "arrival")) == len(TRUCK_A) == len(identifier_events(events, "departure"))
    s = engine.stats
    assert s.reads == s.accepted + sum(s.dropped.values()) and s.dropped == {}
    assert s.accepted == s.pending + s.deduplicated + s.observations
    assert s.deduplicated > 10 * s.observations  # dedup happens before anything expensive


def _adjacent(peak: float) -> TagWorld:
    tracks = truck_passage("portal", [1, 2], TRUCK_A, start=1.0) + truck_passage("portal", [3, 4], TRUCK_B, start=1.5)
    # each truck is also seen, weaker and less often, by the neighbouring lane's entry antenna
    tracks += truck_passage("portal", [3], TRUCK_A, start=1.0, peak_rssi=peak, rate_hz=10.0)
    tracks += truck_passage("portal", [1], TRUCK_B, start=1.5, peak_rssi=peak, rate_hz=10.0)
    return TagWorld(tracks, seed=5)


def test_two_trucks_in_adjacent_lanes_get_only_their_own_tags() -> None:
    world = _adjacent(peak=-68.0)
    cross = [r for r in world.reads_between("portal", 0, 30) if r.antenna == 3 and r.epc_hex in TRUCK_A]
    assert len(cross) > 100  # the neighbour really reads truck A: arbitration has work to do
    _, events = run(two_lanes(), world, until=25.0)
    by_lane = {p.lane: p for p in ends(events)}
    assert len(ends(events)) == 2
    assert keys(by_lane["lane1"]) == load(TRUCK_A)
    assert keys(by_lane["lane2"]) == load(TRUCK_B)
    for p in by_lane.values():
        assert p.direction == "inbound"
        assert min(s.evidence.confidence for s in p.identifiers) > 0.9
        assert all(s.evidence.sources == ("portal",) for s in p.identifiers)
    arrivals = identifier_events(events, "arrival")
    assert {e.lane for e in arrivals if e.identifier.key in load(TRUCK_A)} == {"lane1"}


def test_close_cross_reads_are_still_arbitrated() -> None:
    """Cross-reads only ~10 dB below the home lane: confidence drops but the lanes stay right."""
    _, events = run(two_lanes(), _adjacent(peak=-55.0), until=25.0)
    by_lane = {p.lane: p for p in ends(events)}
    assert keys(by_lane["lane1"]) == load(TRUCK_A) and keys(by_lane["lane2"]) == load(TRUCK_B)
    assert min(s.evidence.confidence for p in by_lane.values() for s in p.identifiers) > 0.5


def _stop_in_portal(stop: float) -> TagWorld:
    """Drive in (entry antenna), stand ``stop`` seconds at the portal antenna, drive out (exit)."""
    tracks = []
    for i, epc in enumerate(TRUCK_B):
        tracks.append(TagTrack("rdr1", 1, epc, 0.0, 4.0, 2.0 + i * 0.005, -48.0, 30.0))
        tracks.append(TagTrack("rdr1", 2, epc, 2.0, 4.0 + stop, 3.0, -50.0, 3.0, width_s=1e9))
        tracks.append(TagTrack("rdr1", 3, epc, 2.0 + stop, 6.0 + stop, 4.0 + stop + i * 0.005, -48.0, 30.0))
    return TagWorld(tracks, seed=3)


def test_truck_stopped_in_the_portal_is_one_passage() -> None:
    _, events = run(one_lane(), _stop_in_portal(120.0), until=140.0, tick_every=0.5)
    [p] = ends(events)
    assert keys(p) == load(TRUCK_B)
    assert p.close_reason == "quiet" and p.closed_at is not None and p.closed_at > T0 + 126.0
    assert p.direction == "inbound"


def test_stopped_truck_closes_on_max_duration_only_when_configured_and_does_not_split() -> None:
    _, events = run(one_lane(passage_max_s=30.0), _stop_in_portal(120.0), until=140.0, tick_every=0.5)
    [p] = ends(events)
    assert p.close_reason == "max_duration" and p.closed_at == p.opened_at + 30.0
    assert keys(p) == load(TRUCK_B)
    # the stable set alone (no hold while present) closes early, and still does not split
    _, events = run(one_lane(hold_while_present=False), _stop_in_portal(120.0), until=140.0, tick_every=0.5)
    [p] = ends(events)
    assert p.close_reason == "quiet" and p.closed_at is not None and p.closed_at < T0 + 10.0


def test_reversing_through_the_lane_is_outbound() -> None:
    world = TagWorld(truck_passage("rdr1", [1, 3], TRUCK_A, start=2.0, reverse=True), seed=2)
    _, events = run(one_lane(), world, until=20.0)
    [p] = ends(events)
    assert p.direction == "outbound" and keys(p) == load(TRUCK_A)


def test_pulling_in_and_backing_out_is_unknown() -> None:
    tracks = []
    for i, epc in enumerate(TRUCK_B):
        j = i * 0.01
        tracks.append(TagTrack("rdr1", 1, epc, 0.0, 4.0, 2.0 + j, -48.0, 30.0))  # in past the entry antenna
        tracks.append(TagTrack("rdr1", 2, epc, 1.5, 8.5, 5.0 + j, -48.0, 30.0))  # to the portal and back
        tracks.append(TagTrack("rdr1", 1, epc, 6.0, 10.0, 8.0 + j, -48.0, 30.0))  # out past the entry again
    _, events = run(one_lane(), TagWorld(tracks, seed=9), until=25.0)
    [p] = ends(events)
    assert p.direction == "unknown" and keys(p) == load(TRUCK_B)


def test_reader_dropping_out_mid_passage_keeps_one_passage() -> None:
    from gateway.reads import SourceStatus

    world = _stop_in_portal(20.0)
    outage = [SourceStatus("rdr1", "error", "connection reset", host_time=T0 + 6.0),
              SourceStatus("rdr1", "connected", host_time=T0 + 14.0)]
    _, events = run(one_lane(), world, until=40.0, extra=outage, drop=(6.0, 14.0))
    [p] = ends(events)
    assert keys(p) == load(TRUCK_B) and p.close_reason == "quiet"
    departures = identifier_events(events, "departure")
    assert departures and min(e.time for e in departures) > T0 + 24.0  # nobody left during the outage
    # the same silence without the status: the tags depart and the truck looks like two passages
    _, events = run(one_lane(), world, until=40.0, drop=(6.0, 14.0))
    assert len(ends(events)) == 2


def test_reader_that_never_comes_back_still_closes_the_passage() -> None:
    from gateway.reads import SourceStatus

    world = _stop_in_portal(60.0)
    outage = [SourceStatus("rdr1", "error", "connection refused", host_time=T0 + 6.0)]
    _, events = run(one_lane(), world, until=40.0, extra=outage, drop=(6.0, 100.0))
    [p] = ends(events)
    assert keys(p) == load(TRUCK_B) and p.close_reason == "quiet"
    assert p.closed_at == T0 + 6.0 + 10.0  # outage_hold_s after the error


def test_same_seed_same_passages_whatever_the_tick_cadence() -> None:
    world = _adjacent(peak=-60.0)
    runs = [ends(run(two_lanes(), world, until=25.0, tick_every=step)[1]) for step in (0.1, 0.25, 1.0)]
    assert runs[0] == runs[1] == runs[2]
    assert [p.id for p in runs[0]] == sorted(p.id for p in runs[0]) or len({p.id for p in runs[0]}) == 2
