"""The broker connection: paho-mqtt 2.x, MQTT 5 with a 3.1.1 fallback, TLS, birth and Last Will.

:class:`MqttLink` owns one paho client running its own network thread.  It connects in the
background and reconnects with exponential backoff (``reconnect_min_s`` doubling up to
``reconnect_max_s``); while it is down, publications already handed to paho are kept and
re-sent with DUP after reconnecting, and the outbox keeps everything else.

* Last Will: retained ``{"state":"offline","reason":"lwt"}`` on the status topic, QoS 1, with an
  MQTT 5 Will Delay so a short reconnect does not flap; after every CONNACK the retained birth
  ``{"state":"online",...}`` replaces it; :meth:`stop` publishes ``offline`` itself before a clean
  DISCONNECT (which cancels the Will).
* MQTT 5 properties per message (:func:`publish_properties`): content type, payload format
  indicator 1 (UTF-8), message expiry, user properties (``schema``, ``audience``, ``gw`` ...),
  correlation data and response topic.  Under 3.1.1 they are simply not sent: the payload is
  self-describing (structured CloudEvents).
* Inbound subscriptions use a persistent session (clean start false + session expiry, or
  clean session false under 3.1.1) so queued messages arrive after an outage.  A SUBSCRIBE the
  broker denies is sent again with backoff (NATS denies QoS 1 subscriptions while JetStream is short
  of a node, and grants them seconds later).
* ``protocol: auto`` tries MQTT 5 first and falls back to 3.1.1 when the broker refuses the
  protocol version (CONNACK 0x01 / reason 132; NATS 2.9 does).
* Failover (``mqtt.urls``): when a connection attempt fails, or the connection is lost, the next
  attempt goes to the next broker of the list (cyclically), after paho's backoff; the link stays on
  whichever broker answers.  paho keeps the unacknowledged QoS 1 publications and re-sends them to the
  new broker, and the outbox keeps the rest, so nothing is lost; a consumer may see a message twice
  (same CloudEvents id) when the old broker had it but its PUBACK was lost.
* Every failure is logged once per change (per broker: a broker that keeps failing the same way is
  not logged again until it worked in between), with the broker address and the cause in words
  (:func:`describe_error`: a TLS handshake failure says so), and :meth:`MqttLink.connection` puts the
  broker in use and the other brokers' failures in the retained status.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config.mqtt import BrokerAddress, MqttConfig
from gateway.publishing.epcis import format_time
from gateway.publishing.payloads import BrokerError, FailureReason, MqttConnection
from gateway.publishing.redact import safe_detail

log = logging.getLogger(__name__)

MessageHandler = Callable[["InboundMessage"], None]
_UNSUPPORTED_PROTOCOL = (1, 132)
# CONNACK refusals of the credentials: 3.1.1 return codes 4 and 5 (paho maps them to 134 and 135) and the
# MQTT 5 reason codes 134 (bad user name or password), 135 (not authorized), 140 (bad authentication method)
_CREDENTIALS = (4, 5, 134, 135, 140)


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None


def publish_properties(props: Mapping[str, Any]) -> Properties:
    """MQTT 5 PUBLISH properties from the stored form ``{"content_type", "expiry", "user", ...}``."""
    p = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if props.get("content_type"):
        p.ContentType = str(props["content_type"])
    if props.get("utf8", True):
        p.PayloadFormatIndicator = 1
    if props.get("expiry"):
        p.MessageExpiryInterval = int(props["expiry"])
    if props.get("user"):
        p.UserProperty = [(str(k), str(v)) for k, v in props["user"]]
    if props.get("correlation") is not None:
        p.CorrelationData = str(props["correlation"]).encode("utf-8")
    if props.get("response_topic"):
        p.ResponseTopic = str(props["response_topic"])
    return p


def _utf8(value: object) -> bytes:
    data = str(value).encode("utf-8")
    return len(data).to_bytes(2, "big") + data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def pack_publish_properties(props: Mapping[str, Any]) -> bytes:
    """The wire bytes of :func:`publish_properties` (property length + properties, in paho's order).

    paho's ``Properties`` validates and encodes attribute by attribute (about 90 us for our usual set,
    more than the rest of a publish); this encodes the same bytes directly (a test compares both).

    >>> pack_publish_properties({"content_type": "a/b", "expiry": 60})
    b'\\r\\x01\\x01\\x02\\x00\\x00\\x00<\\x03\\x00\\x03a/b'
    """
    out = bytearray()
    if props.get("utf8", True):
        out += b"\x01\x01"
    if props.get("expiry"):
        out += b"\x02" + int(props["expiry"]).to_bytes(4, "big")
    if props.get("content_type"):
        out += b"\x03" + _utf8(props["content_type"])
    if props.get("response_topic"):
        out += b"\x08" + _utf8(props["response_topic"])
    if props.get("correlation") is not None:
        out += b"\x09" + _utf8(props["correlation"])  # binary data: same length-prefixed form
    for key, value in props.get("user") or ():
        out += b"\x26" + _utf8(key) + _utf8(value)
    return _varint(len(out)) + bytes(out)


class PackedProperties(Properties):
    """PUBLISH properties already encoded by :func:`pack_publish_properties`.

    paho only calls ``pack()`` on an outgoing PUBLISH's properties (also when it re-sends after a
    reconnect), so skipping paho's per-object tables is safe and saves most of the cost.
    """

    def __init__(self, packed: bytes) -> None:  # no super().__init__(): it builds tables we never use
        self.__dict__["packetType"] = PacketTypes.PUBLISH
        self.__dict__["packed"] = packed

    def pack(self) -> bytes:
        return bytes(self.__dict__["packed"])

    def __str__(self) -> str:
        return f"[packed {len(self.__dict__['packed'])} bytes]"

    def isEmpty(self) -> bool:
        return bool(self.__dict__["packed"] == b"\x00")


def describe_error(exc: BaseException | None) -> str:
    """Why a connection attempt failed, in words for the log and the retained status.

    >>> describe_error(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    >>> bad_ca = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    >>> bad_ca.reason, bad_ca.verify_message = "CERTIFICATE_VERIFY_FAILED", "unable to get local issuer certificate"
    >>> describe_error(bad_ca)
    'TLS handshake failed: certificate not trusted (unable to get local issuer certificate)'
    """
    if exc is None:
        return "connection failed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS handshake failed: certificate not trusted ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return f"{type(exc).__name__}: {exc}"


def failure_reason(cause: BaseException | ReasonCode | None) -> FailureReason:
    """The kind of a connection failure, one word for the status and the dashboard: ``credentials``,
    ``tls``, ``unreachable``, ``refused`` (another CONNACK refusal) or ``error``.

    >>> failure_reason(ConnectionRefusedError(111, "Connection refused"))
    'unreachable'
    >>> failure_reason(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"))
    'tls'
    >>> failure_reason(ReasonCode(PacketTypes.CONNACK, identifier=134))  # MQTT 5, or 3.1.1 rc 4
    'credentials'
    >>> failure_reason(ReasonCode(PacketTypes.CONNACK, identifier=136))  # server unavailable
    'refused'
    """
    if isinstance(cause, ReasonCode):
        return "credentials" if cause.value in _CREDENTIALS else "refused"
    if isinstance(cause, ssl.SSLError):
        return "tls"
    if isinstance(cause, (ConnectionRefusedError, TimeoutError, socket.gaierror)):
        return "unreachable"
    if isinstance(cause, OSError) and cause.errno in _UNREACHABLE_ERRNO:
        return "unreachable"
    return "error"


_UNREACHABLE_ERRNO = {getattr(errno, name) for name in (
    "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EHOSTDOWN", "ENETDOWN", "EADDRNOTAVAIL")
    if hasattr(errno, name)}


class MqttLink:
    """One broker session (on one broker of the list at a time).  ``on_ack(mid, ok)`` is called from
    paho's thread for each PUBACK."""

    def __init__(self, cfg: MqttConfig, client_id: str, *, will: Will | None = None,
                 birth: Callable[[], tuple[str, bytes]] | None = None,
                 on_connected: Callable[[], None] | None = None,
                 on_ack: Callable[[int, bool], None] | None = None, max_inflight: int = 20) -> None:
        self.cfg = cfg
        self.max_inflight = max_inflight
        self.client_id = client_id
        self.will = will
        self.birth = birth
        self.on_connected = on_connected
        self.on_ack = on_ack
        self.protocol: str = "3.1.1" if cfg.protocol == "3.1.1" else "5"
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker granted the last SUBSCRIBE since connecting
        self.connects = 0
        self.last_error: str | None = None
        self.last_reason: FailureReason | None = None  # the kind of the last failure (failure_reason)
        self.down_since: float | None = time.time()  # not connected since (epoch seconds; None: connected)
        self.brokers: tuple[BrokerAddress, ...] = cfg.brokers
        self.failovers = 0
        self.failures = 0  # failed connection attempts and lost connections, every broker together
        self._index = 0  # the broker in use, or tried next
        self._connected_index: int | None = None  # the broker of the last successful connection
        self._since: str | None = None  # connected to the current broker since (None: not connected)
        self._errors: dict[int, tuple[str, str, FailureReason]] = {}  # broker index -> (failure, since, reason)
        self._falling_back = False  # the MQTT 5 -> 3.1.1 switch is under way: a disconnect is not a failure
        self._refused = False  # the broker refused the last CONNECT (already noted as a failure)
        self._resubscribe_s: float | None = None  # delay before retrying a denied SUBSCRIBE (None: none denied)
        self._handlers: dict[str, tuple[int, MessageHandler]] = {}
        self._lock = threading.RLock()
        # The birth and ``connected`` change together under this lock, and publish_state() checks ``connected``
        # under it: a retained state set while a CONNACK is being handled is in the birth or published after it.
        self._state_lock = threading.Lock()
        self._stopping = False
        self._client = self._make_client()

    # -- lifecycle -----------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        v5 = self.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
        )
        cfg = self.cfg
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else None)
        if cfg.uses_tls:
            tls = cfg.tls
            client.tls_set(ca_certs=str(tls.ca) if tls and tls.ca else None,
                           certfile=str(tls.cert) if tls and tls.cert else None,
                           keyfile=str(tls.key) if tls and tls.key else None,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            if tls and tls.insecure_skip_verify:
                client.tls_insecure_set(True)
        if self.will is not None:
            will_props = None
            if v5 and cfg.will_delay_s:
                will_props = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
                will_props.WillDelayInterval = cfg.will_delay_s
                will_props.ContentType = "application/json"
                will_props.PayloadFormatIndicator = 1
            client.will_set(self.will.topic, self.will.payload, qos=self.will.qos, retain=self.will.retain,
                            properties=will_props)
        # The outbox bounds what is handed over; paho keeps the rest queued (never refused) and
        # sends at most ``max_inflight`` unacknowledged PUBLISHes at a time.
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(max(1, int(cfg.reconnect_min_s)), max(1, int(cfg.reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background (retrying, broker after broker, until one answers)."""
        self._stopping = False
        self._target(self._client)
        self._client.loop_start()

    def _target(self, client: mqtt.Client) -> None:
        """Point ``client`` at the current broker; paho's loop connects there on its next attempt.

        ``connect_async`` is paho's public way to change the address of a client that is not
        connected: it works from paho's own callbacks too, where the failover happens.
        """
        props = None
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.cfg.session_expiry_s
        broker = self.broker
        client.connect_async(broker.host, broker.port, keepalive=self.cfg.keepalive_s,
                             clean_start=False if self.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                             properties=props)

    @property
    def broker(self) -> BrokerAddress:
        """The broker in use (or the one the next attempt goes to)."""
        return self.brokers[self._index]

    def connection(self) -> MqttConnection | None:
        """The broker in use and the other brokers' failures, for the retained status (None: offline)."""
        with self._lock:
            if self._since is None:
                return None
            errors = {self.brokers[i].url: BrokerError(error=error, since=since, reason=reason)
                      for i, (error, since, reason) in sorted(self._errors.items())}
            return MqttConnection(broker=self.broker.url, index=self._index, protocol=self.protocol,
                                  since=self._since, failovers=self.failovers, errors=errors or None)

    def stop(self, offline: bytes | None = None, timeout: float = 5.0) -> None:
        """Graceful stop: publish ``offline`` (retained) on the Will topic, then DISCONNECT."""
        with self._lock:  # a fallback in progress then leaves the client alone
            self._stopping = True
        if offline is not None and self.will is not None and self.connected.is_set():
            info = self._client.publish(self.will.topic, offline, qos=1, retain=True,
                                        properties=self._json_props() if self.protocol == "5" else None)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                log.warning("could not publish offline status before disconnecting")
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    def _json_props(self) -> Properties:
        return publish_properties({"content_type": "application/json"})

    # -- paho callbacks (network thread) ------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Properties | None) -> None:
        if reason.is_failure:
            if self.cfg.protocol == "auto" and self.protocol == "5" and reason.value in _UNSUPPORTED_PROTOCOL:
                # Decided here, in paho's thread, so that another refusal before the switch starts no
                # second fallback; the switch itself must run elsewhere (loop_stop joins this thread).
                log.warning("MQTT %s: connect to %s refused: %s", self.client_id, self.broker.url, reason)
                self.protocol = "3.1.1"
                self._falling_back = True
                threading.Thread(target=self._fall_back, args=(client,), name="mqtt-fallback", daemon=True).start()
                return
            self._refused = True  # paho closes the connection next: _on_disconnect moves on
            self._failed(f"connection refused by the broker: {reason}", failure_reason(reason))
            return
        self.connects += 1
        self.last_error = self.last_reason = self.down_since = None
        with self._lock:
            if self._connected_index is not None and self._connected_index != self._index:
                self.failovers += 1
            self._connected_index = self._index
            self._errors.pop(self._index, None)
            self._since = format_time(time.time())
        log.info("MQTT %s: %s connected to %s (session present: %s)", self.client_id, self.protocol,
                 self.broker.url, getattr(flags, "session_present", None))
        with self._state_lock:
            if self.birth is not None and self.will is not None:
                topic, payload = self.birth()
                client.publish(topic, payload, qos=1, retain=True,
                               properties=self._json_props() if self.protocol == "5" else None)
            self.connected.set()
        with self._lock:
            subscriptions = [(f, qos) for f, (qos, _) in self._handlers.items()]
        if subscriptions:
            client.subscribe(subscriptions)  # all in one SUBSCRIBE: one SUBACK sets ``subscribed``
        if self.on_connected is not None:
            self.on_connected()

    def _fall_back(self, old: mqtt.Client) -> None:
        """Replace the MQTT 5 client by a 3.1.1 one (same id, Will, subscriptions) and connect again.

        Under 3.1.1 nothing changes for the consumers but the MQTT 5 properties: publications carry
        no user properties, content type, expiry or correlation data (the payloads are self-describing
        CloudEvents JSON), the Will has no delay, command replies put ``correlationId`` in the body,
        and the persistent session is ``clean session = false``.
        """
        log.warning("MQTT %s: broker %s refused MQTT 5: falling back to MQTT 3.1.1", self.client_id,
                    self.broker.url)
        old.loop_stop()
        with self._lock:
            if self._stopping:
                return
            self._client = self._make_client()
            self._falling_back = False
        self.start()  # the same broker, which answered

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Properties | None) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if self.down_since is None:
            self.down_since = time.time()
        with self._lock:
            was_connected, self._since = self._since is not None, None
            refused, self._refused = self._refused, False
        if self._stopping or self._falling_back or client is not self._client:
            return
        if was_connected:
            self._failed(f"connection lost ({reason})", "lost")
        elif not refused:  # TCP (and TLS) up, then closed before any CONNACK
            self._failed(f"connection closed before CONNACK ({reason})", "closed")
        self._next_broker(client)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this from inside its ``except OSError`` around the TCP connect and the TLS
        # handshake, and passes no exception: the one being handled is the cause.
        cause = sys.exc_info()[1]
        self._failed(describe_error(cause), failure_reason(cause))
        if not self._stopping and client is self._client:
            self._next_broker(client)

    def _failed(self, error: str, reason: FailureReason = "error") -> None:
        """Note why the current broker failed; log it unless it failed the same way last time."""
        error = safe_detail(error) or "connection failed"
        self.failures += 1
        self.last_reason = reason
        with self._lock:
            index = self._index
            previous = self._errors.get(index)
            if previous is not None and previous[0] == error:
                self.last_error = error
                return
            self._errors[index] = (error, format_time(time.time()), reason)
        self.last_error = error
        then = "trying the next broker" if len(self.brokers) > 1 else "retrying with backoff"
        log.log(logging.ERROR if error.startswith("TLS") else logging.WARNING, "MQTT %s: broker %s: %s; %s",
                self.client_id, self.brokers[index].url, error, then)

    def _next_broker(self, client: mqtt.Client) -> None:
        """Aim the next attempt (after paho's backoff) at the next broker of the list."""
        if len(self.brokers) == 1:
            return  # paho retries the same address by itself
        with self._lock:
            self._index = (self._index + 1) % len(self.brokers)
        self._target(client)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode],
                      properties: Properties | None) -> None:
        if client is not self._client or self._stopping:
            return
        if not any(code.is_failure for code in codes):
            self._resubscribe_s = None
            self.subscribed.set()
            return
        with self._lock:
            first = self._resubscribe_s is None
            delay = self._resubscribe_s = (max(1.0, self.cfg.reconnect_min_s) if first else
                                           min(2 * (self._resubscribe_s or 1.0), self.cfg.reconnect_max_s))
        if first:  # logged once until a SUBSCRIBE is granted again
            denied = ", ".join(str(code) for code in codes if code.is_failure)
            log.warning("MQTT %s: broker %s denied a subscription (%s); retrying with backoff", self.client_id,
                        self.broker.url, denied)
        timer = threading.Timer(delay, self._resubscribe, args=(client,))
        timer.daemon = True
        timer.start()

    def _resubscribe(self, client: mqtt.Client) -> None:
        if client is not self._client or self._stopping or not self.connected.is_set():
            return  # a reconnect subscribes everything anyway
        with self._lock:
            subscriptions = [(f, qos) for f, (qos, _) in self._handlers.items()]
        if subscriptions:
            client.subscribe(subscriptions)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Properties | None) -> None:
        if self.on_ack is not None:
            self.on_ack(mid, not reason.is_failure)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        props = getattr(message, "properties", None)
        inbound = InboundMessage(
            topic=message.topic, payload=bytes(message.payload), qos=message.qos, retain=bool(message.retain),
            response_topic=getattr(props, "ResponseTopic", None),
            correlation_data=getattr(props, "CorrelationData", None),
            user_properties=tuple(getattr(props, "UserProperty", ()) or ()),
            content_type=getattr(props, "ContentType", None),
        )
        with self._lock:
            handlers = [h for f, (_, h) in self._handlers.items() if mqtt.topic_matches_sub(f, message.topic)]
        for handler in handlers:
            try:
                handler(inbound)
            except Exception:
                log.exception("handler for %s failed", message.topic)

    # -- API -----------------------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, props: Mapping[str, Any]) -> int:
        """Hand one message to paho; returns its mid (acknowledged later through ``on_ack``)."""
        properties = PackedProperties(pack_publish_properties(props)) if self.protocol == "5" else None
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_QUEUE_SIZE):
            raise RuntimeError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        return int(info.mid)

    def publish_state(self, topic: str, payload: bytes, props: Mapping[str, Any]) -> bool:
        """Publish a retained state (QoS 1) now if connected; else the birth after the next CONNACK carries it.

        Set the state the birth reads *before* calling this: the check and the birth exclude each other, so a
        state changed while a connection comes up is either in its birth or published here, never lost.
        Returns whether it was handed to paho."""
        with self._state_lock:
            if not self.connected.is_set():
                return False
            self.publish(topic, payload, 1, True, props)
            return True

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1) -> None:
        """Subscribe now (if connected) and after every reconnect."""
        with self._lock:
            self._handlers[topic_filter] = (qos, handler)
        if self.connected.is_set():
            self.subscribed.clear()
            self._client.subscribe(topic_filter, qos=qos)
