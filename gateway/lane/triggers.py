"""Triggers: a GPI edge from a reader or a vehicle detection from a camera.

A trigger carries no identifier; the site configuration says what it means.  A reader's
``gpi_entry`` / ``gpi_exit`` port and a camera's zone (``entry``/``exit``/``portal``) turn it into
a role in one lane: ``entry`` and ``exit`` open and close passages and give the direction by their
order, ``presence`` (a portal camera) only opens one.  Drivers emit a trigger on each edge; only
rising edges (``active=True``) act, releases are counted and ignored.

>>> t = Trigger(source="portal-llrp", host_time=1_700_000_000.0, port=1)
>>> t.label
'gpi:portal-llrp:1'
>>> Trigger(source="cam-lane1", host_time=1_700_000_000.0, kind="camera").label
'camera:cam-lane1'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TriggerKind = Literal["gpi", "camera"]
TriggerRole = Literal["entry", "exit", "presence"]


@dataclass(frozen=True, slots=True)
class Trigger:
    """One edge of one input: ``port`` is the GPI port (``None`` for a camera detection)."""

    source: str
    host_time: float
    port: int | None = None
    active: bool = True  # rising edge / vehicle detected; False = released
    kind: TriggerKind = "gpi"
    source_time: float | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.source}" + (f":{self.port}" if self.port is not None else "")
