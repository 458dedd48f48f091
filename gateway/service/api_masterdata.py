"""Declarations, products and parties over HTTP: filled in once the enrichment store exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from gateway.service.api import ApiContext
    from gateway.service.auth import TokenAuth


def add_masterdata_routes(app: FastAPI, ctx: ApiContext, auth: TokenAuth) -> None:
    return None
