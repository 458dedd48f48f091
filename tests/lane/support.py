"""Shared pieces of the lane tests: the EPC table, site builders and a scenario runner."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gateway.config import SiteConfig, parse_config
from gateway.identity import Identifier
from gateway.lane.engine import LaneEngine
from gateway.lane.events import IdentifierEvent, LaneEvent
from gateway.lane.passage import Passage, PassageEvent
from gateway.lane.replay import EngineInput, merge, replay
from gateway.reads import Read
from simulators.replay import world_reads
from simulators.tag_world import TagWorld

T0 = 1_700_000_000.0
_TABLE: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "lane" / "epcs.json").read_text(encoding="utf-8"))


class UnprogrammedError(ValueError):
    """Header 0x00, as the EPC codec names it."""


def decode(epc_hex: str) -> Identifier:
    if not epc_hex.strip("0"):
        raise UnprogrammedError(f"{epc_hex}: unprogrammed tag")
    entry = _TABLE[epc_hex.lower()]
    if not entry["elements"]:
        return Identifier(entry["key_type"], entry["key"], (), entry["uri"])
    return Identifier.from_elements([tuple(e) for e in entry["elements"]], uri=entry["uri"])


def _by_type(key_type: str) -> list[str]:
    return [h for h, e in _TABLE.items() if e["key_type"] == key_type]


SGTINS, SSCCS, GRAIS, GIAIS, GIDS = (_by_type(k) for k in ("sgtin", "sscc", "grai", "giai", "gid"))
UNPROGRAMMED = "0" * 24


def load(epcs: Sequence[str]) -> set[str]:
    """Identifier keys of a list of EPCs (what a passage must contain)."""
    return {decode(h).key for h in epcs}


def site(lanes: list[dict[str, Any]], **engine: Any) -> SiteConfig:
    return parse_config({"site": "bx", "gateway": "gw", "lanes": lanes, "lane_engine": engine})


def reader(rid: str, antennas: dict[int, str | dict[str, Any]], **extra: Any) -> dict[str, Any]:
    ants = {port: ({"zone": z} if isinstance(z, str) else z) for port, z in antennas.items()}
    return {"id": rid, "url": "llrp://127.0.0.1:5084", "antennas": ants, **extra}


def one_lane(**engine: Any) -> SiteConfig:
    return site([{"id": "lane1", "default_direction": "inbound",
                  "readers": [reader("rdr1", {1: "entry", 2: "portal", 3: "exit"}, gpi_entry=1, gpi_exit=2)],
                  "cameras": [{"id": "cam1", "url": "camera:0", "zone": "portal"}]}], **engine)


def two_lanes(**engine: Any) -> SiteConfig:
    """One reader serving two lanes (ports 1-2 and 3-4), as in config/site.example.yaml."""
    return site([
        {"id": "lane1", "default_direction": "inbound", "readers": [reader("portal", {1: "entry", 2: "exit"})]},
        {"id": "lane2", "default_direction": "inbound", "readers": [reader("portal", {3: "entry", 4: "exit"})]},
    ], **engine)


def run(cfg: SiteConfig, world: TagWorld, until: float, extra: Iterable[EngineInput] = (),
        tick_every: float = 0.25, drop: tuple[float, float] | None = None,
        engine: LaneEngine | None = None) -> tuple[LaneEngine, list[LaneEvent]]:
    """Replay ``world`` (virtual seconds from T0) plus ``extra`` events; ``drop`` removes reads in a
    virtual-time interval (a reader that went silent)."""
    engine = engine or LaneEngine.from_site(cfg)
    reads: list[EngineInput] = list(world_reads(world, t0=T0))
    if drop is not None:
        reads = [r for r in reads if not (T0 + drop[0] <= r.host_time < T0 + drop[1])]
    events = replay(engine, merge(reads, sorted(extra, key=lambda e: e.host_time)), until=T0 + until,
                    tick_every=tick_every, start=T0)
    return engine, events


def ends(events: Iterable[LaneEvent]) -> list[Passage]:
    return [e.passage for e in events if isinstance(e, PassageEvent) and e.kind == "end"]


def keys(passage: Passage) -> set[str]:
    return {s.identifier.key for s in passage.identifiers}


def identifier_events(events: Iterable[LaneEvent], kind: str) -> list[IdentifierEvent]:
    return [e for e in events if isinstance(e, IdentifierEvent) and e.kind == kind]


def read(source: str, channel: str, t: float, ident: Identifier | None, rssi: float | None = -50.0,
         carrier: str = "rfid", error: str | None = None, count: int = 1) -> Read:
    return Read(source=source, channel=channel, carrier=carrier, raw="x", host_time=T0 + t,  # type: ignore[arg-type]
                rssi_dbm=rssi if carrier == "rfid" else None, identifier=ident, error=error, count=count)
