"""Impinj IoT Device Interface webhook receiver: the reader POSTs ``tagInventoryEvent`` batches to us.

With ``PUT /api/v1/webhooks/event`` an R700/R720 is told to POST its events to a URL, in
batches (``eventBatchLimit`` events, or whatever arrived within ``eventBatchLingerMilliseconds``),
optionally with basic authentication.  This source is that URL: a small HTTP/1.1 server
(``h11`` for the protocol, asyncio for the sockets) that turns each POST into normalised reads.

``impinj-iot+webhook://[user:password@]host:port[/path][?max_body=BYTES&token=SECRET&max_connections=N&request_timeout=S]``

* ``host`` is the address to listen on: an IP literal or ``localhost`` (``0.0.0.0`` for all
  interfaces; the reader must be able to reach it).  ``port`` is required (``0`` picks a free
  one, for tests: :attr:`ImpinjWebhookSource.address` tells which).
* ``user:password`` requires HTTP basic authentication, ``token`` a bearer token; either may be
  written ``${VAR}`` in the site file.  Not both: a request carries one ``Authorization`` header,
  so a URL with both would refuse every request; it is refused at ``config check`` instead.
* ``max_body`` bounds one request (1 MB by default: a batch of 1,000 events is about 300 kB).
* ``request_timeout`` (seconds, default 30) is the deadline for a whole request, head and body,
  counted from its first byte (from the connect, for a connection's first request): a client that
  trickles a byte every few seconds, or connects and says nothing, is answered ``408`` and dropped
  when it runs out, however steadily it sends.  A keep-alive connection with no further request
  started is closed after 75 s.
* ``max_connections`` (default 32) bounds the connections served at once; one over the limit is
  answered ``503`` with ``Retry-After`` and closed.  A reader posts over one or two.

What the reader gets back, and why:

=========================  =====================================================================
request                    answer
=========================  =====================================================================
good batch                 ``204`` - every event was mapped
batch with bad events      ``200`` with ``{"accepted": n, "rejected": [{"index", "error"}]}``: the
                           good events are kept, and a 2xx stops the reader re-sending the batch
                           (which would duplicate the good ones and never fix the bad one)
not JSON / not a list or   ``400`` with ``{"error": ...}``
object
wrong path / method        ``404`` / ``405``
missing or wrong auth      ``401`` (basic: with ``WWW-Authenticate``)
body over ``max_body``     ``413``, then the connection is closed
malformed HTTP             ``400`` (``431`` for oversized headers), then the connection is closed
JSON nested deeper than    ``400`` (checked before parsing: :mod:`gateway.json_limits`)
64 levels
request not complete       ``408``, then the connection is closed
within ``request_timeout``
too many connections       ``503`` with ``Retry-After``, then the connection is closed
=========================  =====================================================================

Nothing here raises for what a client sends; every rejected request is counted in
:attr:`ImpinjWebhookSource.rejected` and reported as a :class:`~gateway.reads.SourceStatus`.  An
event the mapper cannot take for a reason it did not foresee is rejected like a bad one, and a
fault in the receiver itself is answered ``500`` (and logged), never a silently closed connection.

>>> cfg = WebhookConfig.parse("impinj-iot+webhook://gw:s3cret@127.0.0.1:8081/impinj?max_body=65536")
>>> cfg.host, cfg.port, cfg.path, cfg.username, cfg.max_body, cfg.max_connections, cfg.request_timeout
('127.0.0.1', 8081, '/impinj', 'gw', 65536, 32, 30.0)
>>> WebhookConfig.parse("impinj-iot+webhook://reader.example:8081")
Traceback (most recent call last):
...
drivers.vendor_json.webhook.WebhookURLError: 'impinj-iot+webhook://reader.example:8081': listen host must be an \
IP address or localhost, not 'reader.example'
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11

from drivers.vendor_json.mapping import VendorEventError, impinj_reads
from drivers.vendor_json.sources import _DONE, Mapper, _QueueSource
from gateway.json_limits import JsonLimitError, loads
from gateway.reads import SourceEvent

log = logging.getLogger(__name__)

SCHEME = "impinj-iot+webhook"
DEFAULT_MAX_BODY = 1_000_000
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_REQUEST_TIMEOUT_S = 30.0
IDLE_TIMEOUT_S = 75.0  # a keep-alive connection with no request started is closed


class WebhookURLError(ValueError):
    """The ``impinj-iot+webhook://`` URL is not valid (the message names the part)."""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    host: str
    port: int
    path: str = "/"
    username: str | None = None
    password: str | None = None
    token: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S
    options: tuple[tuple[str, str], ...] = ()  # the parameters of the receiver built on this one (``extra``)

    @classmethod
    def parse(cls, url: str, scheme: str = SCHEME, extra: frozenset[str] = frozenset()) -> WebhookConfig:
        """The URL's listening and limit parameters; ``extra`` names the parameters of the receiver built on
        this server (the ANPR webhook's ``preset`` ...), kept in :attr:`options`."""
        parts = urlsplit(url)
        if parts.scheme.lower() != scheme:
            raise WebhookURLError(f"{url!r}: expected {scheme}://host:port/path")
        host = parts.hostname or ""
        if host != "localhost":
            try:
                ip_address(host)
            except ValueError:
                raise WebhookURLError(f"{url!r}: listen host must be an IP address or localhost, "
                                      f"not {host!r}") from None
        try:
            port = parts.port
        except ValueError:
            raise WebhookURLError(f"{url!r}: bad port") from None
        if port is None:
            raise WebhookURLError(f"{url!r}: a port is required (0 = any free port)")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(q) - {"max_body", "token", "max_connections", "request_timeout"} - extra
        if unknown:
            raise WebhookURLError(f"{url!r}: unknown parameter(s) {', '.join(sorted(unknown))}")
        try:
            max_body = int(q.get("max_body", DEFAULT_MAX_BODY))
        except ValueError:
            raise WebhookURLError(f"{url!r}: max_body must be a number of bytes") from None
        if not 1024 <= max_body <= 100_000_000:
            raise WebhookURLError(f"{url!r}: max_body must be 1024..100000000 bytes")
        try:
            max_connections = int(q.get("max_connections", DEFAULT_MAX_CONNECTIONS))
        except ValueError:
            raise WebhookURLError(f"{url!r}: max_connections must be a number") from None
        if not 1 <= max_connections <= 10_000:
            raise WebhookURLError(f"{url!r}: max_connections must be 1..10000")
        try:
            request_timeout = float(q.get("request_timeout", DEFAULT_REQUEST_TIMEOUT_S))
        except ValueError:
            raise WebhookURLError(f"{url!r}: request_timeout must be a number of seconds") from None
        if not (math.isfinite(request_timeout) and 0.1 <= request_timeout <= 3600):
            raise WebhookURLError(f"{url!r}: request_timeout must be 0.1..3600 seconds")
        if parts.username is not None and parts.password is None:
            raise WebhookURLError(f"{url!r}: basic authentication needs user:password")
        if parts.username is not None and q.get("token"):
            raise WebhookURLError(f"{url!r}: use user:password@ (basic) or token= (bearer), not both: "
                                  "a request carries one Authorization header")
        return cls(host=host, port=port, path=parts.path or "/",
                   username=unquote(parts.username) if parts.username is not None else None,
                   password=unquote(parts.password) if parts.password is not None else None,
                   token=q.get("token") or None, max_body=max_body, max_connections=max_connections,
                   request_timeout=request_timeout, options=tuple(sorted((k, v) for k, v in q.items() if k in extra)))


