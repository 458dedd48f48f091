"""Declarations, products and parties over HTTP, on the enrichment store.

Writes need a bearer token.  Declarations are idempotent on MRN + version: the same content
again answers ``200 unchanged``, a higher version is an amendment that supersedes (history is
kept), and the same MRN + version with other content is ``409``.  Bodies are validated by the
enrichment models, so a bad body gets ``422`` with camelCase field paths
(``body.houseConsignments[0].goodsItems[0].hs6``).  Imports take a JSON array, JSON Lines or
CSV (``Content-Type: text/csv``) and answer with a per-row report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from gateway.enrichment._base import STORE_INT_MAX
from gateway.enrichment.declaration import Declaration
from gateway.enrichment.importer import ImportReport, import_records, parse_csv_text, parse_json_text
from gateway.enrichment.movement import Movement
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.enrichment.store import DeclarationConflict, MovementConflict, Store
from gateway.service.api_context import ApiContext

if TYPE_CHECKING:
    from gateway.service.auth import TokenAuth

What = Literal["declarations", "products", "parties", "movements"]


def _report(report: ImportReport) -> dict[str, Any]:
    return {
        "summary": report.summary(),
        "outcomes": dict(report.outcomes),
        "failed_rows": report.failed_rows,
        "errors": [{"row": e.row, "path": e.path, "message": e.message} for e in report.errors],
    }


def add_masterdata_routes(app: FastAPI, ctx: ApiContext, auth: TokenAuth) -> None:
    write = [Depends(auth.require_write)]
    read = [Depends(auth.require_read)]

    def store() -> Store:
        if ctx.store is None:
            raise HTTPException(503, detail="the declaration store is not available")
        return ctx.store  # type: ignore[no-any-return]

    def counted(what: What, report: ImportReport) -> dict[str, Any]:
        if report.errors:  # refused records, by kind (bx_intake_errors): the rest of the body was stored
            ctx.metrics.intake_errors.labels("http", what).inc(len({e.row for e in report.errors}))
        return _report(report)

    def dump(model: Declaration | Product | Party | Movement) -> dict[str, Any]:
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)

    @app.post("/api/declarations", tags=["declarations"], dependencies=write, status_code=201)
    def create_declaration(body: Declaration, response: Response) -> dict[str, Any]:
        try:
            result = store().upsert_declaration(body)
        except DeclarationConflict as exc:
            raise HTTPException(409, detail=str(exc)) from None
        if result.outcome != "created":
            response.status_code = 200
        return {"mrn": result.key, "version": result.version, "outcome": result.outcome}

    @app.put("/api/declarations/{mrn}", tags=["declarations"], dependencies=write)
    def amend_declaration(mrn: str, body: Declaration) -> dict[str, Any]:
        if body.declaration_ref.mrn != mrn:
            raise HTTPException(422, detail=[{"loc": ["body", "declarationRef", "mrn"],
                                              "path": "body.declarationRef.mrn",
                                              "msg": "must equal the MRN in the URL", "type": "value_error"}])
        try:
            result = store().upsert_declaration(body)
        except DeclarationConflict as exc:
            raise HTTPException(409, detail=str(exc)) from None
        return {"mrn": result.key, "version": result.version, "outcome": result.outcome}

    @app.get("/api/declarations/{mrn}", tags=["declarations"], dependencies=read)
    def get_declaration(mrn: str, version: int | None = Query(None, ge=1, le=STORE_INT_MAX)) -> dict[str, Any]:
        decl = store().declaration(mrn, version)
        if decl is None:
            raise HTTPException(404, detail="no such declaration")
        out = dump(decl)
        out["history"] = [{"version": v, "current": current} for v, current in store().history(mrn)]
        return out

    @app.get("/api/declarations", tags=["declarations"], dependencies=read)
    def list_declarations(limit: int = Query(100, ge=1, le=1000),
                          offset: int = Query(0, ge=0, le=STORE_INT_MAX)) -> dict[str, Any]:
        mrns: list[str] = []
        for index, mrn in enumerate(store().iter_mrns()):
            if index < offset:
                continue
            if len(mrns) >= limit:
                break
            mrns.append(mrn)
        return {"items": mrns, "offset": offset, "limit": limit}

    @app.post("/api/declarations/bulk", tags=["declarations"], dependencies=write)
    def bulk_declarations(body: list[dict[str, Any]]) -> dict[str, Any]:
        return counted("declarations", import_records(store(), "declarations", body))

    @app.post("/api/products", tags=["master data"], dependencies=write, status_code=201)
    def create_product(body: Product, response: Response) -> dict[str, Any]:
        result = store().upsert_product(body)
        if result.outcome != "created":
            response.status_code = 200
        return {"gtin": result.key, "outcome": result.outcome}

    @app.get("/api/products/{gtin}", tags=["master data"], dependencies=read)
    def get_product(gtin: str) -> dict[str, Any]:
        product = store().product(gtin)
        if product is None:
            raise HTTPException(404, detail="no such product")
        return dump(product)

    @app.post("/api/parties", tags=["master data"], dependencies=write, status_code=201)
    def create_party(body: Party, response: Response) -> dict[str, Any]:
        result = store().upsert_party(body)
        if result.outcome != "created":
            response.status_code = 200
        return {"partyRef": result.key, "outcome": result.outcome}

    @app.get("/api/parties/{party_ref}", tags=["master data"], dependencies=read)
    def get_party(party_ref: str) -> dict[str, Any]:
        party = store().party(party_ref)
        if party is None:
            raise HTTPException(404, detail="no such party")
        return dump(party)

    @app.post("/api/movements", tags=["movements"], dependencies=write, status_code=201)
    def create_movement(body: Movement, response: Response) -> dict[str, Any]:
        """A movement (``bx.movement.v1``): the declarations of one crossing under one reference (GVMS-like)."""
        try:
            result = store().upsert_movement(body)
        except MovementConflict as exc:
            raise HTTPException(409, detail=str(exc)) from None
        if result.outcome != "created":
            response.status_code = 200
        return {"ref": result.key, "version": result.version, "outcome": result.outcome}

    @app.get("/api/movements/{ref}", tags=["movements"], dependencies=read)
    def get_movement(ref: str) -> dict[str, Any]:
        movement = store().movement(ref)
        if movement is None:
            raise HTTPException(404, detail="no such movement")
        return dump(movement)

    @app.post("/api/movements/bulk", tags=["movements"], dependencies=write)
    def bulk_movements(body: list[dict[str, Any]]) -> dict[str, Any]:
        return _report(import_records(store(), "movements", body))

    async def import_body(what: What, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(422, detail=[{"loc": ["body"], "path": "body", "msg": "body is not UTF-8",
                                              "type": "value_error"}]) from None
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
        try:
            records = parse_csv_text(text) if content_type == "text/csv" else parse_json_text(text)
        except ValueError as exc:
            raise HTTPException(422, detail=[{"loc": ["body"], "path": "body", "msg": str(exc),
                                              "type": "value_error"}]) from None
        report = await run_in_threadpool(import_records, store(), what, records)
        return counted(what, report)

    for what in ("declarations", "products", "parties", "movements"):
        app.add_api_route(
            f"/api/{what}/import",
            _make_import(import_body, what),
            methods=["POST"],
            tags=["master data" if what not in ("declarations", "movements") else what],
            dependencies=write,
            summary=f"import {what} (JSON array, JSON Lines or CSV)",
        )


def _make_import(handler: Any, what: What) -> Any:
    async def endpoint(request: Request) -> dict[str, Any]:
        return await handler(what, request)  # type: ignore[no-any-return]

    endpoint.__name__ = f"import_{what}"
    return endpoint
