"""Triggers from a lane controller or PLC: the message it sends, over MQTT or the HTTP API.

A controller that sees vehicles itself (its own loops, a barrier's light curtain, a weighbridge) tells
the gateway which lane and which role: ``bx/v1/in/{site}/{gw}/lane/{lane}/trigger`` on MQTT (with
``lane_engine.intake_mqtt: true``), or ``POST /api/lanes/{lane}/trigger`` with a write token.  The
body is the same on both doors::

    {"role": "entry", "active": true, "source": "plc-1", "time": "2026-12-07T10:00:00.120Z"}

``role`` is required (entry, exit or presence), ``active`` defaults to true (a rising edge; false is
a release), ``source`` names the controller (an id: letters, digits, ``_ - .``), ``time`` is the
controller's clock (kept as the trigger's ``source_time``; the gateway's clock decides).  Unknown keys,
a lane the site does not have, or anything else are refused with the field path, never half-taken.

>>> t = parse_trigger(b'{"role": "entry", "source": "plc-1"}', "lane1", {"lane1", "lane2"}, host_time=5.0)
>>> t.label, t.lane, t.role, t.active, t.host_time
('external:plc-1', 'lane1', 'entry', True, 5.0)
>>> parse_trigger(b'{"role": "in"}', "lane1", {"lane1"}, 5.0)
Traceback (most recent call last):
...
gateway.lane.external.TriggerMessageError: role: Input should be 'entry', 'exit' or 'presence'
>>> parse_trigger(b'{"role": "exit"}', "lane7", {"lane1"}, 5.0)
Traceback (most recent call last):
...
gateway.lane.external.TriggerMessageError: lane: no lane 'lane7' at this gateway (lanes: lane1)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from gateway.json_limits import JsonLimitError, loads
from gateway.reads import Trigger


class TriggerMessageError(ValueError):
    """A trigger message that cannot be taken; ``path`` is the field it is about."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


class TriggerMessage(BaseModel):
    """A lane controller's trigger (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    role: Literal["entry", "exit", "presence"] = Field(description="what the edge means in the lane")
    active: bool = Field(True, description="true: vehicle detected (rising edge); false: released")
    source: str = Field("lane-controller", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                        description="the controller's id")
    time: AwareDatetime | None = Field(None, description="the controller's clock (kept as source time)")


def to_trigger(message: TriggerMessage, lane: str, host_time: float) -> Trigger:
    return Trigger(message.source, host_time, kind="external", active=message.active, lane=lane, role=message.role,
                   source_time=message.time.timestamp() if message.time is not None else None)


def parse_trigger(payload: bytes | str | dict[str, Any], lane: str, lanes: Collection[str],
                  host_time: float) -> Trigger:
    """Validate one message for ``lane``; :class:`TriggerMessageError` names the field."""
    if lane not in lanes:
        raise TriggerMessageError("lane", f"no lane {lane!r} at this gateway (lanes: {', '.join(sorted(lanes))})")
    if isinstance(payload, dict):
        doc: Any = payload
    else:
        try:
            doc = loads(payload)
        except JsonLimitError as exc:
            raise TriggerMessageError("(payload)", str(exc)) from None
    try:
        message = TriggerMessage.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"]) or "(payload)"
        raise TriggerMessageError(path, err["msg"]) from None
    return to_trigger(message, lane, host_time)
