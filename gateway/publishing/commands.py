"""Commands to the gateway over MQTT: ``cmd/{site}/{gw}/{name}`` in, a reply under ``cmd/{site}/{gw}/reply/`` out.

A request is a JSON object.  Under MQTT 5 the reply goes to the request's Response Topic with its
Correlation Data; under 3.1.1 (no properties) the request names them in its body (``responseTopic``,
``correlationId``) and the reply carries ``correlationId`` back in its body.  The response topic must
lie under the reply prefix (:attr:`~gateway.publishing.topics.Topics.replies`): a request naming any
other topic, or none, gets no reply (one warning line), so that nobody can make the gateway publish on
its own customs, ops or agency topics, or anywhere the broker's ACL does not let callers read.  A
payload that is not a JSON object (not UTF-8, not JSON, nested deeper than 64 levels, a list) and a
``correlationId`` that is not a string get an error reply; so does a handler's exception: the requester
learns what went wrong, the gateway keeps running.

:class:`Commands` turns one request into its :class:`Reply` (the
:class:`~gateway.publishing.publisher.Publisher` subscribes and publishes):

>>> from gateway.publishing.mqtt_client import InboundMessage
>>> from gateway.publishing.topics import Topics
>>> commands = Commands(Topics("s1", "gw-1"), qos=1, expiry_s=60)
>>> def request(payload, response_topic="bx/v1/cmd/s1/gw-1/reply/app"):
...     return InboundMessage("bx/v1/cmd/s1/gw-1/ping", payload, 1, False, response_topic=response_topic,
...                           correlation_data=b"c-7")
>>> reply = commands.respond(request(b"{}"), protocol="5")
>>> reply.topic, reply.payload, reply.props["correlation"]
('bx/v1/cmd/s1/gw-1/reply/app', b'{"ok": true, "command": "ping", "result": {"pong": true}}', 'c-7')
>>> commands.respond(request(b"[" * 100), protocol="5").payload
b'{"ok": false, "command": "ping", "error": "bad request: JSON nested deeper than 64 levels"}'
>>> commands.respond(request(b"{}", "bx/v1/customs/s1/gw-1/enriched/lane1"), protocol="5") is None
True
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.json_limits import loads
from gateway.publishing.mqtt_client import InboundMessage
from gateway.publishing.payloads import JSON, CommandResponse
from gateway.publishing.topics import REPLY, Topics, check_reply_topic

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
        """Serve ``cmd/{site}/{gw}/{name}`` (the name must be a valid topic segment, and not ``reply``)."""
        self.topics.command(name)
        if name == REPLY:
            raise ValueError(f"{REPLY!r} is the reply prefix, not a command name")
        self.handlers[name] = handler

    def respond(self, message: InboundMessage, protocol: str) -> Reply | None:
        """The reply to one request (``None``: it named no response topic under the reply prefix)."""
        name = message.topic.rsplit("/", 1)[-1]
        error: str | None = None
        request: dict[str, Any] = {}
        try:
            parsed = loads(message.payload or b"{}")  # bounded nesting: a deep payload is an error, not a crash
            if not isinstance(parsed, dict):
                raise ValueError("request must be a JSON object")
            request = parsed
        except ValueError as exc:
            error = f"bad request: {exc}"
        response_topic = message.response_topic or request.get("responseTopic")
        correlation = message.correlation_data
        if correlation is None and request.get("correlationId") is not None:
            if isinstance(request["correlationId"], str):
                correlation = request["correlationId"].encode("utf-8", "replace") or None
            elif error is None:
                error = "bad request: correlationId must be a string"
        if not response_topic:
            log.warning("command %s without a response topic: ignored", name)
            return None
        try:
            topic = check_reply_topic(response_topic, self.topics.replies)
        except ValueError as exc:  # the topic itself is not logged: it is the caller's text
            log.warning("command %s not answered: %s", name, exc)
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
        props: dict[str, object] = {"content_type": JSON, "expiry": self.expiry_s,
                                    "user": [["schema", "bx.command-response.v1"], ["gw", self.topics.gateway]]}
        if correlation:
            props["correlation"] = correlation.decode("utf-8", "replace")
        try:
            payload = self._body(name, result, error, correlation, protocol)
        except Exception as exc:  # a handler's result that is not JSON: still an answer
            payload = self._body(name, None, f"bad result: {type(exc).__name__}", correlation, protocol)
        return Reply(topic, payload, self.qos, props)

    @staticmethod
    def _body(name: str, result: dict[str, Any] | None, error: str | None, correlation: bytes | None,
              protocol: str) -> bytes:
        reply = CommandResponse(ok=error is None, command=name, result=result, error=error)
        body = reply.model_dump(mode="json", by_alias=True, exclude_none=True)
        if protocol != "5" and correlation:
            body["correlationId"] = correlation.decode("utf-8", "replace")
        return json.dumps(body).encode()
