"""``border-gateway simulate fleet``: the MQTT traffic of many border posts, for loading the central side.

Every message is one the real gateway published: :mod:`simulators.fleet.sample` plays the demo scenario
through the real lane engine, enricher and publisher offline and keeps each passage's messages (ops
lifecycle and retained lane state, EPCIS observation, enriched record, flags, SPS/CITES referrals, ops
decision) as templates.  The fleet replays them for ``posts`` gateways of ``lanes`` lanes each, varying
only the ids, so the mix and the sizes are the gateway's own:

* topic and payload: the site (``fleet-001`` ...), the gateway id, the lane (``lane1`` ... ``laneN``),
  the passage id (:func:`gateway.lane.engine.passage_id` of the lane, the fleet's clock and a counter)
  and the event hash (a SHA-256 of the new passage's identity; not recomputed from the EPCIS document);
* the MQTT 5 properties the same way (``gw``, ``ce_id``, correlation data).

Each lane sends one passage every ``interval_s`` seconds on average (exponential gaps, seeded), each
passage's messages in the gateway's order, QoS 1; ``interval_s=0`` sends as fast as the client can.
``revision_share`` of the passages are re-enriched later (the template's real ``r2`` messages),
``duplicate_share`` of the enriched records are sent twice (what an outbox replay after a crash
does), ``only`` keeps some kinds of message.  Bounded: it stops after ``max_messages`` or ``duration_s``,
whichever comes first, then waits (bounded) for the broker's PUBACKs.

>>> fleet = Fleet(FleetConfig(posts=2, lanes=4, max_messages=60, interval_s=0, seed=1))
>>> plan = fleet.plan()
>>> len(plan) >= 60, len({m.topic.split("/")[3] for m in plan})
(True, 2)
>>> sorted({m.kind for m in plan})[:3]
['enriched', 'flag', 'lane-state']

Realistic rates: a busy road lane clears a truck every minute or two, so 200 posts x 4 lanes at
``interval_s=60`` are about 13 passages and 130 messages a second.  ``benchmarks/bench_central.py``
uses this module to load the central consumers.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.lane.engine import passage_id as make_passage_id
from simulators.fleet.sample import Sample, SampleMessage, capture, pack_properties

KINDS = ("passage", "lane-state", "observation", "enriched", "flag", "referral")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FleetConfig:
    posts: int = 200
    lanes: int = 4
    interval_s: float = 60.0  # mean seconds between two passages of one lane (0: as fast as possible)
    duration_s: float = 30.0
    max_messages: int = 100_000
    seed: int = 0
    run: str = "r0"  # makes passage ids (and so every CloudEvents id) differ between runs
    revision_share: float = 0.0
    revision_delay_s: float = 1.0
    duplicate_share: float = 0.0
    only: frozenset[str] = frozenset()  # kinds to send (empty: all)
    site_prefix: str = "fleet"
    gateway: str = "gw-1"

    def __post_init__(self) -> None:
        if self.posts < 1 or self.lanes < 1:
            raise ValueError("posts and lanes must be at least 1")
        if self.max_messages < 1 or self.duration_s <= 0:
            raise ValueError("max_messages and duration_s bound the run: both must be positive")
        for share in (self.revision_share, self.duplicate_share):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"a share is between 0 and 1, got {share}")
        unknown = set(self.only) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown message kind(s) {sorted(unknown)} (known: {', '.join(KINDS)})")


@dataclass(frozen=True, slots=True)
class FleetMessage:
    """One publication of the fleet, ready for paho."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    props: Mapping[str, Any]
    kind: str
    ce_id: str | None  # the CloudEvents id (None: retained lane state, not an event)


class _Template:
    """A sample message cut at its variable parts: rendering is a join of byte chunks."""

    __slots__ = ("ce_id", "kind", "payload", "props", "qos", "retain", "topic")

    def __init__(self, message: SampleMessage, pattern: re.Pattern[str], names: Mapping[str, str]) -> None:
        self.kind = message.kind
        self.qos, self.retain = message.qos, message.retain
        self.topic = _cut(message.topic, pattern, names)
        self.payload = _cut(message.payload.decode("utf-8"), pattern, names)
        self.props: dict[str, Any] = {key: ([(k, _cut(str(v), pattern, names)) for k, v in value] if key == "user"
                            else _cut(value, pattern, names) if isinstance(value, str) else value)
                      for key, value in message.props.items()}
        ce_ids = [v for k, v in message.props.get("user", ()) if k == "ce_id"]
        self.ce_id: Cut | None = _cut(str(ce_ids[0]), pattern, names) if ce_ids else None


Cut = tuple[tuple[str, ...], tuple[str, ...]]  # literal chunks, slot names between them


def _cut(text: str, pattern: re.Pattern[str], names: Mapping[str, str]) -> Cut:
    chunks, slots, pos = [], [], 0
    for match in pattern.finditer(text):
        chunks.append(text[pos:match.start()])
        slots.append(names.get(match.group(), "hash"))
        pos = match.end()
    chunks.append(text[pos:])
    return tuple(chunks), tuple(slots)


