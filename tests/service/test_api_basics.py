"""The HTTP API's own rules: health, readiness, metrics, auth, body limits, SSE, no internals in errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel

from gateway.config import parse_config
from gateway.reads import SourceStatus
from gateway.service.api import ApiContext, create_app
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics
from tests.service.helpers import serve_in_thread

WRITE, READ = "write-token-123", "read-token-456"


class Probe(BaseModel):
    name: str
    items: list[int]


def _ctx(read_tokens: list[str] | None = None, max_body: int = 4096) -> ApiContext:
    config = parse_config({
        "site": "s1", "gateway": "gw1", "lanes": [{"id": "lane1", "name": "Lane 1"}, {"id": "lane2"}],
        "api": {"tokens": [WRITE], "read_tokens": read_tokens, "max_body_bytes": max_body},
    })
    live = LiveState([(lane.id, lane.name) for lane in config.lanes])
    return ApiContext(config=config, live=live, metrics=Metrics())


def _app(ctx: ApiContext) -> TestClient:
    app = create_app(ctx)
    auth = app.state.auth

    @app.post("/test/probe", dependencies=[Depends(auth.require_write)])
    async def probe(body: Probe) -> dict[str, int]:
        return {"n": len(body.items)}

    @app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /var/lib/x")

    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with _app(_ctx()) as c:
        yield c


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/ready").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "bx_reads" in metrics.text


def test_writes_need_a_token(client: TestClient) -> None:
    body = {"name": "x", "items": [1, 2]}
    missing = client.post("/test/probe", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/test/probe", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.post("/test/probe", json=body, headers={"Authorization": f"Bearer {WRITE}"})
    assert ok.status_code == 200 and ok.json() == {"n": 2}


def test_read_tokens_when_configured() -> None:
    with _app(_ctx(read_tokens=[READ])) as c:
        assert c.get("/api/state").status_code == 401
        assert c.get("/api/state", headers={"Authorization": f"Bearer {READ}"}).status_code == 200
        assert c.get("/api/state", headers={"Authorization": f"Bearer {WRITE}"}).status_code == 200
        denied = c.post("/test/probe", json={"name": "x", "items": []},
                        headers={"Authorization": f"Bearer {READ}"})
        assert denied.status_code == 403
        assert c.get("/health").status_code == 200  # liveness stays open for orchestrators


def test_invalid_body_gets_422_with_field_paths(client: TestClient) -> None:
    res = client.post("/test/probe", json={"items": [1, "x"]}, headers={"Authorization": f"Bearer {WRITE}"})
    assert res.status_code == 422
    paths = {problem["path"] for problem in res.json()["detail"]}
    assert paths == {"body.name", "body.items[1]"}


def test_oversized_body_gets_413(client: TestClient) -> None:
    big = {"name": "x" * 5000, "items": []}
    res = client.post("/test/probe", json=big, headers={"Authorization": f"Bearer {WRITE}"})
    assert res.status_code == 413


def test_chunked_oversized_body_gets_413() -> None:
    with serve_in_thread(create_app(_ctx())) as base:
        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        res = httpx.post(f"{base}/api/declarations", content=chunks(),
                         headers={"Authorization": f"Bearer {WRITE}", "Content-Type": "application/json"},
                         timeout=10)
        assert res.status_code == 413
        res = httpx.post(f"{base}/api/declarations", content=b"x" * 5000,
                         headers={"Authorization": f"Bearer {WRITE}"}, timeout=10)
        assert res.status_code == 413


def test_errors_do_not_leak_internals(client: TestClient) -> None:
    res = client.get("/test/boom")
    assert res.status_code == 500
    assert "secret" not in res.text and "RuntimeError" not in res.text
    assert res.json()["detail"] == "internal error"


def test_state_and_sources(client: TestClient) -> None:
    ctx: ApiContext = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.live.add_source("rdr1", "reader", "llrp://127.0.0.1:5084", ["lane1"])
    ctx.live.source_status(SourceStatus("rdr1", "connected"))
    state = client.get("/api/state").json()
    assert [lane["id"] for lane in state["lanes"]] == ["lane1", "lane2"]
    assert state["sources"][0]["state"] == "connected" and state["sources"][0]["degraded"] is False
    lanes = client.get("/api/lanes").json()
    assert lanes[0]["name"] == "Lane 1"


def test_server_sent_events_over_a_real_socket() -> None:
    ctx = _ctx()
    with serve_in_thread(create_app(ctx)) as base, httpx.stream("GET", f"{base}/api/events", timeout=10) as res:
        assert res.headers["content-type"].startswith("text/event-stream")
        lines = res.iter_lines()
        assert next(lines).startswith("retry:")
        ctx.live.passage_event("new", {"lane": "lane1", "id": "p1", "counts": {"sscc": 1}})
        for line in lines:
            if line.startswith("data:"):
                message = json.loads(line[5:])
                assert message["type"] == "passage" and message["data"]["id"] == "p1"
                break


def test_contract_is_served(client: TestClient) -> None:
    names = client.get("/api/schemas").json()
    assert "asyncapi.json" in names and "enriched.v1.json" in names
    assert client.get("/api/schemas/enriched.v1.json").json()["title"]
    assert client.get("/api/schemas/..%2Fpublisher.py").status_code == 404
    assert client.get("/api/schemas/nope.json").status_code == 404
