"""The lane engine: a clock-free state machine from reads to passages (sans-I/O).

Feed it :class:`~gateway.reads.Read`, :class:`~gateway.reads.VehicleRead`,
:class:`~gateway.lane.triggers.Trigger` and :class:`~gateway.reads.SourceStatus` events with
:meth:`LaneEngine.feed`, and call
:meth:`LaneEngine.tick` with the current host time now and then; both return the lane events
that became true: :class:`~gateway.lane.events.IdentifierEvent` (arrival / departure) and
:class:`~gateway.lane.passage.PassageEvent` (``new`` / ``update`` / ``end``).  Time only ever
comes from the events and the caller, so a replay of the same reads gives the same passages.

Per read, in order: zone map (source, antenna or camera -> lane and zone), filters (decoded,
GS1 key, key types, per-antenna RSSI threshold; every drop is counted by reason in
:attr:`LaneEngine.stats`), evidence (counts, best RSSI, arbitration power, zone times), the
minimum read count, then the dedup window: only the first read of an identifier on an antenna
per window runs the rest (arbitration, presence, passage membership).  Timers (departures,
passage closes, rate-limited updates) run from :meth:`tick` and, at most every
``timer_resolution_s``, from reads.

>>> from gateway.config import parse_config
>>> from gateway.identity import Identifier
>>> site = parse_config({"site": "bx", "gateway": "gw", "lanes": [{"id": "lane1", "readers": [
...     {"id": "rdr", "url": "llrp://127.0.0.1", "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}}]}]})
>>> engine = LaneEngine.from_site(site)
>>> sscc = Identifier.from_elements([("00", "106141411234567897")])
>>> events = []
>>> for i in range(40):  # 2 s of reads, entry antenna first
...     t = 100.0 + i * 0.05
...     events += engine.feed(Read("rdr", "1" if i < 20 else "2", "rfid", "31..", t, rssi_dbm=-50.0,
...                                identifier=sscc))
>>> [(type(e).__name__, e.kind) for e in events]
[('IdentifierEvent', 'arrival'), ('PassageEvent', 'new')]
>>> events = engine.tick(110.0)
>>> [e.kind for e in events]
['departure', 'end']
>>> p = events[-1].passage
>>> p.direction, p.close_reason, p.closed_at, p.count("sscc"), p.identifiers[0].evidence.reads
('inbound', 'quiet', 104.95, 1, 40)

Vehicles without GS1 carriers.  A passage also opens on an entry trigger (a loop on the reader's GPI)
with nothing read, takes the plates and container codes the lane's ANPR cameras read
(:class:`~gateway.reads.VehicleRead`, one :class:`~gateway.lane.passage.VehicleEvidence` per value),
and closes on the exit trigger.  With ``open_on: trigger`` only triggers open passages, and whatever
was read in the ``preroll_s`` before the opening trigger joins it:

>>> from gateway.reads import VehicleRead
>>> site = parse_config({"site": "bx", "gateway": "gw", "lane_engine": {"open_on": "trigger"}, "lanes": [
...     {"id": "lane1", "plate_country": "DE", "readers": [{"id": "rdr", "url": "llrp://127.0.0.1",
...      "gpi_entry": 1, "gpi_exit": 2}], "cameras": [{"id": "anpr", "url": "anpr+webhook://127.0.0.1:0/?preset=rekor"}]}]})
>>> engine = LaneEngine.from_site(site)
>>> plate = VehicleRead("anpr", 200.0, "plate", "B XY 1234", "BXY1234", confidence=0.9, position="front")
>>> engine.feed(plate)  # no loop yet: it waits
[]
>>> [e.kind for e in engine.feed(Trigger("rdr", 201.0, port=1))]
['new']
>>> _ = engine.feed(Trigger("rdr", 203.0, port=1, active=False))  # off the entry loop
>>> end = engine.feed(Trigger("rdr", 206.0, port=2)) + engine.tick(210.0)
>>> p = end[-1].passage
>>> p.close_reason, p.direction, [(v.value, v.country, v.positions) for v in p.vehicle], p.identifiers
('trigger', 'inbound', [('BXY1234', 'DE', ('front',))], ())
>>> engine.trigger_states["lane1"]["gpi:rdr:2:exit"][0]
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from gateway.config.lane_engine import LaneEngineConfig
from gateway.config.site import SiteConfig
from gateway.identity import Identifier
from gateway.lane.arbitration import BUCKETS, choose, dbm_to_mw
from gateway.lane.direction import ZoneTrack, decide, vote
from gateway.lane.events import IdentifierEvent, IdentifierEventReason, LaneEvent, LaneStats
from gateway.lane.passage import (
    CloseReason,
    Direction,
    Evidence,
    Passage,
    PassageEvent,
    PassageState,
    SeenIdentifier,
    VehicleEvidence,
)
from gateway.lane.triggers import Trigger
from gateway.lane.zones import ZONE_ORDER, Placement, ZoneMap
from gateway.reads import Read, SourceStatus, VehicleRead

_NOT_GS1 = frozenset({"gid", "usdod", "adi", "other"})
_DOWN_STATES = frozenset({"error", "reconnecting", "stopped"})

Identity = tuple[str, ...]  # (key_type, key) or, for a GTIN without serial, (key_type, key, batch)
# What the engine knows about the lanes (kept by ``reconfigure``); everything else ``__init__`` derives from
# the zone map and the settings.
_STATE = ("stats", "_presence", "_tags", "_open", "_seq", "_down", "_waiting", "_closed_vehicles", "trigger_states",
          "_now", "_next_check")


class _Presence:
    """One identifier in one lane: its evidence there and its place in the lane's passage."""

    __slots__ = (
        "best_rssi",
        "bidx",
        "bsum",
        "carriers",
        "confidence",
        "counts",
        "dedup",
        "departed_at",
        "first_seen",
        "ident",
        "identity",
        "lane",
        "last_seen",
        "last_source",
        "passage",
        "present",
        "qualified",
        "reads",
        "sources",
        "zones",
    )

    def __init__(self, ident: Identifier, identity: Identity, lane: str, t: float) -> None:
        self.ident, self.identity, self.lane = ident, identity, lane
        self.first_seen = self.last_seen = t
        self.reads = 0
        self.best_rssi: float | None = None
        self.carriers: set[str] = set()
        self.sources: set[str] = set()
        self.last_source = ""
        self.counts: dict[int, int] = {}  # placement index -> reads, until qualified
        self.dedup: dict[int, float] = {}  # placement index -> start of its dedup window
        self.qualified = False
        self.present = False  # arrived in this lane (assigned here) and not departed
        self.departed_at = t
        self.passage: _Open | None = None
        self.zones: dict[str, ZoneTrack] = {}
        self.bidx = [-1] * BUCKETS  # arbitration evidence: bucket number and power per slot
        self.bsum = [0.0] * BUCKETS
        self.confidence = 1.0


