"""Vehicles without GS1 carriers in the lane engine: loops open and close passages with nothing read,
the pre-roll attaches what was read just before the loop, ANPR plates and container codes become the
passage's vehicle evidence, and a lane controller's triggers name their lane and role themselves."""

from __future__ import annotations

from typing import Any

from gateway.lane.engine import LaneEngine
from gateway.lane.passage import Passage, PassageEvent
from gateway.lane.triggers import Trigger
from gateway.reads import Read, VehicleRead
from tests.lane.support import SSCCS, T0, decode, reader, site


def lane(**engine: Any) -> LaneEngine:
    return LaneEngine.from_site(site([{
        "id": "lane1", "plate_country": "DEU", "default_direction": "inbound",
        "readers": [reader("rdr1", {1: "entry", 2: "exit"}, gpi_entry=1, gpi_exit=2)],
        "cameras": [{"id": "anpr-front", "url": "anpr+webhook://127.0.0.1:0/a?preset=rekor&position=front"},
                    {"id": "anpr-rear", "url": "anpr+webhook://127.0.0.1:0/b?preset=hikvision&position=rear"}]},
        {"id": "lane2", "readers": [reader("rdr2", {3: "portal"})]}], **engine))


def plate(source: str, t: float, value: str, conf: float | None = 0.9, position: str = "front",
          country: str | None = None, kind: str = "plate", error: str | None = None) -> VehicleRead:
    return VehicleRead(source, T0 + t, kind, value, value, confidence=conf, country=country,  # type: ignore[arg-type]
                       position=position, error=error)  # type: ignore[arg-type]


def gpi(port: int, t: float, active: bool = True, source: str = "rdr1") -> Trigger:
    return Trigger(source, T0 + t, port=port, active=active)


def feed(engine: LaneEngine, *events: Any, until: float = 30.0) -> list[Passage]:
    out = []
    for event in sorted(events, key=lambda e: e.host_time):
        out += engine.feed(event)
    out += engine.tick(T0 + until)
    return [e.passage for e in out if isinstance(e, PassageEvent) and e.kind == "end"]


def test_a_loop_opens_and_closes_a_passage_with_nothing_read() -> None:
    engine = lane()
    [p] = feed(engine, gpi(1, 1.0), gpi(1, 2.5, False), gpi(2, 6.0), gpi(2, 7.0, False))
    assert p.empty and p.close_reason == "trigger" and p.direction == "inbound"
    assert p.triggers == ("gpi:rdr1:1:entry", "gpi:rdr1:2:exit") and p.closed_at == T0 + 7.0  # exit + grace
    assert engine.trigger_states["lane1"] == {"gpi:rdr1:1:entry": (False, T0 + 2.5), "gpi:rdr1:2:exit": (False,
                                                                                                          T0 + 7.0)}


def test_plates_join_as_vehicle_evidence_one_per_value() -> None:
    engine = lane()
    [p] = feed(engine, gpi(1, 1.0), plate("anpr-front", 1.5, "BXY1234", 0.71),
               plate("anpr-front", 1.8, "BXY1234", 0.93), plate("anpr-rear", 4.0, "BXY1234", 0.88, "rear"),
               plate("anpr-rear", 4.2, "BXZ77", 0.6, "trailer", country="AT"), gpi(2, 5.0))
    assert [(v.value, v.confidence, v.country, v.positions, v.reads, v.sources) for v in p.vehicle] == [
        ("BXY1234", 0.93, "DE", ("front", "rear"), 3, ("anpr-front", "anpr-rear")),  # the lane's country
        ("BXZ77", 0.6, "AT", ("trailer",), 1, ("anpr-rear",))]  # the camera's own country wins
    assert [v.value for v in p.plates()] == ["BXY1234", "BXZ77"] and engine.stats.vehicle_reads == 4


