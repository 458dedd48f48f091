"""``POST /api/decisions``: central decisions over HTTP (write token), one object or a list.

The same validation, store and acknowledgement as the MQTT intake (:mod:`gateway.decisions.intake`): the
answer is the :class:`~gateway.decisions.intake.DecisionAck` (``acks``: stored, duplicate, superseded or
rejected per record).  A body with a rejected record is ``422`` with each problem's field path
(``body[1].outcome``; ``body.outcome`` for a single object); the valid records of the same body are stored
all the same and listed in ``acks``.  With the MQTT intake on, the acknowledgement also goes to the ack
topic (``"topic": "http"``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse

from gateway.decisions.intake import take
from gateway.service.api_context import ApiContext

if TYPE_CHECKING:
    from gateway.service.auth import TokenAuth

log = logging.getLogger(__name__)


def add_decision_routes(app: FastAPI, ctx: ApiContext, auth: TokenAuth) -> None:
    @app.post("/api/decisions", tags=["decisions"], dependencies=[Depends(auth.require_write)])
    def post_decisions(body: Annotated[Any, Body(description="one bx.decision.v1 object or a list of them")]) -> Any:
        """Central decisions (release, documentary-check, physical-inspection, hold, refuse-entry) for a
        declaration (mrn), a movement (movementRef) or a passage (passageId)."""
        store = ctx.decisions
        if store is None:
            raise HTTPException(404, detail="decisions are not configured on this gateway")
        single = not isinstance(body, list)
        ack, stored = take(store, [body] if single else body, topic="http")
        for decision in stored:
            if ctx.submit_decision is not None:
                ctx.submit_decision(decision)
        if ctx.decision_ack is not None:  # the same acknowledgement on the MQTT ack topic (topic "http")
            try:
                ctx.decision_ack(ack)
            except Exception:  # the answer below is the acknowledgement that counts for this caller
                log.exception("decision intake: the acknowledgement of an HTTP request was not published")
        out = ack.model_dump()
        if not ack.errors:
            return out
        ctx.metrics.intake_errors.labels("http", "decisions").inc(len({e.index for e in ack.errors}))
        detail = []
        for e in ack.errors:
            loc: list[str | int] = ["body"] if single or e.index is None else ["body", e.index]
            path = "body" if single or e.index is None else f"body[{e.index}]"
            if e.path not in ("(root)", "(payload)"):
                loc += [int(p) if p.isdigit() else p for p in e.path.replace("[", ".").replace("]", "").split(".")]
                path += e.path if e.path.startswith("[") else f".{e.path}"
            detail.append({"loc": loc, "path": path, "msg": e.message, "type": "value_error"})
        return JSONResponse({"detail": detail, **out}, status_code=422)
