"""The lane engine's stages one at a time, with hand-written reads (times are T0 + seconds)."""

from __future__ import annotations

import pytest

from gateway.identity import Identifier
from gateway.lane.engine import LaneEngine
from gateway.lane.events import LaneEvent
from gateway.lane.passage import PassageEvent
from gateway.lane.triggers import Trigger
from gateway.lane.zones import ZoneMap
from gateway.reads import Read
from tests.lane.support import (
    GIDS,
    SGTINS,
    SSCCS,
    T0,
    UNPROGRAMMED,
    decode,
    ends,
    identifier_events,
    one_lane,
    read,
    reader,
    site,
    two_lanes,
)

SSCC = decode(SSCCS[0])
SGTIN = decode(SGTINS[0])


def feed(engine: LaneEngine, reads: list[Read]) -> list[LaneEvent]:
    out: list[LaneEvent] = []
    for r in reads:
        out += engine.feed(r)
    return out


def test_every_dropped_read_is_counted_with_its_reason() -> None:
    cfg = site([{"id": "lane1", "readers": [reader("rdr1", {1: {"zone": "entry", "rssi_min_dbm": -70}})]}],
               key_types=["sscc", "gid"])
    engine = LaneEngine.from_site(cfg)
    unprogrammed_error = None
    try:
        decode(UNPROGRAMMED)
    except ValueError as exc:
        unprogrammed_error = f"{type(exc).__name__}: {exc}"
    feed(engine, [
        read("rdr1", "9", 0.0, SSCC),  # antenna not in the zone map
        read("ghost", "1", 0.0, SSCC),  # source not configured
        read("rdr1", "1", 0.0, None, error=unprogrammed_error),  # unprogrammed tag
        read("rdr1", "1", 0.0, None),  # no identifier, no reason given
        read("rdr1", "1", 0.0, decode(GIDS[0])),  # a GID is not a GS1 key
        read("rdr1", "1", 0.0, SGTIN),  # not in key_types
        read("rdr1", "1", 0.0, SSCC, rssi=-75.0),  # below the antenna's threshold
        read("rdr1", "1", 0.0, SSCC, rssi=-70.0),  # at the threshold: accepted
    ])
    s = engine.stats
    assert s.dropped == {"unmapped_antenna": 1, "unknown_source": 1, "undecoded:UnprogrammedError": 1,
                         "undecoded": 1, "not_gs1_key": 1, "key_type_filtered": 1, "below_rssi": 1}
    assert s.reads == 8 and s.accepted == 1 and s.pending == 1


def test_min_reads_dedup_window_arrival_and_departure() -> None:
    engine = LaneEngine.from_site(one_lane(min_reads=3, dedup_window_s=1.0, depart_after_s=3.0))
    events = feed(engine, [read("rdr1", "2", i * 0.1, SSCC) for i in range(25)])  # 2.4 s at 10 Hz
    [arrival] = identifier_events(events, "arrival")
    assert arrival.time == T0 + 0.2 and arrival.reason == "qualified"  # the third read
    s = engine.stats
    assert (s.pending, s.observations, s.deduplicated) == (2, 3, 20)  # windows opened at 0.2, 1.2, 2.2
    assert identifier_events(engine.tick(T0 + 5.3), "departure") == []
    [departure] = identifier_events(engine.tick(T0 + 5.4), "departure")
    assert departure.time == T0 + 2.4 + 3.0 and departure.reason == "absent"


def test_per_antenna_min_reads_override() -> None:
    cfg = site([{"id": "lane1", "readers": [reader("rdr1", {1: {"zone": "portal", "min_reads": 1}})]}], min_reads=5)
    engine = LaneEngine.from_site(cfg)
    assert identifier_events(engine.feed(read("rdr1", "1", 0.0, SSCC)), "arrival")


