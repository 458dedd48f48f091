"""The pre-clearance simulator's I/O shell: paho in, PostgreSQL and decisions out, in two threads.

:class:`PreclearanceSimulator` (``start()`` / ``stop()``, in-process threads, so the demo can embed it):

* paho's network thread only parses (:func:`~simulators.preclearance.records.parse_enriched`) and queues;
* one worker thread takes what is queued in batches of up to ``batch_max``, stores the batch
  (:class:`~simulators.preclearance.store.CentralStore`, one transaction), acknowledges the MQTT messages
  after the commit (manual PUBACKs, in arrival order), runs the :class:`~simulators.preclearance.rules.Desk`
  on each record and publishes its decisions (after ``decision_delay_s``), and decides the pre-lodged
  declarations at start-up and every ``rescan_s``.

MQTT 5 shared subscription ``$share/{group}/{base}/customs/+/+/enriched/+``: every member of the group
gets a share of the messages.  ``receive_maximum`` bounds what the broker sends a member before its
PUBACKs (and so what a crash can leave to redeliver).  With a stable ``client_id`` and
``session_expiry_s`` a restarted member gets back the messages queued for it while it was away.

On NATS (``nats_url``; its MQTT listener has no shared subscriptions) the intake is a JetStream durable
pull consumer the members share instead (:mod:`~simulators.preclearance.nats_intake`); the worker, the
store and the rules are the same, the acknowledgements go to JetStream after the commit, and decisions
(when deciding) still go out over MQTT to ``mqtt_url`` (NATS's listener: ``protocol="3.1.1"``).
"""

from __future__ import annotations

import collections
import heapq
import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from gateway.decisions.model import Decision, DecisionTopics
from gateway.enrichment.declaration import Declaration
from simulators.preclearance.nats_intake import NatsIntake, NatsSettings, topic_filter_to_subject
from simulators.preclearance.records import ENRICHED_FILTER, BadRecord, EnrichedRecord, parse_enriched
from simulators.preclearance.rules import Desk, Rules
from simulators.preclearance.store import DEFAULT_SCHEMA, CentralStore, Received, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreclearanceConfig:
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    base_topic: str = "bx/v1"
    group: str = "preclearance"  # shared-subscription group
    protocol: Literal["5", "3.1.1"] = "5"  # 3.1.1 has no shared subscriptions: one member only
    client_id: str | None = None  # default: bx-preclearance-{group}-{pid}
    session_expiry_s: int = 0  # > 0 with a stable client_id: queued messages survive a restart
    receive_maximum: int = 1000
    rules: Rules = field(default_factory=Rules)
    decide: bool = True  # False: store only
    declarations: tuple[Path, ...] = ()  # pre-lodged declaration files (JSON, JSON Lines, CSV)
    rescan_s: float | None = None  # read them again this often (new or amended declarations)
    defer: frozenset[str] = frozenset()  # MRNs decided only after their passage
    defer_share: float = 0.0  # a seeded share of the others, too
    prelodged_to: tuple[tuple[str, str], ...] = ()  # (site, gateway) intakes; default: the office topic
    office: str | None = None  # with via_office: post-passage decisions go to this office's topic
    via_office: bool = False
    decision_delay_s: float = 0.0  # central processing time before a post-passage decision is sent
    store_dsn: str | None = None
    store_schema: str = DEFAULT_SCHEMA
    batch_max: int = 500
    nats_url: str | None = None  # nats://host:port[,nats://...]: JetStream intake instead of MQTT
    nats_stream: str = "BX_ENRICHED"
    nats_replicas: int = 1  # 3 in a cluster
    ack_wait_s: float = 30.0  # JetStream: what a member took and did not acknowledge is redelivered after this

    def __post_init__(self) -> None:
        if self.nats_url is not None:
            for server in self.nats_url.split(","):
                if urlsplit(server).scheme not in ("nats", "tls") or not urlsplit(server).hostname:
                    raise ValueError(f"NATS URL must look like nats://host:port, got {server!r}")
            if not self.nats_stream or any(c in self.nats_stream for c in ". *>/\\"):
                raise ValueError(f"stream name {self.nats_stream!r}: not empty, no '.', '*', '>', '/' or spaces")
            if not 1 <= self.nats_replicas <= 5:
                raise ValueError("nats_replicas is between 1 and 5")
            if self.ack_wait_s <= 0:
                raise ValueError("ack_wait_s must be positive")
        if urlsplit(self.mqtt_url).scheme not in ("mqtt", "tcp") or not urlsplit(self.mqtt_url).hostname:
            raise ValueError(f"broker URL must look like mqtt://host:port, got {self.mqtt_url!r}")
        if not self.group or any(c in self.group for c in "/+#"):
            raise ValueError(f"group {self.group!r}: not empty, no '/', '+' or '#'")
        if self.via_office and not self.office:
            raise ValueError("via_office needs an office (e.g. DE004056)")
        if not 0.0 <= self.defer_share <= 1.0:
            raise ValueError("defer_share is a share between 0 and 1")

    @property
    def topic_filter(self) -> str:
        plain = ENRICHED_FILTER.format(base=self.base_topic)
        if self.nats_url is not None:
            return f"{topic_filter_to_subject(plain)} (JetStream {self.nats_stream}, consumer {self.group})"
        return f"$share/{self.group}/{plain}" if self.protocol == "5" else plain

    @property
    def source_url(self) -> str:
        return self.nats_url or self.mqtt_url