def check_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``): raises :class:`WebhookURLError`."""
    WebhookConfig.parse(url)


class _RequestClock:
    """The deadline of one request: :data:`IDLE_TIMEOUT_S` for its first byte, then ``request_timeout`` for
    all of it (head and body), counted once from that first byte: later bytes never restart it."""

    def __init__(self, request_timeout: float, started: bool = False) -> None:
        self.request_timeout = request_timeout
        self.started = started  # bytes of this request already buffered (a pipelined request)
        self.deadline = time.monotonic() + (request_timeout if started else IDLE_TIMEOUT_S)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def received(self, n: int) -> None:
        if n and not self.started:
            self.started = True
            self.deadline = time.monotonic() + self.request_timeout


class _Reject(Exception):
    def __init__(self, status: int, message: str, close: bool = False, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status, self.close, self.headers = status, close, headers


class WebhookSource(_QueueSource):
    """Listens for webhook POSTs; ``events()`` yields what :meth:`_accept` makes of their bodies (see the
    module docstring: the HTTP side, limits and answers, is the same for every receiver built on it)."""

    def __init__(self, source_id: str, config: WebhookConfig, mapper: Mapper = impinj_reads) -> None:
        super().__init__(source_id, mapper)
        self.config = config
        self.listening = asyncio.Event()
        self.requests = 0  # POSTs that reached the mapper
        self.rejected = 0  # requests answered with 4xx
        self.events_accepted = 0
        self.refused_connections = 0  # connections over max_connections
        self._last_refusal_report = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._address: tuple[str, int] = (config.host, config.port)

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually listened on (the port is known once :attr:`listening` is set)."""
        return self._address

    async def events(self) -> AsyncIterator[SourceEvent]:
        if self._server is None and not self._closing:
            await self._start()
        async for e in self._drain():
            yield e

    async def _start(self) -> None:
        cfg = self.config
        self._status("starting", f"webhook on {cfg.host}:{cfg.port}{cfg.path}")
        try:
            self._server = await asyncio.start_server(self._serve, cfg.host, cfg.port)
        except OSError as exc:
            # A port in use is a deployment error, not a transient fault: say so and stop.
            self._status("error", f"cannot listen on {cfg.host}:{cfg.port}: {exc}")
            self._queue.put_nowait(_DONE)
            return
        self._address = self._server.sockets[0].getsockname()[:2]
        self.listening.set()
        self._status("connected", f"webhook listening on http://{self._address[0]}:{self._address[1]}{cfg.path}")

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._status("stopped", "closed")
        self._queue.put_nowait(_DONE)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16 * 1024)
        if len(self._writers) >= self.config.max_connections:
            await self._refuse_connection(conn, reader, writer)
            return
        self._writers.add(writer)
        try:
            first = True
            while not self._closing:
                keep_open = await self._one_request(conn, reader, writer, first)
                first = False
                if not keep_open or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, OSError, TimeoutError, h11.LocalProtocolError):
            pass
        except Exception:  # a fault of ours: answer it, log it, keep serving the other connections
            log.exception("webhook %s: failed to serve a request", self.source_id)
            self.rejected += 1
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                with contextlib.suppress(Exception):
                    await self._send(conn, writer, 500, {"error": "internal error"}, close=True)
        finally:
            self._writers.discard(writer)
            if self._closing:
                writer.transport.abort()
            else:
                await self._linger(reader, writer)

    async def _refuse_connection(self, conn: h11.Connection, reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        """One connection over ``max_connections``: ``503`` at once, then close (without reading a request)."""
        self.rejected += 1
        self.refused_connections += 1
        now = time.monotonic()
        if now - self._last_refusal_report >= 1.0:  # a flood of connections must not flood the status queue
            self._last_refusal_report = now
            self._status("connected", f"webhook connection refused: {self.config.max_connections} connections "
                                      f"open (max_connections); {self.refused_connections} refused so far")
        with contextlib.suppress(Exception):
            await self._send(conn, writer, 503, {"error": "too many connections"}, (("Retry-After", "1"),),
                             close=True)
        await self._linger(reader, writer)

    @staticmethod
    async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Close politely: stop sending, then drain what the client is still sending (bounded).

        Closing a socket with unread input makes the kernel send a reset, which can destroy the
        413 the client has not read yet; draining first lets it see the answer."""
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2.0
            drained = 0
            while drained < 64 * 1024 * 1024 and (left := deadline - loop.time()) > 0:
                chunk = await asyncio.wait_for(reader.read(65536), left)
                if not chunk:
                    break
                drained += len(chunk)
        writer.close()

    @staticmethod
    async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader, clock: _RequestClock) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            left = clock.left()
            if left <= 0:
                raise TimeoutError
            data = await asyncio.wait_for(reader.read(65536), left)
            clock.received(len(data))
            conn.receive_data(data)  # b"" = the peer closed: h11 answers ConnectionClosed

    async def _one_request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter, first: bool = False) -> bool:
        """Serve one request; False when the connection must close.

        The first request of a connection is due within ``request_timeout`` of the connect (a client
        that connects and says nothing holds a slot like a slow one); later ones may wait
        :data:`IDLE_TIMEOUT_S` on a keep-alive connection before their first byte."""
        clock = _RequestClock(self.config.request_timeout, started=first or bool(conn.trailing_data[0]))
        try:
            event = await self._next_event(conn, reader, clock)
            if isinstance(event, h11.ConnectionClosed):
                return False
            assert isinstance(event, h11.Request)
            request = event
            self._check_request(event)
            body = bytearray()
            while True:
                event = await self._next_event(conn, reader, clock)
                if isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > self.config.max_body:
                        raise _Reject(413, f"body over {self.config.max_body} bytes", close=True)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:  # ConnectionClosed mid-body: nothing to answer
                    return False
        except TimeoutError:
            if not clock.started:
                return False  # an idle keep-alive connection: nothing to answer
            rej = _Reject(408, f"request not complete within {self.config.request_timeout:g} s", close=True)
            self.rejected += 1
            self._status("connected", f"webhook request rejected: {rej.status} {rej}")
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await self._send(conn, writer, rej.status, {"error": str(rej)}, close=True)
            return False
        except _Reject as rej:
            self.rejected += 1
            self._status("connected", f"webhook request rejected: {rej.status} {rej}")
            await self._send(conn, writer, rej.status, {"error": str(rej)}, rej.headers, close=rej.close)
            return not rej.close
        except h11.RemoteProtocolError as exc:
            self.rejected += 1
            self._status("connected", f"webhook request rejected: malformed HTTP: {exc}")
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await self._send(conn, writer, exc.error_status_hint, {"error": "malformed HTTP request"}, close=True)
            return False
        content_type = dict((k.lower(), v) for k, v in request.headers).get(b"content-type", b"")
        status, answer = self._accept(bytes(body), content_type.decode("latin-1"))
        if status >= 400:
            self.rejected += 1
        await self._send(conn, writer, status, answer)
        return True

    def _check_request(self, req: h11.Request) -> None:
        cfg = self.config
        target = req.target.decode("latin-1").split("?", 1)[0]
        if target != cfg.path:
            raise _Reject(404, f"no webhook at {target}")
        if req.method != b"POST":
            raise _Reject(405, f"method {req.method.decode('latin-1')} not allowed", headers=(("Allow", "POST"),))
        headers = {k.lower(): v for k, v in req.headers}
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > cfg.max_body:
            raise _Reject(413, f"body of {int(length)} bytes is over {cfg.max_body}", close=True)
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if cfg.username is not None:
            expected = "Basic " + base64.b64encode(f"{cfg.username}:{cfg.password}".encode()).decode()
            if not hmac.compare_digest(auth.encode(), expected.encode()):
                raise _Reject(401, "authentication required", headers=(("WWW-Authenticate", 'Basic realm="webhook"'),))
        if cfg.token is not None and not hmac.compare_digest(auth.encode(), f"Bearer {cfg.token}".encode()):
            raise _Reject(401, "bearer token required")

    def _accept(self, body: bytes, content_type: str = "") -> tuple[int, dict[str, Any] | None]:
        """One request's body -> queued events; the status and JSON answer for the client."""
        raise NotImplementedError

    async def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int,
                    answer: dict[str, Any] | None, extra: tuple[tuple[str, str], ...] = (),
                    close: bool = False) -> None:
        body = json.dumps(answer).encode() if answer is not None else b""
        headers = [("Content-Length", str(len(body))), *extra]
        if answer is not None:
            headers.append(("Content-Type", "application/json"))
        if close:
            headers.append(("Connection", "close"))
        data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
        if body:
            data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        writer.write(data)
        # a client that does not read its answer must not hold the connection for ever either
        await asyncio.wait_for(writer.drain(), self.config.request_timeout)


