"""Uvicorn inside the service's own event loop, over HTTP or HTTPS (``api.tls``).

The service owns SIGTERM/SIGINT (it must stop readers and flush the outbox before exiting),
so the embedded server must not install its own signal handlers.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Generator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI


class TlsError(ValueError):
    """The API's certificate or key cannot be loaded; the message names the file and the reason."""


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def check_tls(cert: Path, key: Path) -> None:
    """Load the pair as the server will, so that a wrong file is one clear line at start-up."""
    for path in (cert, key):  # load_cert_chain's own errors do not say which file
        try:
            Path(path).open("rb").close()
        except OSError as exc:
            raise TlsError(f"api.tls: {path}: {(exc.strerror or str(exc)).lower()}") from None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise TlsError(f"api.tls: cannot use certificate {cert} with key {key}: {exc.reason or exc}") from None


def make_server(app: FastAPI, host: str, port: int, tls: Any = None) -> EmbeddedServer:
    """``tls``: an :class:`~gateway.config.ApiTlsConfig` (``cert``, ``key``) for HTTPS, None for HTTP."""
    extra: dict[str, Any] = {}
    if tls is not None:
        extra = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off", server_header=False, **extra)
    return EmbeddedServer(config)
