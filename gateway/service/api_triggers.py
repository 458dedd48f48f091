"""``POST /api/lanes/{lane}/trigger``: a lane controller's trigger over HTTP (write token).

The body is :class:`gateway.lane.external.TriggerMessage`, the same as on the MQTT intake topic; the
trigger goes to the lane engine at once and the answer is ``202`` with the trigger's label.  An unknown
lane is ``404``, a bad body ``422`` with the field path (``body.role``), like every other write.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException

from gateway.lane.external import TriggerMessage, to_trigger
from gateway.service.api_context import ApiContext

if TYPE_CHECKING:
    from gateway.service.auth import TokenAuth


def add_trigger_routes(app: FastAPI, ctx: ApiContext, auth: TokenAuth) -> None:
    lanes = {lane.id for lane in ctx.config.lanes}

    @app.post("/api/lanes/{lane}/trigger", tags=["lanes"], dependencies=[Depends(auth.require_write)],
              status_code=202)
    def lane_trigger(lane: str, body: TriggerMessage) -> dict[str, Any]:
        """A vehicle detected (``active``: true) or gone at the lane's ``entry``, ``exit`` or ``presence``."""
        if lane not in lanes:
            raise HTTPException(404, detail="no such lane")
        if ctx.trigger is None:
            raise HTTPException(503, detail="the lane engine takes no triggers now")
        trigger = to_trigger(body, lane, time.time())
        ctx.trigger(trigger)
        return {"lane": lane, "trigger": f"{trigger.label}:{body.role}", "active": body.active}
