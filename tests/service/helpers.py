"""Start the API on a real loopback port in a thread, for HTTP and browser tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI

from gateway.service.broker import free_port, wait_port
from gateway.service.http_server import make_server


@contextmanager
def serve_in_thread(app: FastAPI, tls: Any = None) -> Iterator[str]:
    """The base URL (``https://`` with ``tls``, an :class:`~gateway.config.ApiTlsConfig`)."""
    port = free_port()
    server = make_server(app, "127.0.0.1", port, tls=tls)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    try:
        wait_port("127.0.0.1", port, timeout=10)
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        deadline = time.monotonic() + 10
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.1)
