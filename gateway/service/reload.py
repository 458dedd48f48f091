"""Configuration reload without a restart: SIGHUP or ``POST /api/reload`` re-reads the site file.

A reload first builds everything the new file needs, off the event loop: the site file is validated
(:func:`gateway.config.load_config`), its flag rules and agency routing files are read, the zone map and
the lanes' EPCIS contexts are derived.  Any failure changes nothing: the problems are logged, each with
its key path (``site.yaml: lanes[0].readers[0].url: unknown scheme 'lrp'``), counted
(``bx_config_reloads_total{result="failed"}``) and shown in the retained status (``config.error``) until
a reload succeeds.  Then, on the loop, in this order:

1. the enrichment (flag rules, routing, ETA windows, border office) is swapped: the next passage that
   closes is enriched with it;
2. the lane engine takes the new zone map and settings and keeps its state for the lanes that remain
   (open passages, identifiers, evidence); the open passage of a removed lane is closed with reason
   ``lane_removed`` and published like any other;
3. the publisher takes the new lanes: a removed lane's retained state is cleared (after its last
   passage), the capabilities are published again;
3b. lane signals on reader outputs (``lanes[].gpo``) follow the new mapping: a changed lane shows its
   current state again, a removed lane's outputs go off;
4. the sources whose settings changed (their URL) are restarted, the removed ones stopped, the new ones
   started; every other reader and camera keeps its connection;
5. the retained status says which file is in use (``config.digest``, ``config.loaded``).

What a running gateway cannot change (``site``, ``gateway``, ``mqtt``, ``api``, ``storage``,
``decisions``, ``enrichment.intake_mqtt``: its identity on the broker, its connections and its databases) takes effect
at the next start; a reload that changes them says so in the log and in ``config.restartPending``.
The outbox, the passages and the lane engine's state are never reset by a reload.

>>> from gateway.config import parse_config
>>> old = parse_config({"site": "s", "gateway": "g", "lanes": [
...     {"id": "l1", "readers": [{"id": "r1", "url": "llrp://10.0.0.1"}]},
...     {"id": "l2", "readers": [{"id": "r2", "url": "llrp://10.0.0.2"}]}]})
>>> new = parse_config({"site": "s", "gateway": "g", "mqtt": {"qos": 0}, "lanes": [
...     {"id": "l1", "readers": [{"id": "r1", "url": "llrp://10.0.0.9"}]}]})
>>> change = plan(old, new)
>>> change.lanes_removed, change.sources_removed, change.sources_restarted, change.restart_pending
(('l2',), ('r2',), ('r1',), ('mqtt',))
>>> change.summary()
'lanes removed l2, changed l1; sources restarted r1, stopped r2; at the next start: mqtt'
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config import ConfigError, SiteConfig, load_config
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.rules import load_routing, load_rules
from gateway.enrichment.store import Store
from gateway.lane.zones import ZoneMap
from gateway.publishing.epcis import EpcisContext, format_time
from gateway.publishing.payloads import ConfigState
from gateway.publishing.publisher import lane_contexts
from gateway.publishing.redact import safe_detail
from gateway.service.gateway import Gateway

log = logging.getLogger(__name__)

#: sections a running gateway cannot change: its identity on the broker, its connections, its databases
RESTART_SECTIONS = ("site", "gateway", "mqtt", "api", "storage", "decisions")
MAX_PROBLEMS = 10  # in the retained status (the log has them all)


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a new configuration changes, by lane and source id (pure: :func:`plan`)."""

    lanes_added: tuple[str, ...] = ()
    lanes_removed: tuple[str, ...] = ()
    lanes_changed: tuple[str, ...] = ()
    sources_added: tuple[str, ...] = ()
    sources_removed: tuple[str, ...] = ()
    sources_restarted: tuple[str, ...] = ()
    lane_engine_changed: bool = False
    enrichment_changed: bool = False
    restart_pending: tuple[str, ...] = ()

    def summary(self) -> str:
        parts = []
        lanes = [f"{what} {', '.join(ids)}" for what, ids in (
            ("added", self.lanes_added), ("removed", self.lanes_removed), ("changed", self.lanes_changed)) if ids]
        if lanes:
            parts.append("lanes " + ", ".join(lanes))
        sources = [f"{what} {', '.join(ids)}" for what, ids in (
            ("restarted", self.sources_restarted), ("started", self.sources_added),
            ("stopped", self.sources_removed)) if ids]
        if sources:
            parts.append("sources " + ", ".join(sources))
        if self.lane_engine_changed:
            parts.append("lane engine settings changed")
        if self.enrichment_changed:
            parts.append("enrichment settings changed")
        if self.restart_pending:
            parts.append("at the next start: " + ", ".join(self.restart_pending))
        return "; ".join(parts) or "no change in the site file"

    def as_dict(self) -> dict[str, Any]:
        return {"lanes": {"added": list(self.lanes_added), "removed": list(self.lanes_removed),
                          "changed": list(self.lanes_changed)},
                "sources": {"restarted": list(self.sources_restarted), "started": list(self.sources_added),
                            "stopped": list(self.sources_removed)},
                "lane_engine_changed": self.lane_engine_changed, "enrichment_changed": self.enrichment_changed,
                "restart_pending": list(self.restart_pending)}