def _render(cut: Cut, values: Mapping[str, str]) -> str:
    chunks, slots = cut
    if not slots:
        return chunks[0]
    out = [chunks[0]]
    for slot, chunk in zip(slots, chunks[1:], strict=True):
        out.append(values[slot])
        out.append(chunk)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Passage:
    lane: str
    first: tuple[_Template, ...]
    revisions: tuple[tuple[_Template, ...], ...]


def _templates(sample: Sample) -> list[_Passage]:
    out = []
    for p in sample.passages:
        names = {sample.site: "site", sample.gateway: "gateway", p.passage_id: "passage"}
        names.update({lane: f"lane:{lane}" for lane in sample.lanes})
        tokens = sorted(names, key=len, reverse=True)  # a passage id starts with its lane id: longest first
        alternatives = [re.escape(t) for t in tokens] + [_HEX64.pattern]
        pattern = re.compile("|".join(alternatives))
        first = tuple(_Template(m, pattern, names) for m in p.messages)
        revisions = tuple(tuple(_Template(m, pattern, names) for m in group) for group in p.revisions)
        out.append(_Passage(p.lane, first, revisions))
    return out


@dataclass
class FleetResult:
    messages: int = 0
    bytes: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    passages: int = 0
    revisions: int = 0
    duplicates: int = 0
    acked: int = 0
    seconds: float = 0.0
    sent: dict[str, float] = field(default_factory=dict)  # enriched CloudEvents id -> first publish time

    def summary(self) -> dict[str, Any]:
        return {"messages": self.messages, "bytes": self.bytes, "byKind": dict(sorted(self.by_kind.items())),
                "passages": self.passages, "revisions": self.revisions, "duplicates": self.duplicates,
                "acked": self.acked, "seconds": round(self.seconds, 3),
                "messagesPerS": round(self.messages / self.seconds, 1) if self.seconds else None}


