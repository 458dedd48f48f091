"""ASGI middleware: bound request bodies before the application parses them.

* Size: a declared ``Content-Length`` over the limit is refused with ``413`` at once; a chunked body
  (no length) is read up to the limit and refused with ``413`` as soon as it goes over, so a client
  cannot stream an unbounded body by leaving the length out.
* Nesting: a body that nests JSON brackets deeper than :data:`gateway.json_limits.MAX_DEPTH` is
  refused with ``422`` (``path`` ``body``) before FastAPI's ``json.loads`` could recurse into it.
  CSV bodies (``Content-Type: text/csv``) are not JSON and are not scanned.

The body, at most ``max_bytes`` long, is read once here and replayed to the application.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.json_limits import MAX_DEPTH, JsonLimitError, check_depth


class BodyLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_DEPTH) -> None:
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        # Read the body (bounded) before the app sees anything, then replay it.  Raising inside the
        # app's own body read would be turned into a 400 by FastAPI.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._reject(send, 413, f"request body larger than {self.max_bytes} bytes")
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and content_type != b"text/csv":
            try:
                check_depth(body, self.max_depth)
            except JsonLimitError as exc:
                await self._reject(send, 422, [{"loc": ["body"], "path": "body", "msg": str(exc),
                                                "type": "json_too_deep"}])
                return
        replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay_receive() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)

    @staticmethod
    async def _reject(send: Send, status: int, detail: Any) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