def test_a_plate_opens_a_passage_in_a_lane_without_loops_and_late_reads_of_it_are_dropped() -> None:
    engine = lane()
    [p] = feed(engine, plate("anpr-front", 1.0, "BXY1234"), plate("anpr-rear", 2.0, "BXY1234", position="rear"),
               until=8.0)
    assert p.close_reason == "quiet" and [v.value for v in p.vehicle] == ["BXY1234"] and not p.triggers
    assert feed(engine, plate("anpr-front", 15.0, "BXY1234")) == []  # 10 s after: the same truck (group result)
    assert engine.stats.dropped["vehicle_after_close"] == 1
    [again] = feed(engine, plate("anpr-front", 25.0, "BXY1234"), until=40.0)  # later: it came back
    assert again.vehicle[0].value == "BXY1234"


def test_open_on_trigger_waits_and_the_preroll_attaches_what_came_just_before() -> None:
    engine = lane(open_on="trigger", preroll_s=2.0)
    sscc = SSCCS[0]
    reads = [Read("rdr1", "1", "rfid", sscc, T0 + 3.0 + i * 0.1, rssi_dbm=-50.0, identifier=decode(sscc))
             for i in range(5)]
    early = plate("anpr-front", 0.5, "OLD1")  # 3.5 s before the loop: outside the pre-roll
    [p] = feed(engine, early, plate("anpr-front", 3.2, "BXY1234"), *reads, gpi(1, 4.0), gpi(1, 5.0, False),
               gpi(2, 6.0), gpi(2, 6.5, False))
    assert [v.value for v in p.vehicle] == ["BXY1234"] and [s.identifier.key for s in p.identifiers] == [
        decode(sscc).key]
    assert engine.stats.vehicle_waiting == 2 and p.opened_at == T0 + 4.0


def test_between_the_loops_the_passage_waits_for_the_exit_loop() -> None:
    engine = lane(passage_quiet_s=2.0, exit_wait_s=10.0)
    # the truck leaves the entry loop at 2.5 and reaches the exit loop at 9: no read in between
    [p] = feed(engine, gpi(1, 1.0), gpi(1, 2.5, False), plate("anpr-front", 1.5, "BXY1234"), gpi(2, 9.0),
               gpi(2, 9.5, False))
    assert p.close_reason == "trigger" and p.triggers == ("gpi:rdr1:1:entry", "gpi:rdr1:2:exit")
    # no exit loop at all (it failed): the passage closes exit_wait_s after the last sign of the vehicle
    [q] = feed(engine, gpi(1, 40.0), gpi(1, 41.0, False), until=60.0)
    assert q.close_reason == "quiet" and q.closed_at == T0 + 51.0


def test_the_passage_stays_open_while_the_loop_is_occupied() -> None:
    engine = lane(passage_quiet_s=2.0, exit_wait_s=0.0)
    [p] = feed(engine, gpi(1, 1.0), plate("anpr-front", 1.2, "BXY1234"), gpi(1, 20.0, False), until=40.0)
    assert p.close_reason == "quiet" and p.closed_at == T0 + 22.0  # quiet only after the loop was released


def test_bad_container_codes_are_kept_as_evidence_and_unmapped_cameras_are_counted() -> None:
    engine = lane()
    [p] = feed(engine, plate("anpr-rear", 1.0, "CSQU3054384", 0.9, "container", kind="container",
                             error="ISO 6346 check digit is wrong (CSQU3054384)"),
               plate("nowhere", 1.0, "BXY1234"), plate("anpr-front", 1.0, ""))
    [c] = p.containers()
    assert c.error and not c.usable and c.country is None  # no lane country for containers
    assert engine.stats.dropped == {"vehicle:unknown_source": 1, "vehicle:empty": 1}


def test_external_triggers_name_their_lane_and_role() -> None:
    engine = lane()
    [p] = feed(engine, Trigger("plc-1", T0 + 1.0, kind="external", lane="lane2", role="entry"),
               Trigger("plc-1", T0 + 3.0, kind="external", lane="lane2", role="exit"),
               Trigger("plc-1", T0 + 3.5, kind="external", lane="nowhere", role="entry"))
    assert p.lane == "lane2" and p.triggers == ("external:plc-1:entry", "external:plc-1:exit") and p.empty
    assert engine.stats.ignored_triggers == {"unmapped": 1}
