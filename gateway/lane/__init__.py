"""Lane events: raw reads -> zones -> dedup/presence -> arbitration -> vehicle passages.

One module per stage, all pure (no I/O, no clock):

* :mod:`gateway.lane.passage` - the passage contract shared with enrichment and publishing;
* :mod:`gateway.lane.triggers` - GPI / camera :class:`Trigger` events;
* :mod:`gateway.lane.zones` - (reader, antenna) / camera / GPI -> lane, zone and filters;
* :mod:`gateway.lane.arbitration` - cross-lane assignment with a confidence (mobility profile);
* :mod:`gateway.lane.direction` - inbound / outbound / unknown from triggers or antenna order;
* :mod:`gateway.lane.events` - arrivals, departures and the engine's counters;
* :mod:`gateway.lane.engine` - :class:`LaneEngine`, the state machine tying them together;
* :mod:`gateway.lane.replay` - drive an engine from recorded or scripted events (:mod:`simulators.replay`).

>>> from gateway.lane import LaneEngine, Trigger
>>> LaneEngine.__name__, Trigger.__name__
('LaneEngine', 'Trigger')
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LaneEngine": "engine", "passage_id": "engine", "Trigger": "triggers", "ZoneMap": "zones",
    "Placement": "zones", "IdentifierEvent": "events", "LaneStats": "events", "LaneEvent": "events",
    "Passage": "passage", "PassageEvent": "passage", "Evidence": "passage", "SeenIdentifier": "passage",
    "GtinGroup": "passage",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # lazy: importing the passage contract must not pull in the engine
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway.lane' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gateway.lane.{module}"), name)