class _Tag:
    """One identifier across lanes: which lane it is assigned to."""

    __slots__ = ("assigned", "assigned_at", "consumed", "lanes")

    def __init__(self) -> None:
        self.lanes: dict[str, _Presence] = {}
        self.assigned: str | None = None
        self.assigned_at = 0.0
        self.consumed = False  # was in a passage that closed while it was still present


class _Vehicle:
    """A plate or container code in an open passage: what its reads say together."""

    __slots__ = ("best", "country", "first_seen", "last_seen", "positions", "reads", "sources")

    def __init__(self, read: VehicleRead, country: str | None) -> None:
        self.best = read
        self.country = country
        self.first_seen = self.last_seen = read.host_time
        self.reads = 0
        self.positions: dict[str, None] = {}
        self.sources: set[str] = set()

    def add(self, read: VehicleRead) -> None:
        self.reads += 1
        self.first_seen = min(self.first_seen, read.host_time)
        self.last_seen = max(self.last_seen, read.host_time)
        if read.position != "unknown":
            self.positions.setdefault(read.position, None)
        self.sources.add(read.source)
        if read.country is not None and self.country != read.country and (read.confidence or 0.0) >= (
                self.best.confidence or 0.0):
            self.country = read.country
        if (read.confidence or 0.0) > (self.best.confidence or 0.0):
            self.best = read

    def evidence(self) -> VehicleEvidence:
        b = self.best
        return VehicleEvidence(b.kind, b.value, b.text, b.confidence, self.country, tuple(self.positions),
                               self.first_seen, self.last_seen, self.reads, tuple(sorted(self.sources)), b.error,
                               b.candidates, b.image_ref)