def test_tag_moves_to_the_lane_with_stronger_evidence_with_hysteresis() -> None:
    engine = LaneEngine.from_site(two_lanes(min_reads=1, dedup_window_s=0.2))
    events = feed(engine, [read("portal", "3", 0.0, SSCC, rssi=-70.0)])  # seen first by lane 2 only
    assert [(e.kind, e.lane) for e in events if not isinstance(e, PassageEvent)] == [("arrival", "lane2")]
    # lane 1 reads it 3 dB stronger shortly after: inside the hold-off the margin (6 dB) keeps it in lane 2
    events = feed(engine, [read("portal", "1", 0.1, SSCC, rssi=-67.0)])
    assert identifier_events(events, "arrival") == []
    # then lane 1 dominates: it moves, leaves lane 2's passage and arrives in lane 1's
    events = feed(engine, [read("portal", "1", 0.5 + i * 0.05, SSCC, rssi=-45.0) for i in range(20)])
    kinds = [(e.kind, e.lane, getattr(e, "reason", None)) for e in events if not isinstance(e, PassageEvent)]
    assert kinds == [("departure", "lane2", "moved"), ("arrival", "lane1", "moved")]
    assert engine.stats.moves == 1
    done = ends(engine.close_all(T0 + 2.0))
    by_lane = {p.lane: p for p in done}
    assert by_lane["lane2"].identifiers == () and len(by_lane["lane1"].identifiers) == 1
    assert by_lane["lane1"].identifiers[0].evidence.confidence > 0.99
    assert {p.close_reason for p in done} == {"shutdown"}


def test_barcode_reads_merge_with_rfid_in_one_passage() -> None:
    engine = LaneEngine.from_site(one_lane())
    label = Identifier.from_elements([("00", SSCC.key)])
    case = Identifier.from_elements([("01", "09520120123454"), ("10", "LOT7"), ("30", "12")])
    reads = [read("rdr1", "1", i * 0.05, SSCC, rssi=-50.0) for i in range(20)]
    reads += [read("rdr1", "3", 1.0 + i * 0.05, SGTIN, rssi=-50.0) for i in range(20)]
    reads += [read("cam1", "cam1", 0.5, label, carrier="barcode", count=3),
              read("cam1", "roi-left", 0.7, case, carrier="barcode")]
    reads.sort(key=lambda r: r.host_time)
    feed(engine, reads)
    [p] = ends(engine.tick(T0 + 20.0))
    seen = {s.identifier.key: s.evidence for s in p.identifiers}
    assert seen[SSCC.key].carriers == ("barcode", "rfid") and seen[SSCC.key].sources == ("cam1", "rdr1")
    assert seen[SSCC.key].reads == 23 and seen[SSCC.key].zones == ("entry", "portal")
    assert seen["09520120123454"].carriers == ("barcode",) and seen["09520120123454"].best_rssi_dbm is None
    group = p.gtins()["09520120123454"]
    assert group.serials == ("0",) and group.batches == ("LOT7",) and group.items == 2 and group.quantity == 12


def test_gpi_triggers_open_close_and_give_the_direction() -> None:
    engine = LaneEngine.from_site(one_lane(exit_grace_s=1.0))
    [new] = engine.feed(Trigger("rdr1", T0 + 0.0, port=1))  # entry barrier: opens before any tag
    assert isinstance(new, PassageEvent) and new.kind == "new" and new.passage.triggers == ("gpi:rdr1:1:entry",)
    feed(engine, [read("rdr1", "2", 1.0 + i * 0.05, SSCC) for i in range(20)])
    assert engine.feed(Trigger("rdr1", T0 + 2.5, port=2, active=False)) == []  # a release: ignored, counted
    engine.feed(Trigger("rdr1", T0 + 3.0, port=2))  # exit barrier: closes after the grace time
    [p] = ends(engine.tick(T0 + 4.0))
    assert p.close_reason == "trigger" and p.closed_at == T0 + 4.0 and p.direction == "inbound"
    assert p.triggers == ("gpi:rdr1:1:entry", "gpi:rdr1:2:exit") and len(p.identifiers) == 1
    # the tag is still read after the close: it must not open a second passage
    assert ends(feed(engine, [read("rdr1", "3", 4.5 + i * 0.05, SSCC) for i in range(10)])) == []
    # the next truck comes the other way: exit barrier first, then entry
    engine.feed(Trigger("rdr1", T0 + 20.0, port=2))
    engine.feed(Trigger("rdr1", T0 + 22.0, port=1))  # (within passage_quiet_s: a quiet passage closes)
    [p2] = ends(engine.tick(T0 + 24.0))
    assert p2.direction == "outbound" and p2.identifiers == () and p2.id != p.id
    engine.feed(Trigger("ghost", T0 + 27.0, port=1))
    assert engine.stats.ignored_triggers == {"release": 1, "unmapped": 1} and engine.stats.dropped == {}