def plan(old: SiteConfig, new: SiteConfig) -> ReloadPlan:
    """What changes from ``old`` to ``new``; sources are compared by their settings (the URL)."""
    old_lanes = {lane.id: lane for lane in old.lanes}
    new_lanes = {lane.id: lane for lane in new.lanes}
    old_sources = {sid: url for sid, (_kind, url, _lanes) in Gateway.plan_sources(old).items()}
    new_sources = {sid: url for sid, (_kind, url, _lanes) in Gateway.plan_sources(new).items()}
    pending = [name for name in RESTART_SECTIONS if getattr(old, name) != getattr(new, name)]
    if old.enrichment.intake_mqtt != new.enrichment.intake_mqtt:
        pending.append("enrichment.intake_mqtt")
    return ReloadPlan(
        lanes_added=tuple(lane for lane in new_lanes if lane not in old_lanes),
        lanes_removed=tuple(lane for lane in old_lanes if lane not in new_lanes),
        lanes_changed=tuple(lane for lane in new_lanes if lane in old_lanes and old_lanes[lane] != new_lanes[lane]),
        sources_added=tuple(sorted(set(new_sources) - set(old_sources))),
        sources_removed=tuple(sorted(set(old_sources) - set(new_sources))),
        sources_restarted=tuple(sorted(s for s in new_sources
                                       if s in old_sources and old_sources[s] != new_sources[s])),
        lane_engine_changed=old.lane_engine != new.lane_engine,
        enrichment_changed=old.enrichment != new.enrichment,
        restart_pending=tuple(pending))


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """A reload's result: applied (``plan``), or refused (``problems``: key path and message)."""

    ok: bool
    plan: ReloadPlan | None = None
    problems: tuple[tuple[str, str], ...] = ()
    source: str = ""  # the site file

    def as_dict(self) -> dict[str, Any]:
        if self.ok and self.plan is not None:
            return {"ok": True, "summary": self.plan.summary(), **self.plan.as_dict()}
        return {"ok": False, "detail": [{"loc": path.split("."), "path": path, "msg": message, "type": "config"}
                                        for path, message in self.problems]}


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything a new configuration needs, built before anything changes."""

    config: SiteConfig
    digest: str
    enricher: Enricher
    zones: ZoneMap
    contexts: dict[str, EpcisContext]


class Reloader:
    """Reloads ``path`` into a running :class:`~gateway.service.gateway.Gateway` (one reload at a time).

    ``make_enricher(store, config)`` builds the enrichment as the service's wiring does
    (:func:`gateway.service.wiring.make_enricher`).
    """

    def __init__(self, gateway: Gateway, path: str | Path,
                 make_enricher: Callable[[Store, SiteConfig], Enricher]) -> None:
        self.gateway, self.path, self.make_enricher = gateway, Path(path), make_enricher
        self.digest = _digest(self.path.read_bytes()) if self.path.is_file() else ""
        self.loaded = time.time()
        self._lock = asyncio.Lock()
        gateway.api_ctx.reload = self._api

    async def _api(self) -> dict[str, Any]:
        return (await self.reload("POST /api/reload")).as_dict()

    async def reload(self, trigger: str = "api") -> ReloadOutcome:
        async with self._lock:
            log.info("reloading the configuration from %s (%s)", self.path, trigger)
            loop = asyncio.get_running_loop()
            try:
                prepared = await loop.run_in_executor(None, self._prepare)
            except ConfigError as exc:
                return self._refused(exc)
            except Exception as exc:  # a bug in preparing must not take the service down, nor change it
                log.exception("configuration reload failed, nothing changed")
                return self._refused(ConfigError(str(self.path), [("", f"internal error: {type(exc).__name__}")]))
            change = plan(self.gateway.config, prepared.config)
            await self._apply(prepared)
            self.digest, self.loaded = prepared.digest, time.time()
            self.gateway.metrics.reloads.labels("ok").inc()
            self.gateway.publisher.publish_config(self._state(restart_pending=change.restart_pending))
            log.info("configuration reloaded from %s: %s", self.path, change.summary())
            if change.restart_pending:
                log.warning("changed in %s and applied only at the next start: %s", self.path,
                            ", ".join(change.restart_pending))
            return ReloadOutcome(True, change, source=str(self.path))

    # -- building (a worker thread) ---------------------------------------------------------------

    def _prepare(self) -> _Prepared:
        source = str(self.path)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(source, [("", f"cannot read: {exc.strerror}")]) from None
        config = load_config(self.path)
        problems: list[tuple[str, str]] = []
        for key, load, file in (("enrichment.rules", load_rules, config.enrichment.rules),
                                ("enrichment.agency_routing", load_routing, config.enrichment.agency_routing)):
            try:
                load(file)
            except (OSError, ValueError, yaml.YAMLError) as exc:  # ValidationError is a ValueError
                problems.append((key, _file_problem(file, exc)))
        if problems:
            raise ConfigError(source, problems)
        return _Prepared(config, _digest(data), self.make_enricher(self.gateway.store, config),
                         ZoneMap.from_site(config), lane_contexts(config))

    # -- applying (the event loop) -----------------------------------------------------------------

    async def _apply(self, new: _Prepared) -> None:
        gw, config = self.gateway, new.config
        gw.enricher = new.enricher
        # Between here and the sources below nothing awaits: no read sees half a configuration.
        closed = gw.engine.reconfigure(new.zones, config.lane_engine, gw.clock())
        gw._handle_lane_events(closed)  # removed lanes' passages: published, then their state cleared
        gw.publisher.set_lanes(new.contexts, {lane.id: lane.name for lane in config.lanes})
        gw.live.set_lanes([(lane.id, lane.name) for lane in config.lanes])
        if gw.decisions is not None:  # new lanes rest (their signal connections start), removed ones show stop
            gw.decisions.set_lanes([lane.id for lane in config.lanes], gw.clock())
        gw.config = gw.api_ctx.config = config
        if gw.gpo_signals is not None:  # lane signals on reader outputs follow the new lanes[].gpo
            gw.gpo_signals.reconfigure(config)
        elif any(lane.gpo for lane in config.lanes):
            from gateway.lane.gpo import GpoSignalSink

            sink = gw.gpo_signals = GpoSignalSink(config)
            sink.start()
            gw.on_stop.append(sink.stop)
        sources = Gateway.plan_sources(config)
        await gw.supervisor.apply({sid: url for sid, (_kind, url, _lanes) in sources.items()},
                                  on_stopped=gw.forget_source)
        for sid, (kind, url, lanes) in sources.items():
            view = gw.live.add_source(sid, kind, url, lanes)
            view.kind, view.url, view.lanes = kind, url, lanes

    # -- refusing ------------------------------------------------------------------------------

    def _refused(self, exc: ConfigError) -> ReloadOutcome:
        log.error("configuration reload refused, nothing changed:\n%s", exc)
        self.gateway.metrics.reloads.labels("failed").inc()
        name = Path(exc.source).name
        shown = [safe_detail(f"{name}: {path}: {message}" if path else f"{name}: {message}") or ""
                 for path, message in exc.problems]
        if len(shown) > MAX_PROBLEMS:
            shown = [*shown[:MAX_PROBLEMS], f"... and {len(shown) - MAX_PROBLEMS} more (see the log)"]
        self.gateway.publisher.publish_config(self._state(error="\n".join(shown)))
        return ReloadOutcome(False, problems=tuple(exc.problems), source=exc.source)

    def _state(self, error: str | None = None, restart_pending: tuple[str, ...] = ()) -> ConfigState:
        return ConfigState(digest=self.digest, loaded=format_time(self.loaded), error=error,
                           restart_pending=list(restart_pending) or None)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _file_problem(file: Path | None, exc: BaseException) -> str:
    where = f"{file}: " if file else ""
    if isinstance(exc, OSError):
        return f"{where}cannot read: {exc.strerror or exc}"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        return f"{where}{loc}: {first['msg']}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1
                                                   else "")
    return f"{where}{exc}"
