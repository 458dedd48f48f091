"""Random event streams: the engine never raises and its books always balance."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.lane.engine import LaneEngine
from gateway.lane.events import IdentifierEvent, LaneEvent
from gateway.lane.passage import PassageEvent
from gateway.lane.triggers import Trigger
from gateway.reads import Carrier, Read, SourceStatus
from tests.lane.support import GIDS, SGTINS, SSCCS, T0, decode, reader, site
from tests.support.fuzz import FUZZ_EXAMPLES

POOL = [decode(h) for h in SSCCS[:3] + SGTINS[:3] + GIDS] + [None]
CFG = site([
    {"id": "lane1", "readers": [reader("portal", {1: "entry", 2: {"zone": "exit", "rssi_min_dbm": -70}},
                                       gpi_entry=1, gpi_exit=2)],
     "cameras": [{"id": "cam", "url": "camera:0", "zone": "portal"}]},
    {"id": "lane2", "readers": [reader("portal", {3: "entry", 4: "exit"})]},
], dedup_window_s=0.3, depart_after_s=1.0, passage_quiet_s=1.5, passage_max_s=6.0, update_interval_s=0.5,
   exit_grace_s=0.3, outage_hold_s=2.0)

step = st.tuples(
    st.floats(0.0, 1.5, allow_nan=False),
    st.one_of(
        st.tuples(st.just("read"), st.sampled_from(["portal", "cam", "ghost"]), st.integers(1, 5),
                  st.integers(0, len(POOL) - 1), st.one_of(st.none(), st.floats(-95.0, -30.0)), st.integers(1, 3)),
        st.tuples(st.just("trigger"), st.sampled_from(["portal", "cam", "ghost"]), st.integers(1, 3), st.booleans()),
        st.tuples(st.just("status"), st.sampled_from(["portal", "cam"]),
                  st.sampled_from(["error", "connected", "reconnecting"])),
        st.tuples(st.just("tick")),
    ),
)


def _event(t: float, spec: tuple[Any, ...]) -> Read | Trigger | SourceStatus | None:
    kind = spec[0]
    if kind == "read":
        _, source, port, which, rssi, count = spec
        carrier: Carrier = "barcode" if source == "cam" else "rfid"
        return Read(source, str(port), carrier, "x", t, rssi_dbm=rssi if carrier == "rfid" else None,
                    identifier=POOL[which], count=count, error=None if POOL[which] else "UnprogrammedError: x")
    if kind == "trigger":
        _, source, port, active = spec
        return Trigger(source, t, port=None if source == "cam" else port, active=active,
                       kind="camera" if source == "cam" else "gpi")
    if kind == "status":
        return SourceStatus(spec[1], spec[2], host_time=t)
    return None


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES)
@given(st.lists(step, max_size=30))
def test_random_streams_balance(steps: list[tuple[float, tuple[Any, ...]]]) -> None:
    engine = LaneEngine.from_site(CFG)
    out: list[LaneEvent] = []
    t = T0
    for dt, spec in steps:
        t += dt
        event = _event(t, spec)
        out += engine.tick(t) if event is None else engine.feed(event)
    out += engine.close_all(t + 100.0)
    s = engine.stats
    assert s.reads == s.accepted + sum(s.dropped.values())
    assert s.accepted == s.pending + s.deduplicated + s.observations
    assert engine.open_passages == [] and s.passages_opened == s.passages_closed
    lifecycle: dict[str, list[str]] = {}
    presence: dict[tuple[str, str], str] = {}
    for e in out:
        if isinstance(e, PassageEvent):
            lifecycle.setdefault(e.passage.id, []).append(e.kind)
            if e.kind == "end":
                p = e.passage
                assert p.closed_at is not None and p.closed_at >= p.opened_at
                assert len({x.identifier.key for x in p.identifiers}) == len(p.identifiers)
                assert all(x.identifier.key_type != "gid" for x in p.identifiers)
        elif isinstance(e, IdentifierEvent):
            key = (e.identifier.key, e.lane)
            assert presence.get(key, "departure") != e.kind  # arrivals and departures alternate
            presence[key] = e.kind
    for kinds in lifecycle.values():
        assert kinds[0] == "new" and kinds[-1] == "end" and kinds.count("new") == kinds.count("end") == 1
