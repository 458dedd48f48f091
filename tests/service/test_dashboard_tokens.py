"""The dashboard with ``api.read_tokens`` set, over HTTPS, in a real headless Chromium.

It must ask for a token once, keep it for the browser tab only (sessionStorage: not localStorage, no
cookie), send it in the ``Authorization`` header of every read (the live event stream included, which
``EventSource`` cannot do) and never put it in a URL, which would end up in logs.  The API is served
with TLS by the same server code as ``run`` (``api.tls``), with a certificate from a test CA: httpx
checks it against that CA, and Chromium trusts exactly that key (``--ignore-certificate-errors-spki-list``).
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import ApiTlsConfig, parse_config
from gateway.enrichment.store import Store
from gateway.reads import SourceStatus
from gateway.service.api import ApiContext, create_app
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics
from tests.service.browser import chromium_page
from tests.service.helpers import serve_in_thread
from tests.support.brokers import make_server_certificate

READ_TOKEN = "read-token-5f1c"
WRITE_TOKEN = "write-token-9a2e"
OPEN_ROUTES = ("/", "/health", "/ready", "/docs", "/openapi.json", "/api/asyncapi", "/api/schemas",
               "/api/schemas/enriched.v1.json")
GUARDED_ROUTES = ("/api/state", "/api/lanes", "/api/sources", "/api/passages", "/api/recent-flags", "/api/outbox",
                  "/metrics", "/api/declarations")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    pytest.importorskip("cryptography")
    return make_server_certificate(tmp_path_factory.mktemp("tls"))


def _spki_hash(cert: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def service(certificate: tuple[Path, Path, Path]) -> Iterator[tuple[str, LiveState, Path]]:
    ca, cert, key = certificate
    config = parse_config({"site": "post1", "gateway": "gw1", "lanes": [{"id": "lane1", "name": "Lane 1"}],
                           "api": {"tokens": [WRITE_TOKEN], "read_tokens": [READ_TOKEN],
                                   "tls": {"cert": str(cert), "key": str(key)}}})
    assert isinstance(config.api.tls, ApiTlsConfig)
    live = LiveState([(lane.id, lane.name) for lane in config.lanes])
    live.add_source("llrp-1", "reader", "llrp://127.0.0.1:5084", ["lane1"])
    live.source_status(SourceStatus("llrp-1", "connected"))
    ctx = ApiContext(config=config, live=live, metrics=Metrics(), outbox_state=lambda: {"depth": 0},
                     store=Store(":memory:"), asyncapi=lambda: {"asyncapi": "3.0.0"})
    with serve_in_thread(create_app(ctx), tls=config.api.tls) as base:
        yield base, live, ca


def test_https_and_which_routes_need_a_token(service: tuple[str, LiveState, Path]) -> None:
    base, _live, ca = service
    assert base.startswith("https://")
    with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(ca)), timeout=10) as client:
        for path in OPEN_ROUTES:
            assert client.get(path).status_code == 200, path
        for path in GUARDED_ROUTES:
            assert client.get(path).status_code == 401, path
            for token in (READ_TOKEN, WRITE_TOKEN):
                assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200, path
        assert client.get("/api/state", headers={"Authorization": "Bearer wrong"}).status_code == 401
    with pytest.raises(httpx.ConnectError):  # the certificate is checked: not trusted without the test CA
        httpx.get(base + "/health", timeout=10)
    with pytest.raises(httpx.HTTPError):  # and plain HTTP is not served on the HTTPS port
        httpx.get(base.replace("https://", "http://") + "/health", timeout=10)


@pytest.mark.browser
def test_dashboard_asks_once_and_sends_the_token_in_a_header(service: tuple[str, LiveState, Path]) -> None:
    base, live, ca = service
    requests: list[dict[str, Any]] = []
    errors: list[str] = []
    with chromium_page([f"--ignore-certificate-errors-spki-list={_spki_hash(ca.with_name('server.crt'))}"]) as page:
        page.on("request", lambda r: requests.append({"url": r.url, "auth": r.headers.get("authorization")}))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.wait_for_selector("#login:not([hidden])", timeout=15_000)
        assert page.inner_text("#lanes") == ""  # nothing shown without a token

        page.fill("#token", "not-the-token")
        page.press("#token", "Enter")
        page.wait_for_function("document.getElementById('login-error').innerText.includes('refused')",
                               timeout=15_000)
        assert page.evaluate("sessionStorage.getItem('bx-read-token')") is None

        page.fill("#token", READ_TOKEN)
        page.press("#token", "Enter")
        page.wait_for_selector("section[data-lane=lane1]", timeout=15_000)
        assert page.is_hidden("#login") and "post1 / gw1" in page.inner_text("header")
        page.wait_for_function("document.getElementById('stream').innerText === 'live'", timeout=15_000)
        # A truck enters: the event stream (fetch with the header) brings it without a reload.
        live.passage_event("new", {"id": "p-1", "lane": "lane1", "direction": "inbound", "state": "open",
                                   "counts": {"sscc": 1}, "identifiers": [
                                       {"key_type": "sscc", "key": "106141411234567897", "reads": 3}]})
        page.wait_for_function(
            "document.querySelector('section[data-lane=lane1]').innerText.includes('106141411234567897')",
            timeout=15_000)

        # Kept for this tab only: sessionStorage, not localStorage, and no cookie.
        assert page.evaluate("sessionStorage.getItem('bx-read-token')") == READ_TOKEN
        assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
        assert page.context.cookies() == []
        page.reload()
        page.wait_for_selector("section[data-lane=lane1]", timeout=15_000)
        assert page.is_hidden("#login")  # not asked again in the same tab

        # A new tab (a new browser session) asks again.
        other = page.context.new_page()
        other.goto(base + "/")
        other.wait_for_selector("#login:not([hidden])", timeout=15_000)
        other.close()

    assert not errors, errors
    assert all(READ_TOKEN not in r["url"] and "token" not in r["url"].lower() for r in requests), requests
    reads = [r for r in requests if r["url"].split("?")[0].endswith(("/api/state", "/api/events"))]
    with_token = [r for r in reads if r["auth"] == f"Bearer {READ_TOKEN}"]
    assert any(r["url"].endswith("/api/events") for r in with_token), reads
    assert any(r["url"].endswith("/api/state") for r in with_token), reads
