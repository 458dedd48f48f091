"""The zone map: which lane and zone a (reader, antenna), a camera or a GPI port belongs to.

Built from the site configuration; the lane engine asks it once per read, so lookups are plain
dict gets.  Reads from sources or antennas the configuration does not list belong nowhere (the
engine counts them as dropped, it never guesses).

>>> from gateway.config import parse_config
>>> site = parse_config({"site": "bx", "gateway": "gw", "lanes": [
...     {"id": "lane1", "readers": [{"id": "rdr", "url": "llrp://127.0.0.1", "gpi_exit": 2,
...       "antennas": {1: {"zone": "entry", "rssi_min_dbm": -70}, 2: {"zone": "exit"}}}],
...      "cameras": [{"id": "cam1", "url": "camera:0", "zone": "exit"}]}]})
>>> zones = ZoneMap.from_site(site)
>>> p = zones.locate("rdr", "1")
>>> p.lane, p.zone, p.rssi_min_dbm, p.min_reads
('lane1', 'entry', -70.0, 2)
>>> zones.locate("cam1", "any-roi").zone, zones.locate("rdr", "3"), zones.why_unmapped("rdr")
('exit', None, 'unmapped_antenna')
>>> from gateway.lane.triggers import Trigger
>>> zones.trigger_roles(Trigger("rdr", 0.0, port=2))
[('lane1', 'exit')]

A lane controller names its lane and role itself (MQTT, the HTTP API); a lane the site does not have
is nowhere:

>>> zones.trigger_roles(Trigger("plc", 0.0, kind="external", lane="lane1", role="entry"))
[('lane1', 'entry')]
>>> zones.trigger_roles(Trigger("plc", 0.0, kind="external", lane="lane9", role="entry"))
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.config.lane_engine import LaneEngineConfig
from gateway.config.site import LaneConfig, SiteConfig, Zone
from gateway.lane.passage import Direction
from gateway.lane.triggers import Trigger, TriggerRole

ZONE_ORDER: dict[str, int] = {"entry": 0, "portal": 1, "exit": 2}


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one antenna (or one camera) looks, and how its reads are filtered."""

    lane: str
    zone: Zone
    source: str
    channel: str  # antenna port as text; "*" for a camera (any ROI)
    rssi_min_dbm: float | None
    min_reads: int


class ZoneMap:
    def __init__(self, placements: Sequence[Placement], triggers: dict[tuple[str, int | None],
                 list[tuple[str, TriggerRole]]], lane_defaults: dict[str, Direction],
                 plate_countries: dict[str, str] | None = None, open_on: dict[str, str] | None = None) -> None:
        self.placements = tuple(placements)
        self.lane_defaults = dict(lane_defaults)
        self.plate_countries = dict(plate_countries or {})  # lane -> default country of its plates
        self.open_on = dict(open_on or {})  # lane -> "trigger" where only triggers open passages
        self._by_channel = {(p.source, p.channel): p for p in placements if p.channel != "*"}
        self._by_source = {p.source: p for p in placements if p.channel == "*"}
        self._sources = {p.source for p in placements}
        self._triggers = triggers

    @classmethod
    def from_site(cls, site: SiteConfig) -> ZoneMap:
        return cls.from_lanes(site.lanes, site.lane_engine)

    @classmethod
    def from_lanes(cls, lanes: Sequence[LaneConfig], engine: LaneEngineConfig | None = None) -> ZoneMap:
        engine = engine or LaneEngineConfig()
        placements: list[Placement] = []
        triggers: dict[tuple[str, int | None], list[tuple[str, TriggerRole]]] = {}
        for lane in lanes:
            for reader in lane.readers:
                for port, antenna in sorted(reader.antennas.items()):
                    placements.append(Placement(lane.id, antenna.zone, reader.id, str(port), antenna.rssi_min_dbm,
                                                antenna.min_reads or engine.min_reads))
                if reader.gpi_entry is not None:
                    triggers.setdefault((reader.id, reader.gpi_entry), []).append((lane.id, "entry"))
                if reader.gpi_exit is not None:
                    triggers.setdefault((reader.id, reader.gpi_exit), []).append((lane.id, "exit"))
            for camera in lane.cameras:
                placements.append(Placement(lane.id, camera.zone, camera.id, "*", None, engine.camera_min_reads))
                role: TriggerRole = "presence" if camera.zone == "portal" else camera.zone
                triggers.setdefault((camera.id, None), []).append((lane.id, role))
        return cls(placements, triggers, {lane.id: lane.default_direction for lane in lanes},
                   {lane.id: lane.plate_country for lane in lanes if lane.plate_country},
                   {lane.id: lane.open_on or engine.open_on for lane in lanes})

    def locate(self, source: str, channel: str) -> Placement | None:
        return self._by_channel.get((source, channel)) or self._by_source.get(source)

    def why_unmapped(self, source: str) -> str:
        return "unmapped_antenna" if source in self._sources else "unknown_source"

    def trigger_roles(self, trigger: Trigger) -> list[tuple[str, TriggerRole]]:
        """(lane, role) pairs this trigger acts on; empty if the configuration does not wire it."""
        if trigger.kind == "external":
            if trigger.lane in self.lane_defaults and trigger.role is not None:
                return [(trigger.lane, trigger.role)]
            return []
        return list(self._triggers.get((trigger.source, trigger.port), ()))

    @property
    def lanes(self) -> list[str]:
        return list(self.lane_defaults)
