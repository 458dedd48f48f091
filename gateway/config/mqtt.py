"""``mqtt:`` section: the broker connection used for publishing and intake.

One broker (``url``) or an ordered failover list (``urls``); :attr:`MqttConfig.brokers` is the list
either way, in the order the gateway tries them:

>>> [b.url for b in MqttConfig(urls=["mqtt://a:1883", "mqtt://user:pw@b"]).brokers]
['mqtt://a:1883', 'mqtt://b:1883']
>>> MqttConfig(url="mqtts://c").brokers[0].port
8883
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from gateway.config.common import Section, check_topic_segment


class MqttTls(Section):
    ca: Path | None = Field(None, description="CA certificate (PEM) that signed the broker's certificate")
    cert: Path | None = Field(None, description="client certificate (PEM) for mutual TLS")
    key: Path | None = Field(None, description="client private key (PEM)")
    insecure_skip_verify: bool = Field(False, description="do not check the broker's host name (tests only)")

    @model_validator(mode="after")
    def _pair(self) -> MqttTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls.cert and tls.key go together")
        return self


BizStepName = Literal["arriving", "inspecting", "sampling", "holding", "departing"]


class MqttExpiry(Section):
    """MQTT 5 message expiry per topic class, seconds (0 = never expires)."""

    lane_state_s: int = Field(300, ge=0, description="retained lane state: a dead lane must not show a stale vehicle")
    ops_s: int = Field(600, ge=0, description="passage lifecycle events")
    customs_s: int = Field(259_200, ge=0, description="observations and enriched records (72 h)")
    flag_s: int = Field(86_400, ge=0, description="flags for alerting")
    agency_s: int = Field(259_200, ge=0, description="SPS/CITES referrals")
    command_s: int = Field(60, ge=0, description="command responses")


class OutboxConfig(Section):
    """Durable outbox: every message is on disk before it is published."""

    path: Path | None = Field(None, description="SQLite file (default: {storage.path}/outbox.sqlite)")
    max_messages: int = Field(200_000, ge=10, description="bound on queued messages")
    max_age_s: int = Field(7 * 86_400, ge=60, description="queued messages older than this are expired")
    when_full: Literal["drop_oldest", "reject_new"] = Field(
        "drop_oldest", description="policy when max_messages is reached: evict the oldest message, or refuse "
        "the new one (the caller gets OutboxFull). Either way: a metric, a status event and a log line")
    durability: Literal["call", "group"] = Field(
        "call", description="call: each publishing call returns with its messages committed; group: calls queue "
        "and the sender thread commits them together (less CPU per message; a SIGKILL loses the last few "
        "milliseconds of calls that had returned)")


class EpcisSettings(Section):
    """How lane passages become EPCIS 2.0 events."""

    timezone: str = Field("UTC", description="IANA zone of the border post, for eventTimeZoneOffset")
    vocabulary: str = Field("https://example.org/bx/voc/",
                            description="base URI of the private vocabulary (MRN business transaction type)")
    mrn_uri: str = Field("urn:bx:mrn:{mrn}", description="URI template for an MRN as an EPCIS bizTransaction")
    biz_steps: dict[str, BizStepName] = Field(
        default_factory=dict, description="lane id -> bizStep (default: arriving inbound, departing outbound)")
    schema_base: str = Field("https://example.org/bx/schemas/",
                             description="base URI of the published JSON Schemas (CloudEvents dataschema)")
    event_type_prefix: str = Field("org.example.bx", description="prefix of the CloudEvents 'type'")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """One broker of the failover list; :attr:`url` is safe to log and publish (no credentials)."""

    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"unknown scheme {parts.scheme!r} (use mqtt:// or mqtts://)")
    if not parts.hostname:
        raise ValueError("missing host")
    parts.port  # noqa: B018  (raises ValueError on a port that is not a number or out of range)
    return value


def _url_tls(url: str) -> bool:
    return urlsplit(url).scheme in ("mqtts", "ssl")


class MqttConfig(Section):
    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://host:port or mqtts://host:port (TLS)")
    urls: list[str] = Field(
        default_factory=list, description="ordered failover list of broker URLs, instead of url (which, if also "
        "given, must be the first entry): on connection "
        "loss the gateway tries the next one (cyclically, with the reconnect backoff) and stays on the broker it "
        "reaches; the retained status names it. All mqtt:// or all mqtts://")
    client_id: str | None = Field(None, description="default: bx-{site}-{gateway}")
    username: str | None = None
    password: SecretStr | None = None
    tls: MqttTls | None = None
    qos: Literal[0, 1, 2] = 1
    protocol: Literal["5", "3.1.1", "auto"] = Field("auto", description="MQTT 5 with a 3.1.1 fallback")
    base_topic: str = Field("bx/v1", description="prefix of every topic")
    keepalive_s: int = Field(30, ge=5, le=3600)
    session_expiry_s: int = Field(86_400, ge=0, description="persistent session for inbound subscriptions")
    will_delay_s: int = Field(15, ge=0, description="MQTT 5 Will Delay: no 'offline' flap on short reconnects")
    reconnect_min_s: float = Field(0.5, gt=0, description="first reconnect delay; doubles up to reconnect_max_s")
    reconnect_max_s: float = Field(30.0, gt=0)
    expiry: MqttExpiry = Field(default_factory=MqttExpiry)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    epcis: EpcisSettings = Field(default_factory=EpcisSettings)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            _check_url(url)
        if len({_url_tls(url) for url in value}) > 1:
            raise ValueError("mixes mqtt:// and mqtts:// (one TLS set-up serves the whole list)")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> MqttConfig:
        if self.urls and "url" in self.model_fields_set and self.url != self.urls[0]:
            raise ValueError("mqtt.url is not the first of mqtt.urls: give one broker (url) or the failover "
                             "list (urls), or keep url as the list's first entry")
        addresses = [(b.host, b.port) for b in self.brokers]
        if len(set(addresses)) != len(addresses):
            raise ValueError("urls: the same broker is listed twice")
        return self

    @field_validator("base_topic")
    @classmethod
    def _base(cls, value: str) -> str:
        for segment in value.split("/"):
            check_topic_segment(segment)
        return value

    @property
    def brokers(self) -> tuple[BrokerAddress, ...]:
        """The brokers in the order they are tried: ``urls``, or ``url`` alone."""
        tls = self.uses_tls
        out = []
        for url in self.urls or [self.url]:
            parts = urlsplit(url)
            out.append(BrokerAddress(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls))
        return tuple(out)

    @property
    def host(self) -> str:
        """The first broker's host (the only one unless ``urls`` lists several)."""
        return self.brokers[0].host

    @property
    def port(self) -> int:
        return self.brokers[0].port

    @property
    def uses_tls(self) -> bool:
        return _url_tls((self.urls or [self.url])[0]) or self.tls is not None
