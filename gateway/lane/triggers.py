"""Triggers: a GPI edge from a reader, a vehicle detection from a camera, a lane controller's message.

:class:`Trigger` is part of the read model (:mod:`gateway.reads`), since drivers emit it; it is
re-exported here, where the lane engine's other inputs live.  A trigger carries no identifier;
the site configuration says what it means (:mod:`gateway.lane.zones`).

>>> t = Trigger(source="portal-llrp", host_time=1_700_000_000.0, port=1)
>>> t.label
'gpi:portal-llrp:1'
>>> Trigger(source="cam-lane1", host_time=1_700_000_000.0, kind="camera").label
'camera:cam-lane1'
"""

from __future__ import annotations

from gateway.reads import Trigger, TriggerKind, TriggerRole

__all__ = ["Trigger", "TriggerKind", "TriggerRole"]
