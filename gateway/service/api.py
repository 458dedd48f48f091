"""The HTTP API (FastAPI) and the dashboard.

Reads: ``/health``, ``/ready``, ``/metrics``, ``/api/state``, ``/api/lanes``, ``/api/sources``,
``/api/passages`` (and ``/api/passages/{id}``, ``/api/recent-flags``: the passage history), ``/api/outbox``,
``/api/asyncapi``, ``/api/events`` (Server-Sent Events) and
the master-data reads of :mod:`gateway.service.api_masterdata`; ``POST /api/reload`` re-reads the site
file (:mod:`gateway.service.reload`).  Writes need a bearer token
(``api.tokens``); reads too when ``api.read_tokens`` is set.  Invalid bodies get 422 with the
field path of each problem (bodies nested deeper than 64 levels too, before they are parsed),
oversized bodies 413, and no error response carries internals.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import __version__
from gateway.config import format_loc
from gateway.service.api_context import ApiContext
from gateway.service.api_decisions import add_decision_routes
from gateway.service.api_masterdata import add_masterdata_routes
from gateway.service.api_triggers import add_trigger_routes
from gateway.service.auth import TokenAuth
from gateway.service.http_limits import BodyLimits
from gateway.service.live import CLOSE
from gateway.service.metrics import HttpErrors

log = logging.getLogger(__name__)
FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           b'<rect width="16" height="16" rx="3" fill="#0f1720"/>'
           b'<rect x="3" y="2" width="10" height="12" rx="2" fill="#17212c" stroke="#58a6ff"/>'
           b'<circle cx="8" cy="5.5" r="1.8" fill="#f85149"/><circle cx="8" cy="10.5" r="1.8" fill="#2ea043"/></svg>')
__all__ = ["ApiContext", "create_app"]


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="gs1-border-gateway",
        version=__version__,
        description="Declarations, master data, lane status and passages of one border gateway.",
    )
    auth = TokenAuth(ctx.config.api.tokens, ctx.config.api.read_tokens)
    app.state.ctx, app.state.auth = ctx, auth
    read_dep = [Depends(auth.require_read)]

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            loc = [part for part in error.get("loc", ()) if isinstance(part, (str, int))]
            problems.append({"loc": loc, "path": format_loc(loc), "msg": error.get("msg", ""),
                             "type": error.get("type", "")})
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s: %s", incident, request.method, request.url.path,
                  type(exc).__name__, exc_info=exc)
        return JSONResponse({"detail": "internal error", "incident": incident}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        html = resources.files("gateway.service").joinpath("dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(html)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # The dashboard links an inline icon; this answers browsers and pages that ask for the file anyway.
        return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.get("/health", tags=["status"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["status"])
    async def ready() -> JSONResponse:
        ok = ctx.ready()
        return JSONResponse({"ready": ok, "mqtt_connected": ctx.live.mqtt_connected},
                            status_code=200 if ok else 503)

    @app.get("/metrics", tags=["status"], dependencies=read_dep)
    def metrics() -> Response:  # a worker thread: the clock check may ask timedatectl (gateway.service.clock)
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/state", tags=["status"], dependencies=read_dep)
    async def state() -> dict[str, Any]:
        snapshot = ctx.live.snapshot()
        snapshot["outbox"] = ctx.outbox_state()
        snapshot["site"], snapshot["gateway"] = ctx.config.site, ctx.config.gateway
        return snapshot

    @app.get("/api/lanes", tags=["status"], dependencies=read_dep)
    async def lanes() -> list[dict[str, Any]]:
        out = []
        for lane in ctx.config.lanes:
            view = ctx.live.lanes[lane.id].as_dict()
            view["readers"] = [r.id for r in lane.readers]
            view["cameras"] = [c.id for c in lane.cameras]
            out.append(view)
        return out

    @app.get("/api/sources", tags=["status"], dependencies=read_dep)
    async def sources() -> list[dict[str, Any]]:
        return [health.as_dict() for health in ctx.live.sources.values()]

    @app.get("/api/passages", tags=["passages"], dependencies=read_dep)
    def passages(
        lane: str | None = None,
        since: float | None = Query(None, description="closed at or after (epoch seconds)", allow_inf_nan=False),
        until: float | None = Query(None, description="closed before (epoch seconds)", allow_inf_nan=False),
        mrn: str | None = Query(None, description="linked declaration MRN"),
        flag: str | None = Query(None, description="raised flag code, e.g. NO_DECLARATION"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Closed passages, newest first: from the passage history (surviving restarts), else the live view."""
        if ctx.passage_query is not None:
            return ctx.passage_query(lane=lane, since=since, until=until, mrn=mrn, flag=flag, limit=limit)
        rows = list(reversed(ctx.live.passages))
        out = []
        for row in rows:
            closed = row.get("closed_at") or 0.0
            if lane and row.get("lane") != lane:
                continue
            if since is not None and closed < since:
                continue
            if until is not None and closed >= until:
                continue
            if mrn and mrn not in row.get("declarations", []):
                continue
            if flag and not any(f.get("code") == flag for f in row.get("flags", [])):
                continue
            out.append(row)
            if len(out) >= limit:
                break
        return out

    @app.get("/api/passages/{passage_id}", tags=["passages"], dependencies=read_dep)
    def passage(passage_id: str) -> JSONResponse:
        """One passage's whole story: reads summary, triggers, links, each enrichment revision, each decision
        and lane signal, with times and sources (404 for an unknown id)."""
        if ctx.passage_history is not None:
            found = ctx.passage_history(passage_id)
        else:  # no history store: what the live view still holds
            row = next((r for r in reversed(ctx.live.passages) if r.get("id") == passage_id), None)
            found = None if row is None else {"id": passage_id, "lane": row.get("lane"), "summary": row,
                                              "revision": row.get("revision"), "events": []}
        if found is None:
            return JSONResponse({"detail": "no such passage"}, status_code=404)
        return JSONResponse(found)

    @app.get("/api/recent-flags", tags=["passages"], dependencies=read_dep)
    def recent_flags(
        lane: str | None = None,
        since: float | None = Query(None, description="raised at or after (epoch seconds)", allow_inf_nan=False),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Flags of closed passages, newest first: time, lane, passage id, code, severity, declaration MRNs."""
        if ctx.recent_flags is not None:
            return ctx.recent_flags(lane=lane, since=since, limit=limit)
        out: list[dict[str, Any]] = []
        for row in reversed(ctx.live.passages):
            if lane and row.get("lane") != lane:
                continue
            at = row.get("closed_at") or 0.0
            if since is not None and at < since:
                continue
            out.extend({"time": at, "lane": row.get("lane"), "passage_id": row.get("id"), "code": f.get("code"),
                        "severity": f.get("severity"), "revision": row.get("revision"),
                        "declarations": row.get("declarations", [])} for f in row.get("flags", []))
            if len(out) >= limit:
                break
        return out[:limit]

    @app.get("/api/outbox", tags=["status"], dependencies=read_dep)
    async def outbox() -> dict[str, Any]:
        return ctx.outbox_state()

    @app.post("/api/reload", tags=["status"], dependencies=[Depends(auth.require_write)])
    async def reload() -> JSONResponse:
        """Re-read the site file (as SIGHUP does); 422 with each problem's key path when it is refused."""
        if ctx.reload is None:
            return JSONResponse({"detail": "reload is only available in `border-gateway run`"}, status_code=404)
        outcome = await ctx.reload()
        return JSONResponse(outcome, status_code=200 if outcome.get("ok") else 422)

    @app.get("/api/asyncapi", tags=["contract"])
    async def asyncapi() -> JSONResponse:
        if ctx.asyncapi is None:
            return JSONResponse({"detail": "contract not available"}, status_code=404)
        return JSONResponse(ctx.asyncapi())

    def schema_names() -> list[str]:
        folder = resources.files("gateway.publishing").joinpath("schemas")
        return sorted(item.name for item in folder.iterdir() if item.name.endswith(".json"))

    @app.get("/api/schemas", tags=["contract"])
    async def schemas() -> list[str]:
        return schema_names()

    @app.get("/api/schemas/{name}", tags=["contract"])
    async def schema(name: str) -> JSONResponse:
        # Only names from the listing: a client's string never reaches the file system (a 300-character
        # name would make is_file() raise "file name too long").
        if name not in schema_names():
            return JSONResponse({"detail": "no such schema"}, status_code=404)
        folder = resources.files("gateway.publishing").joinpath("schemas")
        return JSONResponse(json.loads(folder.joinpath(name).read_text(encoding="utf-8")))

    @app.get("/api/events", tags=["status"], dependencies=read_dep)
    async def events(request: Request) -> StreamingResponse:
        queue = ctx.live.subscribe()

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                while not await request.is_disconnected():
                    try:
                        message = await asyncio.wait_for(queue.get(), timeout=10.0)
                    except TimeoutError:
                        yield b": keepalive\n\n"
                        continue
                    if message["type"] == CLOSE:  # the service is stopping
                        return
                    yield f"event: {message['type']}\ndata: {json.dumps(message, default=str)}\n\n".encode()
            finally:
                ctx.live.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    add_masterdata_routes(app, ctx, auth)
    add_trigger_routes(app, ctx, auth)
    add_decision_routes(app, ctx, auth)
    app.add_middleware(BodyLimits, max_bytes=ctx.config.api.max_body_bytes)
    app.add_middleware(HttpErrors, counter=ctx.metrics.http_errors)  # outermost: the limits' refusals count too
    return app