class ImpinjWebhookSource(WebhookSource):
    """The Impinj IoT Device Interface webhook: JSON batches of ``tagInventoryEvent``s."""

    def __init__(self, source_id: str, config: WebhookConfig) -> None:
        super().__init__(source_id, config, impinj_reads)

    def _accept(self, body: bytes, content_type: str = "") -> tuple[int, dict[str, Any] | None]:
        """Map one batch; events that cannot be reads are reported, the others kept."""
        try:
            doc = loads(body)  # nesting bounded before parsing (a 500-deep list would exhaust the mapper's stack)
        except JsonLimitError as exc:
            self.bad_documents += 1
            self._status("connected", f"ignored bad webhook body: {exc}")
            return 400, {"error": f"bad body: {exc}"}
        if not isinstance(doc, (list, dict)):
            self.bad_documents += 1
            return 400, {"error": f"expected an event object or a list of events, got {type(doc).__name__}"}
        self.requests += 1
        host_time = time.time()
        batch = doc if isinstance(doc, list) else [doc]
        rejected: list[dict[str, Any]] = []
        for i, event in enumerate(batch):
            try:
                out = self.mapper(event, self.source_id, host_time)
            except VendorEventError as exc:
                rejected.append({"index": i, "error": str(exc)})
                continue
            except Exception as exc:  # a case the mapper did not foresee: this event only, never the batch
                log.warning("webhook %s: event %d could not be mapped: %s", self.source_id, i, type(exc).__name__)
                rejected.append({"index": i, "error": f"event could not be mapped ({type(exc).__name__})"})
                continue
            self.events_accepted += 1
            for e in out:
                self._queue.put_nowait(e)
        if not rejected:
            return 204, None
        self.bad_documents += len(rejected)
        self._status("connected", f"ignored {len(rejected)} bad webhook event(s): {rejected[0]['error']}")
        return 200, {"accepted": len(batch) - len(rejected), "rejected": rejected}


def open_webhook_source(source_id: str, url: str) -> ImpinjWebhookSource:
    """``drivers.registry`` entry point for ``impinj-iot+webhook://`` URLs."""
    return ImpinjWebhookSource(source_id, WebhookConfig.parse(url))
