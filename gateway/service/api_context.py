"""What the HTTP API needs from the running service (its own module: the API's route modules share it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.config import SiteConfig
from gateway.reads import Trigger
from gateway.service.live import LiveState
from gateway.service.metrics import Metrics


@dataclass
class ApiContext:
    """What the API needs from the running service; each callable is cheap and non-blocking."""

    config: SiteConfig
    live: LiveState
    metrics: Metrics
    store: Any = None  # gateway.enrichment store (declarations, products, parties)
    outbox_state: Callable[[], dict[str, Any]] = field(default=lambda: {"available": False})
    asyncapi: Callable[[], dict[str, Any]] | None = None
    ready: Callable[[], bool] = field(default=lambda: True)
    # the passage history (gateway.history.store; blocking reads: the routes run them in worker threads)
    passage_query: Callable[..., list[dict[str, Any]]] | None = None
    passage_history: Callable[[str], dict[str, Any] | None] | None = None
    recent_flags: Callable[..., list[dict[str, Any]]] | None = None
    reload: Callable[[], Awaitable[dict[str, Any]]] | None = None  # gateway.service.reload (run only)
    trigger: Callable[[Trigger], None] | None = None  # a lane controller's trigger, handed to the lane engine
    decisions: Any = None  # gateway.decisions.store.DecisionStore (decisions configured)
    submit_decision: Callable[[Any], None] | None = None  # a stored decision, handed to the gateway's loop
    decision_ack: Callable[[Any], None] | None = None  # an HTTP request's acknowledgement, on the MQTT ack topic