@dataclass(frozen=True, slots=True)
class _Item:
    mid: int
    qos: int
    received_at: float
    record: EnrichedRecord | None
    error: BadRecord | None = None
    connection: int = 0  # a PUBACK only makes sense on the connection the message came on
    nats_msg: Any = None  # JetStream: the message to acknowledge after the commit


class PreclearanceSimulator:
    """The central side of the loop for tests, the demo and ``simulate preclearance``."""

    def __init__(self, config: PreclearanceConfig) -> None:
        self.config = config
        self.desk = Desk(config.rules)
        self.stats: Counter[str] = Counter()
        self.ready = threading.Event()  # set once the subscription is granted and pre-lodged ones are out
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._stop = threading.Event()
        self._due: list[tuple[float, int, str, Decision]] = []  # (due, seq, topic, decision)
        self._seq = 0
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._client: Any = None
        self._subscribed = threading.Event()
        self._connection = 0
        self._nats: NatsIntake | None = None
        self.store: CentralStore | None = None
        # (topic, decision) of the latest decisions sent, for tests and the demo's console
        self.published: collections.deque[tuple[str, Decision]] = collections.deque(maxlen=10_000)
        self.client_id = config.client_id or f"bx-preclearance-{config.group}-{os.getpid()}-{id(self) % 10_000}"

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Connect, subscribe, decide the pre-lodged declarations; returns once subscribed (or raises)."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        cfg = self.config
        if cfg.store_dsn:
            self.store = CentralStore(cfg.store_dsn, cfg.store_schema, consumer=self.client_id)
        if cfg.nats_url is not None:
            self._start_nats(timeout)
            return
        v5 = cfg.protocol == "5"
        if not v5:
            log.warning("MQTT 3.1.1 has no shared subscriptions: run one member only (%s)", cfg.topic_filter)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, manual_ack=True,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                             clean_session=None if v5 else cfg.session_expiry_s == 0)
        client.reconnect_delay_set(1, 5)
        client.max_inflight_messages_set(200)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        parts = urlsplit(cfg.mqtt_url)
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.ReceiveMaximum = cfg.receive_maximum
            if cfg.session_expiry_s:
                props.SessionExpiryInterval = cfg.session_expiry_s
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="bx-preclearance", daemon=True)
        try:
            client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30,
                           clean_start=cfg.session_expiry_s == 0 if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                           properties=props)
        except OSError as exc:
            self._close_store()
            raise ConnectionError(f"cannot connect to {cfg.mqtt_url}: {exc}") from None
        client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise ConnectionError(f"no subscription granted by {cfg.mqtt_url} within {timeout} s")
        self._prelodged()  # before the worker starts: the desk is the worker's alone from then on
        self._worker.start()
        self.ready.set()

    def _start_nats(self, timeout: float) -> None:
        """JetStream intake; an MQTT client only to send decisions (none when storing only)."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        cfg = self.config
        assert cfg.nats_url is not None
        self._nats = NatsIntake(NatsSettings(
            servers=tuple(cfg.nats_url.split(",")), subject=topic_filter_to_subject(ENRICHED_FILTER.format(
                base=cfg.base_topic)), stream=cfg.nats_stream, durable=cfg.group, replicas=cfg.nats_replicas,
            ack_wait_s=cfg.ack_wait_s, fetch_batch=min(cfg.batch_max, 200), backlog_max=cfg.receive_maximum),
            self._on_nats_message, self._queue.qsize)
        if cfg.decide:
            v5 = cfg.protocol == "5"
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                 protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311)
            client.reconnect_delay_set(1, 5)
            parts = urlsplit(cfg.mqtt_url)
            try:
                client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30)
            except OSError as exc:
                self._close_store()
                raise ConnectionError(f"cannot connect to {cfg.mqtt_url}: {exc}") from None
            client.loop_start()
            self._client = client
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="bx-preclearance", daemon=True)
        try:
            self._nats.start(max(timeout, 60.0))  # JetStream may be electing leaders or busy
        except ConnectionError:
            self.stop()
            raise
        self._subscribed.set()
        self._prelodged()
        self._worker.start()
        self.ready.set()

    def stop(self) -> None:
        """Finish what is queued (stored, acknowledged, decided), then disconnect."""
        if self._nats is not None:
            self._nats.stop_fetching()  # nothing new; what was fetched is stored and acknowledged below
        self._stop.set()
        if self._worker is not None and self._worker.is_alive():
            self._worker.join(30)
        if self._nats is not None:
            self._nats.close()
            self._nats = None
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self._close_store()

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- paho's thread ---------------------------------------------------------------------------

    def _on_connect(self, client: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the connection: %s", reason)
            return
        self._connection += 1  # messages of an earlier connection are redelivered, not acknowledged
        client.subscribe(self.config.topic_filter, qos=1)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        if all(not getattr(r, "is_failure", False) for r in reasons):
            self._subscribed.set()
        else:
            log.error("subscription to %s refused: %s", self.config.topic_filter, reasons)

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        now, connection = time.time(), self._connection
        try:
            record = parse_enriched(message.topic, message.payload, self.config.base_topic)
        except BadRecord as exc:
            self._queue.put(_Item(message.mid, message.qos, now, None, exc, connection))
            return
        self._queue.put(_Item(message.mid, message.qos, now, record, None, connection))

    def _on_nats_message(self, topic: str, payload: bytes, handle: Any) -> None:
        message, now = handle
        try:
            record = parse_enriched(topic, payload, self.config.base_topic)
        except BadRecord as exc:
            self._queue.put(_Item(0, 0, now, None, exc, nats_msg=message))
            return
        self._queue.put(_Item(0, 0, now, record, None, nats_msg=message))

    # -- the worker ---------------------------------------------------------------------------

    def _work(self) -> None:
        next_scan = time.monotonic() + (self.config.rescan_s or 0.0)
        while True:
            try:
                first = self._queue.get(timeout=0.05)
            except queue.Empty:
                first = None
            batch = [first] if first is not None else []
            while len(batch) < self.config.batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch:
                try:
                    self._handle(batch)
                except Exception:  # a bug must not stop the consumer: the batch stays unacknowledged
                    log.exception("could not handle %d messages", len(batch))
            self._publish_due()
            if self.config.rescan_s and time.monotonic() >= next_scan:
                next_scan = time.monotonic() + self.config.rescan_s
                self._prelodged()
            if self._stop.is_set() and self._queue.empty():
                self._publish_due(flush=True)
                return

    def _handle(self, batch: list[_Item]) -> None:
        good = [item for item in batch if item.record is not None]
        for item in batch:
            if item.error is not None:
                with self._lock:
                    self.stats["rejected"] += 1
                log.warning("not an enriched record, skipped: %s", item.error)
        if self.store is not None and good:
            outcome = self._store([Received(i.record, i.received_at) for i in good if i.record is not None])
            with self._lock:
                self.stats["stored"] += outcome.stored
                self.stats["duplicates"] += outcome.duplicates
                self.stats["rejected"] += len(outcome.rejected)
        for item in batch:  # after the commit, in arrival order
            if item.qos and item.connection == self._connection:
                self._client.ack(item.mid, item.qos)
        if self._nats is not None:
            self._nats.ack([item.nats_msg for item in batch if item.nats_msg is not None])
        with self._lock:
            self.stats["received"] += len(batch)
            self.stats["batches"] += 1
        if not self.config.decide:
            return
        now = datetime.now(UTC)
        for item in good:
            assert item.record is not None
            for decision in self.desk.after_passage(item.record, now):
                self._schedule(self._post_passage_topic(item.record, decision), decision,
                               self.config.decision_delay_s)

    def _store(self, received: list[Received]) -> Any:
        """Store, retrying while PostgreSQL is away (the messages stay unacknowledged meanwhile)."""
        import psycopg

        assert self.store is not None
        delay = 0.2
        while True:
            try:
                return self.store.store(received)
            except psycopg.OperationalError as exc:
                log.error("PostgreSQL unavailable (%s): retrying in %.1f s", str(exc).strip()[:120], delay)
                if self._stop.wait(delay) and delay > 2:
                    raise
                delay = min(delay * 2, 5.0)
                try:
                    self.store.reconnect()
                except StoreError as again:
                    log.error("%s", again)

    # -- decisions ----------------------------------------------------------------------------------

    def _prelodged(self) -> None:
        if not self.config.decide or not self.config.declarations:
            return
        now = datetime.now(UTC)
        for declaration in self._read_declarations():
            mrn = declaration.mrn
            if mrn in self.config.defer or self.config.rules.draw("defer", mrn) < self.config.defer_share:
                continue
            for decision in self.desk.before_arrival(declaration, now):
                for topic in self._prelodged_topics(decision):
                    self._schedule(topic, decision, 0.0)
        self._publish_due()

    def _read_declarations(self) -> Iterable[Declaration]:
        from gateway.enrichment.importer import read_records, validation_errors

        for path in self.config.declarations:
            try:
                records = read_records(Path(path))
            except (OSError, ValueError) as exc:
                log.error("cannot read declarations %s: %s", path, exc)
                continue
            for row, record in enumerate(records, start=1):
                try:
                    yield Declaration.model_validate(record)
                except ValidationError as exc:
                    where = "; ".join(f"{p}: {m}" for p, m in validation_errors(exc)[:3])
                    log.warning("%s: row %d is not a declaration (%s): skipped", path, row, where)

    def _prelodged_topics(self, decision: Decision) -> list[str]:
        cfg = self.config
        if cfg.prelodged_to:
            return [DecisionTopics(cfg.base_topic, site, gw).intake for site, gw in cfg.prelodged_to]
        if decision.office:
            return [DecisionTopics(cfg.base_topic, "-", "-").office_intake(decision.office)]
        log.warning("pre-arrival decision %s: the declaration names no office and no gateway is configured",
                    decision.decision_id)
        return []

    def _post_passage_topic(self, record: EnrichedRecord, decision: Decision) -> str:
        cfg = self.config
        if cfg.via_office and cfg.office:
            return DecisionTopics(cfg.base_topic, record.site, record.gateway).office_intake(cfg.office)
        return DecisionTopics(cfg.base_topic, record.site, record.gateway).intake

    def _schedule(self, topic: str, decision: Decision, delay: float) -> None:
        if self.config.via_office and self.config.office and decision.office is None and "/office/" in topic:
            decision = decision.model_copy(update={"office": self.config.office})
        with self._lock:
            self._seq += 1
            heapq.heappush(self._due, (time.monotonic() + delay, self._seq, topic, decision))

    def _publish_due(self, flush: bool = False) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        sent: list[tuple[str, Decision]] = []
        now = time.monotonic()
        with self._lock:
            while self._due and (flush or self._due[0][0] <= now):
                _due, _seq, topic, decision = heapq.heappop(self._due)
                sent.append((topic, decision))
        if not sent:
            return
        for topic, decision in sent:
            props = None
            if self.config.protocol == "5":
                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                props.ContentType = "application/json"
                props.UserProperty = [("schema", "bx.decision.v1")]
            payload = decision.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")
            self._client.publish(topic, payload, qos=1, retain=False, properties=props)
        with self._lock:
            self.stats["decisions"] += len(sent)
            self.published.extend(sent)
        if self.store is not None:
            try:
                self.store.record_decisions(sent)
            except Exception:
                log.exception("could not record %d decisions", len(sent))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.stats)