class _Open:
    """An open passage."""

    __slots__ = (
        "checked",
        "closing_at",
        "dirty",
        "id",
        "lane",
        "last_emit",
        "last_new",
        "last_trigger",
        "members",
        "opened_at",
        "roles",
        "shown",
        "triggers",
        "vehicles",
    )

    def __init__(self, passage_id: str, lane: str, t: float) -> None:
        self.id, self.lane, self.opened_at = passage_id, lane, t
        self.members: dict[Identity, _Presence] = {}
        self.vehicles: dict[tuple[str, str], _Vehicle] = {}
        self.last_new = self.last_trigger = self.last_emit = t
        self.triggers: list[str] = []
        self.roles: list[str] = []
        self.closing_at: float | None = None
        self.dirty = False
        self.shown: Direction = "unknown"  # the direction of the last new/update event
        self.checked = t  # when an undecided direction was last looked at again


class LaneEngine:
    def __init__(self, zones: ZoneMap, config: LaneEngineConfig | None = None) -> None:
        self.zones = zones
        self.config = cfg = config or LaneEngineConfig()
        self.stats = LaneStats()
        self._index = {(p.source, p.channel): (i, p) for i, p in enumerate(zones.placements) if p.channel != "*"}
        self._camera = {p.source: (i, p) for i, p in enumerate(zones.placements) if p.channel == "*"}
        self._reject = _NOT_GS1 if cfg.only_gs1_keys else frozenset()
        self._allow = frozenset(cfg.key_types) if cfg.key_types is not None else None
        self._camera_power = dbm_to_mw(cfg.camera_evidence_dbm)
        self._inv_bucket = BUCKETS / cfg.arbitration_window_s
        self._dedup, self._depart, self._hold_s = cfg.dedup_window_s, cfg.depart_after_s, cfg.outage_hold_s
        self._presence: dict[tuple[Identity, str], _Presence] = {}
        self._tags: dict[Identity, _Tag] = {}
        self._open: dict[str, _Open] = {}
        self._seq: dict[str, int] = {}
        self._down: dict[str, float] = {}  # source -> host time it reported an error
        self._waiting: dict[str, list[VehicleRead]] = {}  # lane -> plates read while no passage was open
        self._closed_vehicles: dict[str, dict[tuple[str, str], float]] = {}  # lane -> value -> close time
        self.trigger_states: dict[str, dict[str, tuple[bool, float]]] = {}  # lane -> label -> (active, time)
        self._now = -math.inf
        self._next_check = -math.inf

    @classmethod
    def from_site(cls, site: SiteConfig) -> LaneEngine:
        return cls(ZoneMap.from_site(site), site.lane_engine)

    # -- input --------------------------------------------------------------------------

    def feed(self, event: Read | Trigger | SourceStatus | VehicleRead) -> list[LaneEvent]:
        if type(event) is Read:
            return self._read(event)
        if isinstance(event, Trigger):
            return self._trigger(event)
        if isinstance(event, VehicleRead):
            return self._vehicle(event)
        if isinstance(event, SourceStatus):
            return self._status(event)
        if isinstance(event, Read):
            return self._read(event)
        raise TypeError(f"LaneEngine.feed: unexpected {type(event).__name__}")

    def tick(self, now: float) -> list[LaneEvent]:
        """Run the timers up to ``now`` (host time): departures, passage closes and updates."""
        return self._advance(now)

    def close_all(self, now: float) -> list[LaneEvent]:
        """Close every open passage (reason ``shutdown``): the service is stopping."""
        out = self._advance(now)
        for passage in list(self._open.values()):
            self._close(passage, max(now, passage.opened_at), "shutdown", now, out)
        return out

    def reconfigure(self, zones: ZoneMap, config: LaneEngineConfig, now: float) -> list[LaneEvent]:
        """Take a reloaded configuration's zone map and settings, keeping what is in the lanes.

        Lanes that remain keep their open passages, identifiers, evidence and counters, and go on under
        the new settings; the open passage of a lane that is gone is closed (reason ``lane_removed``,
        returned as its ``end`` event) and the lane's identifiers are forgotten.  Reads from a source or
        antenna no longer placed are dropped from now on (``unknown_source``, ``unmapped_antenna``).
        """
        out = self._advance(now)
        lanes = set(zones.lanes)
        for passage in [p for p in self._open.values() if p.lane not in lanes]:
            self._close(passage, max(now, passage.opened_at), "lane_removed", now, out)
        for key in [key for key in self._presence if key[1] not in lanes]:
            self._forget(key)
        # Per-antenna read counts and dedup windows are keyed by placement index: carry them over by
        # (source, antenna); an antenna no longer placed starts afresh if it comes back.
        old = [(p.source, p.channel) for p in self.zones.placements]
        new = {(p.source, p.channel): i for i, p in enumerate(zones.placements)}
        moved = {i: new[key] for i, key in enumerate(old) if key in new}
        for pr in self._presence.values():
            pr.counts = {moved[i]: n for i, n in pr.counts.items() if i in moved}
            pr.dedup = {moved[i]: t for i, t in pr.dedup.items() if i in moved}
        state = {name: getattr(self, name) for name in _STATE}
        LaneEngine.__init__(self, zones, config)  # the lookups and settings derived from the configuration
        for name, value in state.items():
            setattr(self, name, value)
        return out

    @property
    def open_passages(self) -> list[Passage]:
        return [self._snapshot(p, "open") for p in self._open.values()]

    # -- reads (the hot path) -------------------------------------------------------------

    def _read(self, read: Read) -> list[LaneEvent]:
        stats = self.stats
        stats.reads += 1
        t = read.host_time
        out: list[LaneEvent] = self._advance(t) if t >= self._next_check else []
        found = self._index.get((read.source, read.channel)) or self._camera.get(read.source)
        if found is None:
            stats.drop(self.zones.why_unmapped(read.source))
            return out
        ident = read.identifier
        if ident is None:
            stats.drop(_undecoded(read.error))
            return out
        kt = ident.key_type
        if kt in self._reject:
            stats.drop("not_gs1_key")
            return out
        if self._allow is not None and kt not in self._allow:
            stats.drop("key_type_filtered")
            return out
        index, place = found
        rssi = read.rssi_dbm
        if rssi is not None:
            floor = place.rssi_min_dbm
            if floor is not None and rssi < floor:
                stats.drop("below_rssi")
                return out
            power = 10.0 ** (rssi * 0.1)
        else:
            power = self._camera_power
        stats.accepted += 1
        identity: Identity = (kt, ident.key) if kt != "gtin" else (kt, ident.key, ident.value("10") or "")
        lane = place.lane
        pr = self._presence.get((identity, lane))
        if pr is None:
            pr = self._presence[(identity, lane)] = _Presence(ident, identity, lane, t)
            tag = self._tags.get(identity)
            if tag is None:
                tag = self._tags[identity] = _Tag()
            tag.lanes[lane] = pr
        n = read.count
        pr.reads += n
        if t > pr.last_seen:
            pr.last_seen = t
        elif t < pr.first_seen:
            pr.first_seen = t
        if rssi is not None and (pr.best_rssi is None or rssi > pr.best_rssi):
            pr.best_rssi = rssi
        pr.carriers.add(read.carrier)
        pr.sources.add(read.source)
        pr.last_source = read.source
        bucket = int(t * self._inv_bucket)
        slot = bucket % BUCKETS
        if pr.bidx[slot] == bucket:
            pr.bsum[slot] += power
        else:
            pr.bidx[slot], pr.bsum[slot] = bucket, power
        track = pr.zones.get(place.zone)
        if track is None:
            pr.zones[place.zone] = ZoneTrack(t, t, power, power * t)
        else:
            track.add(t, power)
        if not pr.qualified:
            count = pr.counts[index] = pr.counts.get(index, 0) + n
            if count < place.min_reads:
                stats.pending += 1
                return out
            pr.qualified = True
            pr.counts.clear()
        else:
            start = pr.dedup.get(index)
            if start is not None and t - start < self._dedup:
                stats.deduplicated += 1
                return out
        pr.dedup[index] = t
        stats.observations += 1
        self._observe(pr, t, out)
        return out

    def _observe(self, pr: _Presence, t: float, out: list[LaneEvent]) -> None:
        """An observation (first read in a dedup window): arbitrate, arrive, join the passage."""
        tag = self._tags[pr.identity]
        if len(tag.lanes) == 1:
            lane, confidence = pr.lane, 1.0
        else:
            lane, confidence = self._arbitrate(tag, t)
        if lane != tag.assigned:
            self._move(tag, lane, confidence, t, out)
            return
        home = tag.lanes[lane]
        home.confidence = confidence
        if home is pr and not pr.present:
            self._arrive(pr, tag, t, "returned", None, out)

    def _arbitrate(self, tag: _Tag, t: float) -> tuple[str, float]:
        now_bucket = int(t * self._inv_bucket)
        scores: dict[str, float] = {}
        for lane, pr in tag.lanes.items():
            scores[lane] = sum(s for b, s in zip(pr.bidx, pr.bsum, strict=True)
                               if now_bucket - BUCKETS < b <= now_bucket)
        eligible = [lane for lane, pr in tag.lanes.items() if pr.qualified]
        return choose(scores, eligible, tag.assigned, t - tag.assigned_at, self.config)

    def _move(self, tag: _Tag, lane: str, confidence: float, t: float, out: list[LaneEvent]) -> None:
        old = tag.assigned
        if old is not None:
            self.stats.moves += 1
            prev = tag.lanes.get(old)
            if prev is not None:
                if prev.present:
                    prev.present, prev.departed_at = False, t
                    self.stats.departures += 1
                    out.append(IdentifierEvent("departure", prev.ident, old, t, "moved", confidence))
                passage = prev.passage
                if passage is not None:  # reads assigned elsewhere leave this lane's passage
                    del passage.members[prev.identity]
                    prev.passage = None
                    passage.dirty = True
                    self._maybe_update(passage, t, out)
        tag.assigned, tag.assigned_at = lane, t
        pr = tag.lanes[lane]
        pr.confidence = confidence
        self._arrive(pr, tag, t, "qualified" if old is None else "moved", old, out)

    def _arrive(self, pr: _Presence, tag: _Tag, t: float, reason: IdentifierEventReason, from_lane: str | None,
                out: list[LaneEvent]) -> None:
        pr.present = True
        self.stats.arrivals += 1
        out.append(IdentifierEvent("arrival", pr.ident, pr.lane, t, reason, pr.confidence, from_lane))
        if pr.passage is not None or tag.consumed:
            return
        passage = self._open.get(pr.lane)
        opened = passage is None
        if passage is None:
            if self.zones.open_on.get(pr.lane) == "trigger":
                return  # waits for the lane's trigger (pre-roll), or departs unattached
            passage = self._open_passage(pr.lane, t)
        passage.members[pr.identity] = pr
        pr.passage = passage
        passage.last_new = t
        if opened:
            passage.last_emit = t
            out.append(self._emit("new", passage, t))
        else:
            passage.dirty = True
            self._maybe_update(passage, t, out)

    # -- triggers and source status ---------------------------------------------------------

    def _trigger(self, trigger: Trigger) -> list[LaneEvent]:
        self.stats.triggers += 1
        t = trigger.host_time
        out = self._advance(t)
        roles = self.zones.trigger_roles(trigger)
        for lane, role in roles:  # what the dashboard shows: each input of each lane, on or off, since when
            self.trigger_states.setdefault(lane, {})[f"{trigger.label}:{role}"] = (trigger.active, t)
        if not trigger.active:
            self.stats.ignore_trigger("release")
            for lane, _role in roles:  # the vehicle is still moving over the loops: not quiet
                passage = self._open.get(lane)
                if passage is not None:
                    passage.last_trigger = max(passage.last_trigger, t)
            return out
        if not roles:
            self.stats.ignore_trigger("unmapped")
            return out
        for lane, role in roles:
            label = f"{trigger.label}:{role}"
            passage = self._open.get(lane)
            if passage is not None and passage.closing_at is not None and role != "presence":
                self._close(passage, t, "trigger", t, out)  # the next vehicle's barrier: close now
                passage = None
            if passage is None:
                passage = self._open_passage(lane, t)
                passage.triggers.append(label)
                passage.roles.append(role)
                self._preroll(passage, t)
                out.append(self._emit("new", passage, t))
                continue
            barriers = [r for r in passage.roles if r != "presence"]
            passage.triggers.append(label)
            passage.roles.append(role)
            passage.last_trigger = t
            if (role == "exit" and not barriers) or (barriers and role not in ("presence", barriers[0])):
                # the barrier opposite to the first one (or exit after reads): the vehicle has passed
                passage.closing_at = t + self.config.exit_grace_s
                if self.config.exit_grace_s == 0:  # nothing to wait for: close now, not at the next tick
                    self._close(passage, t, "trigger", t, out)
                    continue
            passage.dirty = True
            self._maybe_update(passage, t, out)
        return out

    def _preroll(self, passage: _Open, t: float) -> None:
        """A trigger opened ``passage``: what its lane read in the pre-roll before it, unattached, joins it."""
        since = t - self.config.preroll_s
        lane = passage.lane
        for pr in self._presence.values():
            if (pr.lane == lane and pr.present and pr.passage is None and pr.last_seen >= since
                    and not self._tags[pr.identity].consumed and self._tags[pr.identity].assigned == lane):
                passage.members[pr.identity] = pr
                pr.passage = passage
        for read in self._waiting.pop(lane, []):
            if read.host_time >= since:
                self._add_vehicle(passage, read)

    # -- plates and container codes ------------------------------------------------------------

    def _vehicle(self, read: VehicleRead) -> list[LaneEvent]:
        stats = self.stats
        stats.vehicle_reads += 1
        t = read.host_time
        out = self._advance(t)
        found = self._camera.get(read.source)
        if found is None:
            stats.drop(f"vehicle:{self.zones.why_unmapped(read.source)}")
            return out
        if not read.value:
            stats.drop("vehicle:empty")
            return out
        lane = found[1].lane
        passage = self._open.get(lane)
        opened = passage is None
        if passage is None:
            closed = self._closed_vehicles.get(lane, {}).get((read.kind, read.value))
            if closed is not None and t - closed <= self.config.vehicle_late_s:
                stats.drop("vehicle_after_close")  # the rear camera, or a camera's late group result
                return out
            if self.zones.open_on.get(lane) == "trigger":
                waiting = self._waiting.setdefault(lane, [])
                waiting[:] = [*[w for w in waiting if w.host_time >= t - self.config.preroll_s][-63:], read]
                stats.vehicle_waiting += 1
                return out
            passage = self._open_passage(lane, t)
        self._add_vehicle(passage, read)
        passage.last_new = max(passage.last_new, t)
        if opened:
            passage.last_emit = t
            out.append(self._emit("new", passage, t))
        else:
            passage.dirty = True
            self._maybe_update(passage, t, out)
        return out

    def _add_vehicle(self, passage: _Open, read: VehicleRead) -> None:
        key = (read.kind, read.value)
        acc = passage.vehicles.get(key)
        if acc is None:
            country = read.country or (self.zones.plate_countries.get(passage.lane) if read.kind == "plate" else None)
            acc = passage.vehicles[key] = _Vehicle(read, country)
        acc.add(read)

    def _status(self, status: SourceStatus) -> list[LaneEvent]:
        self.stats.status_events += 1
        if status.state in _DOWN_STATES:
            self._down.setdefault(status.source, status.host_time)
        else:
            self._down.pop(status.source, None)
        return []

    # -- timers ------------------------------------------------------------------------------

    def _advance(self, now: float) -> list[LaneEvent]:
        if now < self._now:
            now = self._now  # a late read does not turn the clock back
        self._now = now
        self._next_check = now + self.config.timer_resolution_s
        out: list[LaneEvent] = []
        departures: list[IdentifierEvent] = []
        stale: list[tuple[Identity, str]] = []
        depart, down = self._depart, self._down
        for key, pr in self._presence.items():
            due = pr.last_seen + depart
            if due > now:
                continue
            if down:
                since = down.get(pr.last_source)
                if since is not None:  # the reader dropped out: its tags may still be there
                    due = max(due, since + self._hold_s)
                    if due > now:
                        continue
            if pr.present:
                pr.present, pr.departed_at = False, due
                self._tags[pr.identity].consumed = False
                departures.append(IdentifierEvent("departure", pr.ident, pr.lane, due, "absent", pr.confidence))
            if pr.passage is None:
                stale.append(key)
        departures.sort(key=lambda e: e.time)
        self.stats.departures += len(departures)
        out += departures
        for key in stale:
            self._forget(key)
        interval = self.config.update_interval_s
        for passage in list(self._open.values()):
            due_close = self._close_due(passage, now)
            if due_close is not None:
                self._close(passage, due_close[0], due_close[1], now, out)
            elif now - passage.last_emit >= interval:
                if not passage.dirty and passage.shown == "unknown" and now - passage.checked >= interval:
                    # no new member, but time may have settled the direction: say so once it has
                    passage.checked = now
                    passage.dirty = self._direction(passage, "open") != "unknown"
                if passage.dirty:
                    self._maybe_update(passage, now, out)
        return out

    def _close_due(self, passage: _Open, now: float) -> tuple[float, CloseReason] | None:
        due: list[tuple[float, CloseReason]] = []
        if passage.closing_at is not None and passage.closing_at <= now:
            due.append((passage.closing_at, "trigger"))
        limit = self.config.passage_max_s
        if limit is not None and passage.opened_at + limit <= now:
            due.append((passage.opened_at + limit, "max_duration"))
        wait = self.config.passage_quiet_s
        if passage.roles and passage.roles[0] == "entry" and "exit" not in passage.roles:
            wait = max(wait, self.config.exit_wait_s)  # between the loops: the exit loop will say when it left
        quiet = max(passage.last_new, passage.last_trigger) + wait
        if quiet <= now and not self._occupied(passage.lane):
            if not self.config.hold_while_present:
                due.append((quiet, "quiet"))
            elif not any(pr.present for pr in passage.members.values()):
                due.append((max([quiet] + [pr.departed_at for pr in passage.members.values()]), "quiet"))
        return min(due) if due else None

    def _occupied(self, lane: str) -> bool:
        """A loop or light barrier on a GPI of the lane is still on: a vehicle stands there, the passage stays
        open (``passage_max_s`` bounds a loop stuck on).  Camera detections and lane-controller messages are
        moments, not states: they do not hold a passage."""
        states = self.trigger_states.get(lane)
        if not states:
            return False
        return any(active for label, (active, _t) in states.items() if label.startswith("gpi:"))

    def _close(self, passage: _Open, at: float, reason: CloseReason, now: float, out: list[LaneEvent]) -> None:
        del self._open[passage.lane]
        snapshot = self._snapshot(passage, "closed", at, reason)
        if passage.vehicles or passage.lane in self._closed_vehicles:
            late = self.config.vehicle_late_s
            recent = {k: v for k, v in self._closed_vehicles.get(passage.lane, {}).items() if at - v <= late}
            recent.update((key, at) for key in passage.vehicles)
            self._closed_vehicles[passage.lane] = recent
        for pr in passage.members.values():
            pr.passage = None
            if pr.present:  # still in the field: it must not open the next passage
                self._tags[pr.identity].consumed = True
        self.stats.passages_closed += 1
        out.append(PassageEvent("end", snapshot, now))

    def _maybe_update(self, passage: _Open, t: float, out: list[LaneEvent]) -> None:
        if passage.dirty and t - passage.last_emit >= self.config.update_interval_s:
            passage.dirty, passage.last_emit = False, t
            self.stats.updates += 1
            out.append(self._emit("update", passage, t))

    def _emit(self, kind: Literal["new", "update"], passage: _Open, t: float) -> PassageEvent:
        event = PassageEvent(kind, self._snapshot(passage, "open"), t)
        passage.shown = event.passage.direction
        return event

    def _forget(self, key: tuple[Identity, str]) -> None:
        pr = self._presence.pop(key)
        tag = self._tags.get(pr.identity)
        if tag is None:
            return
        tag.lanes.pop(pr.lane, None)
        if tag.assigned == pr.lane:
            tag.assigned = None
        if not tag.lanes:
            del self._tags[pr.identity]

    # -- passages ----------------------------------------------------------------------------

    def _open_passage(self, lane: str, t: float) -> _Open:
        seq = self._seq[lane] = self._seq.get(lane, 0) + 1
        passage = self._open[lane] = _Open(passage_id(lane, t, seq), lane, t)
        self.stats.passages_opened += 1
        return passage

    def _snapshot(self, passage: _Open, state: PassageState, closed_at: float | None = None,
                  reason: CloseReason | None = None) -> Passage:
        members = sorted(passage.members.values(), key=lambda pr: (pr.first_seen, pr.identity))
        seen = tuple(
            SeenIdentifier(pr.ident, Evidence(
                pr.first_seen, pr.last_seen, pr.reads, pr.best_rssi, tuple(sorted(pr.carriers)),
                tuple(sorted(pr.sources)), pr.confidence, tuple(sorted(pr.zones, key=ZONE_ORDER.__getitem__))))
            for pr in members
        )
        vehicle = tuple(sorted((v.evidence() for v in passage.vehicles.values()),
                               key=lambda e: (e.first_seen, e.kind, e.value)))
        return Passage(passage.id, passage.lane, self._direction(passage, state, members), state,
                       passage.opened_at, closed_at, reason, seen, tuple(passage.triggers), vehicle)

    def _direction(self, passage: _Open, state: PassageState, members: Sequence[_Presence] | None = None) -> Direction:
        """From all the evidence once closed; while open only from settled evidence (else ``unknown``):
        an identifier counts once it has left its first zone, ``depart_after_s`` without a read there."""
        left_before = self._now - self._depart if state == "open" else None
        votes = [v for v in (vote(pr.zones, left_before) for pr in (members or passage.members.values()))
                 if v is not None]
        return decide(passage.roles, votes, self.zones.lane_defaults.get(passage.lane, "unknown"),
                      self.config.direction_agreement, final=state == "closed")


def passage_id(lane: str, opened_at: float, seq: int) -> str:
    """Deterministic id: lane, UTC opening time to the millisecond and the lane's passage counter.

    >>> passage_id("lane1", 1_700_000_000.25, 3)
    'lane1-20231114T221320.250Z-3'
    """
    stamp = datetime.fromtimestamp(opened_at, UTC)
    return f"{lane}-{stamp:%Y%m%dT%H%M%S}.{stamp.microsecond // 1000:03d}Z-{seq}"


def _undecoded(error: str | None) -> str:
    """A bounded drop reason from a decode error: its leading word (``UnprogrammedError``)."""
    if not error:
        return "undecoded"
    head = error.split(":", 1)[0].split()[0] if error.split() else "error"
    return f"undecoded:{head[:40]}"


__all__ = ["LaneEngine", "Placement", "passage_id"]