class Fleet:
    """Generates and publishes the traffic of ``posts`` x ``lanes`` lanes (see the module doc)."""

    def __init__(self, config: FleetConfig, sample: Sample | None = None) -> None:
        self.config = config
        self.sample = sample or capture(seed=5, revisions=2 if config.revision_share else 1)
        self._passages = [p for p in _templates(self.sample)
                          if any(t.kind == "enriched" for t in p.first)]  # passages that observed something
        if not self._passages:
            raise ValueError("the sample holds no observed passage")
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    # -- generation (no I/O) -----------------------------------------------------------------

    def messages(self, clock: Callable[[], float] = time.time) -> Iterator[tuple[float, FleetMessage]]:
        """(due time on ``clock``, message) in sending order; unbounded (the caller bounds it)."""
        cfg = self.config
        rng = random.Random(cfg.seed)
        start = clock()
        lanes = [(f"{cfg.site_prefix}-{post + 1:03d}", f"lane{lane + 1}")
                 for post in range(cfg.posts) for lane in range(cfg.lanes)]
        seq = [0] * len(lanes)
        heap: list[tuple[float, int, int, int]] = []  # (due, order, lane index, revision group (-1: first))
        pending_revisions: dict[int, tuple[dict[str, str], _Passage]] = {}
        order = 0
        for index in range(len(lanes)):
            gap = rng.expovariate(1.0 / cfg.interval_s) if cfg.interval_s > 0 else 0.0
            heapq.heappush(heap, (start + gap, order, index, -1))
            order += 1
        while heap:
            due, key, index, revision = heapq.heappop(heap)
            if revision >= 0:
                values, template = pending_revisions.pop(key)
                for t in template.revisions[revision]:
                    yield due, self._build(t, values)
                continue
            site, lane = lanes[index]
            template = self._passages[(index + seq[index]) % len(self._passages)]
            seq[index] += 1
            pid = make_passage_id(lane, due, seq[index])
            pid = f"{pid}-{cfg.run}" if cfg.run else pid
            values = {"site": site, "gateway": cfg.gateway, "passage": pid,
                      f"lane:{template.lane}": lane,
                      "hash": hashlib.sha256(f"{site}/{cfg.gateway}/{pid}".encode()).hexdigest()}
            for other in self.sample.lanes:
                values.setdefault(f"lane:{other}", lane)
            for t in template.first:
                message = self._build(t, values)
                yield due, message
                if message.kind == "enriched" and cfg.duplicate_share and rng.random() < cfg.duplicate_share:
                    yield due, message
            if template.revisions and cfg.revision_share and rng.random() < cfg.revision_share:
                heapq.heappush(heap, (due + cfg.revision_delay_s, order, index, 0))
                pending_revisions[order] = (values, template)
                order += 1
            gap = rng.expovariate(1.0 / cfg.interval_s) if cfg.interval_s > 0 else 0.0
            heapq.heappush(heap, (due + gap, order, index, -1))
            order += 1

    def _build(self, t: _Template, values: Mapping[str, str]) -> FleetMessage:
        props: dict[str, Any] = {key: ([(k, _render(v, values)) for k, v in value] if key == "user"
                                       else _render(value, values) if isinstance(value, tuple) else value)
                                 for key, value in t.props.items()}
        return FleetMessage(_render(t.topic, values), _render(t.payload, values).encode("utf-8"), t.qos, t.retain,
                            props, t.kind, _render(t.ce_id, values) if t.ce_id is not None else None)

    def plan(self) -> list[FleetMessage]:
        """The first ``max_messages`` messages (kinds filtered), without sending anything."""
        out: list[FleetMessage] = []
        for _due, message in self.messages():
            if self.config.only and message.kind not in self.config.only:
                continue
            out.append(message)
            if len(out) >= self.config.max_messages:
                break
        return out

    # -- sending --------------------------------------------------------------------------------

    def run(self, url: str, protocol: str = "5", track_enriched: bool = False,
            ack_timeout_s: float = 30.0) -> FleetResult:
        """Publish until ``max_messages`` or ``duration_s``; then wait up to ``ack_timeout_s`` for PUBACKs."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        cfg = self.config
        v5 = protocol == "5"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-fleet-{cfg.run}-{cfg.seed}",
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311)
        client.max_inflight_messages_set(1000)
        result = FleetResult()
        acked = [0]
        lock = threading.Lock()

        def on_publish(_c: Any, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
            with lock:
                acked[0] += 1

        client.on_publish = on_publish
        host, port = _host_port(url)
        connected = threading.Event()
        client.on_connect = lambda *_a: connected.set()
        client.connect(host, port, keepalive=30)
        client.loop_start()
        try:
            if not connected.wait(10):
                raise ConnectionError(f"no CONNACK from {host}:{port} within 10 s")
            start = time.time()
            deadline = start + cfg.duration_s
            seen: set[str] = set()
            for due, message in self.messages():
                if self._stop.is_set() or result.messages >= cfg.max_messages:
                    break
                now = time.time()
                if now >= deadline:
                    break
                if due > now and (self._stop.wait(min(due, deadline) - now) or due >= deadline):
                    break
                if cfg.only and message.kind not in cfg.only:
                    continue
                if message.kind == "enriched" and message.ce_id is not None:
                    if message.ce_id in seen:
                        result.duplicates += 1
                    else:
                        seen.add(message.ce_id)
                        if track_enriched:
                            result.sent[message.ce_id] = time.time()
                        if message.ce_id.endswith("#customs/r1"):
                            result.passages += 1
                        else:
                            result.revisions += 1
                props = pack_properties(message.props) if v5 else None
                client.publish(message.topic, message.payload, message.qos, message.retain, props)
                result.messages += 1
                result.bytes += len(message.payload)
                result.by_kind[message.kind] += 1
            result.seconds = time.time() - start
            wait_until = time.monotonic() + ack_timeout_s
            while time.monotonic() < wait_until:
                with lock:
                    if acked[0] >= result.messages:
                        break
                time.sleep(0.01)
            result.acked = acked[0]
        finally:
            client.disconnect()
            client.loop_stop()
        return result


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker URL must look like mqtt://host:port, got {url!r}")
    return parts.hostname, parts.port or 1883


# -- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883", help="broker (default %(default)s)")
    parser.add_argument("--protocol", choices=("5", "3.1.1"), default="5")
    parser.add_argument("--posts", type=int, default=200, help="border posts, one gateway each (default 200)")
    parser.add_argument("--lanes", type=int, default=4, help="lanes per post (default 4)")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="mean seconds between passages of one lane (default 60; 0: as fast as possible)")
    parser.add_argument("--duration", type=float, default=30.0, help="stop after S seconds (default 30)")
    parser.add_argument("--max-messages", type=int, default=100_000, help="stop after N messages")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", default=None, help="run id in every passage id (default: from the clock)")
    parser.add_argument("--revision-share", type=float, default=0.0,
                        help="share of passages re-enriched (revision 2) a second later")
    parser.add_argument("--duplicate-share", type=float, default=0.0,
                        help="share of enriched records sent twice (same CloudEvents id)")
    parser.add_argument("--only", default="", help=f"comma-separated kinds to send ({', '.join(KINDS)})")


def main(args: argparse.Namespace) -> int:
    """Bad options raise ValueError, an unreachable broker OSError: the CLI makes them one line."""
    only = frozenset(k.strip() for k in args.only.split(",") if k.strip())
    config = FleetConfig(posts=args.posts, lanes=args.lanes, interval_s=args.interval,
                         duration_s=args.duration, max_messages=args.max_messages, seed=args.seed,
                         run=args.run or f"r{int(time.time()) % 100_000_000}",
                         revision_share=args.revision_share, duplicate_share=args.duplicate_share, only=only)
    _host_port(args.mqtt_url)
    fleet = Fleet(config)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: fleet.stop())
    print(f"publishing to {args.mqtt_url}: {config.posts} posts x {config.lanes} lanes", flush=True)
    result = fleet.run(args.mqtt_url, args.protocol)
    print(json.dumps({"fleet": result.summary()}), flush=True)
    return 0 if result.acked >= result.messages else 1


__all__ = ["KINDS", "Fleet", "FleetConfig", "FleetMessage", "FleetResult", "add_arguments", "main"]
