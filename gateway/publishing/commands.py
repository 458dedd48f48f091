"""Commands to the gateway over MQTT: ``cmd/{site}/{gw}/{name}`` in, a reply to the requester's topic out.

A request is a JSON object.  Under MQTT 5 the reply goes to the request's Response Topic with its
Correlation Data; under 3.1.1 (no properties) the request names them in its body (``responseTopic``,
``correlationId``) and the reply carries ``correlationId`` back in its body.  A request without a
response topic is ignored (nobody would read the reply).  A handler's exception becomes the reply's
``error``: the requester learns what went wrong, the gateway keeps running.

:class:`Commands` turns one request into its :class:`Reply` (the
:class:`~gateway.publishing.publisher.Publisher` subscribes and publishes):

>>> from gateway.publishing.mqtt_client import InboundMessage
>>> from gateway.publishing.topics import Topics
>>> commands = Commands(Topics("s1", "gw-1"), qos=1, expiry_s=60)
>>> request = InboundMessage("bx/v1/cmd/s1/gw-1/ping", b"{}", 1, False, response_topic="app/replies",
...                          correlation_data=b"c-7")
>>> reply = commands.respond(request, protocol="5")
>>> reply.topic, reply.payload, reply.props["correlation"]
('app/replies', b'{"ok": true, "command": "ping", "result": {"pong": true}}', 'c-7')
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.publishing.mqtt_client import InboundMessage
from gateway.publishing.payloads import JSON, CommandResponse
from gateway.publishing.topics import Topics

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Reply:
    topic: str
    payload: bytes
    qos: int
    props: dict[str, object]


class Commands:
    """The commands this gateway serves (``ping`` always): name -> ``handler(request) -> result``."""

    def __init__(self, topics: Topics, *, qos: int, expiry_s: int) -> None:
        self.topics, self.qos, self.expiry_s = topics, qos, expiry_s
        self.handlers: dict[str, Handler] = {"ping": lambda _: {"pong": True}}

    @property
    def subscription(self) -> str:
        """The topic filter of every command addressed to this gateway."""
        return self.topics.commands

    def register(self, name: str, handler: Handler) -> None:
        """Serve ``cmd/{site}/{gw}/{name}`` (the name must be a valid topic segment)."""
        self.topics.command(name)
        self.handlers[name] = handler

    def respond(self, message: InboundMessage, protocol: str) -> Reply | None:
        """The reply to one request (``None``: it named no response topic)."""
        name = message.topic.rsplit("/", 1)[-1]
        error: str | None = None
        request: dict[str, Any] = {}
        try:
            parsed = json.loads(message.payload or b"{}")
            if not isinstance(parsed, dict):
                raise ValueError("request must be a JSON object")
            request = parsed
        except ValueError as exc:
            error = f"bad request: {exc}"
        response_topic: str | None = message.response_topic or request.get("responseTopic")
        correlation = message.correlation_data or str(request.get("correlationId", "")).encode() or None
        if not response_topic:
            log.warning("command %s without a response topic: ignored", name)
            return None
        handler = self.handlers.get(name)
        if error is None and handler is None:
            error = f"unknown command {name!r}"
        result = None
        if error is None and handler is not None:
            try:
                result = handler(request)
            except Exception as exc:  # the requester gets the error, the gateway keeps running
                error = f"{type(exc).__name__}: {exc}"
        reply = CommandResponse(ok=error is None, command=name, result=result, error=error)
        props: dict[str, object] = {"content_type": JSON, "expiry": self.expiry_s,
                                    "user": [["schema", "bx.command-response.v1"], ["gw", self.topics.gateway]]}
        if correlation:
            props["correlation"] = correlation.decode("utf-8", "replace")
        body = reply.model_dump(mode="json", by_alias=True, exclude_none=True)
        if protocol != "5" and correlation:
            body["correlationId"] = correlation.decode("utf-8", "replace")
        return Reply(response_topic, json.dumps(body).encode(), self.qos, props)