def test_next_vehicles_entry_closes_a_closing_passage_at_once() -> None:
    engine = LaneEngine.from_site(one_lane(exit_grace_s=5.0))
    engine.feed(Trigger("rdr1", T0, port=1))
    engine.feed(Trigger("rdr1", T0 + 3.0, port=2))
    events = engine.feed(Trigger("rdr1", T0 + 4.0, port=1))
    assert [(e.kind, e.passage.close_reason) for e in events] == [("end", "trigger"), ("new", None)]  # type: ignore[union-attr]


def test_camera_zone_trigger_and_engine_rejects_unknown_events() -> None:
    cfg = site([{"id": "lane1", "cameras": [{"id": "cam-in", "url": "camera:0", "zone": "entry"},
                                           {"id": "cam-out", "url": "camera:1", "zone": "exit"}]}])
    engine = LaneEngine.from_site(cfg)
    engine.feed(Trigger("cam-out", T0, kind="camera"))
    engine.feed(Trigger("cam-in", T0 + 2.0, kind="camera"))
    [p] = ends(engine.tick(T0 + 4.0))
    assert p.direction == "outbound" and p.triggers == ("camera:cam-out:exit", "camera:cam-in:entry")
    with pytest.raises(TypeError, match="unexpected str"):
        engine.feed("read")  # type: ignore[arg-type]


def test_zone_map_from_the_example_site_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import load_config

    monkeypatch.setenv("BX_MQTT_PASSWORD", "x")
    monkeypatch.setenv("BX_API_TOKEN", "y")
    zones = ZoneMap.from_site(load_config("config/site.example.yaml"))
    assert zones.locate("portal-llrp", "3").lane == "lane2"  # type: ignore[union-attr]
    assert zones.locate("portal-llrp", "1").rssi_min_dbm == -70  # type: ignore[union-attr]
    assert zones.locate("handheld-dock", "1").min_reads == 1  # type: ignore[union-attr]
    assert zones.locate("cam-lane2", "0").zone == "exit"  # type: ignore[union-attr]
    assert zones.locate("portal-llrp", "5") is None and zones.lanes == ["lane1", "lane2"]


def test_tag_world_reads_through_the_project_epc_codec() -> None:
    pytest.importorskip("gateway.gs1.epc")
    from simulators.replay import sim_to_read
    from simulators.tag_world import SimRead

    good = sim_to_read(SimRead("rdr1", 2, SSCCS[0], 0x3000, 1.5, -51.0, 7, 865_700, 10.0), T0)
    assert good.identifier == SSCC and good.host_time == T0 + 1.5 and good.channel == "2" and good.rssi_dbm == -51.0
    blank = sim_to_read(SimRead("rdr1", 2, UNPROGRAMMED, 0x3000, 1.6, -51.0, 8, 865_700, 10.0), T0)
    assert blank.identifier is None and blank.error is not None
    engine = LaneEngine.from_site(one_lane())
    engine.feed(blank)
    assert engine.stats.dropped == {"undecoded:UnprogrammedError": 1}
