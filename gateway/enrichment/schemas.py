"""JSON Schemas of the enrichment models, committed under ``gateway/enrichment/schemas/``.

Regenerate after changing a model (a test fails until the committed files match)::

    .venv/bin/python -m gateway.enrichment.schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.movement import Movement
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.enrichment.result import EnrichmentResult

SCHEMA_DIR = Path(__file__).parent / "schemas"
MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "declaration.v1.json": (Declaration, "bx.declaration.v1: pre-arrival declaration"),
    "product.v1.json": (Product, "bx.product.v1: product master data"),
    "party.v1.json": (Party, "bx.party.v1: party master data"),
    "movement.v1.json": (Movement, "bx.movement.v1: the declarations of one crossing (GVMS-like)"),
    "enrichment-result.v1.json": (EnrichmentResult, "enrichment result of one closed passage"),
}


def schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    out = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **{
        k: v for k, v in out.items() if k != "title"}}


def render(name: str) -> str:
    model, title = MODELS[name]
    return json.dumps(schema(model, title), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in MODELS:
        path = directory / name
        path.write_text(render(name), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(p)
