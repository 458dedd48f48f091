"""Uvicorn inside the service's own event loop.

The service owns SIGTERM/SIGINT (it must stop readers and flush the outbox before exiting),
so the embedded server must not install its own signal handlers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: FastAPI, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off", server_header=False)
    return EmbeddedServer(config)
