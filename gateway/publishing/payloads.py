"""Every MQTT payload the gateway publishes, as pydantic models (the contract's source of truth).

The JSON Schemas and the AsyncAPI document under ``gateway/publishing/schemas/`` are generated
from these models by ``tools/gen_contract.py``; a test fails when a model changes without the
committed schemas being regenerated.  Field names are camelCase on the wire.

>>> Status(state="online", gateway="gw-1", site="s1", time="2025-03-01T10:15:00.250Z").to_json()[:38]
b'{"state":"online","site":"s1","gateway'

The enrichment blocks (``links``, ``products``, ``parties``, ``flags``, ``routing``) are not
redefined here: they are the classes of :mod:`gateway.enrichment.result`, one vocabulary for the
enrichment and the wire.  Every field of the record is classified in
:mod:`gateway.publishing.projections`: that table decides which audience sees what, and a test makes
sure no published field is left unclassified.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway import __version__
from gateway.enrichment.result import Decision, Flag, LaneDecision, Link, Party, Product, Routing
from gateway.reads import HealthState

Audience = Literal["customs", "sps", "cites", "ops"]
JSON = "application/json"  # the content type of the payloads that are not CloudEvents (state, replies)
SOFTWARE = __version__  # what the status, the capabilities and each record's provenance say


class Payload(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")


# -- ops: status, capabilities, lane state, passage lifecycle ---------------------------------------


class SourceHealth(Payload):
    """One reader or camera as the status topic shows it (driver states folded into four)."""

    state: HealthState = Field(
        description="ok: delivering; degraded: connected but reporting trouble; down: not delivering "
        "(failed, stopped, or waiting to reconnect); connecting: starting up")
    detail: str | None = Field(None, description="the driver's words, without identifiers or credentials")
    since: str = Field(description="when the source entered this state")


FailureReason = Literal["credentials", "tls", "unreachable", "refused", "lost", "closed", "error"]


class BrokerError(Payload):
    """Why the gateway could not use one broker of its list."""

    error: str = Field(description="the last failure: TLS handshake (e.g. certificate not trusted), refused "
                       "CONNACK, connection refused, timed out, connection lost")
    reason: FailureReason | None = Field(
        None, description="the failure's kind: credentials (the broker refused the user name, password or "
        "client certificate: CONNACK 4/5, reason 134/135), tls (handshake failed), unreachable (connection "
        "refused, timed out, no route, unknown host), refused (another CONNACK refusal), lost (an established "
        "connection dropped), closed (closed before the CONNACK), error (anything else)")
    since: str = Field(description="when this failure was first seen")


class MqttConnection(Payload):
    """The broker connection this status travels over (``mqtt.url`` / ``mqtt.urls``)."""

    broker: str = Field(description="the broker the gateway is connected to (URL without credentials)")
    index: int = Field(ge=0, description="its position in mqtt.urls (0: the first, or mqtt.url)")
    protocol: Literal["5", "3.1.1"]
    since: str = Field(description="connected to this broker since")
    failovers: int = Field(0, ge=0, description="times the gateway moved to another broker since start-up")
    errors: dict[str, BrokerError] | None = Field(
        None, description="broker URL -> why it could not be used, for each broker that failed since it was "
        "last connected (one failure per broker: the latest)")


class ConfigState(Payload):
    """The site configuration in use, once it was reloaded (SIGHUP or ``POST /api/reload``) or a reload failed."""

    digest: str = Field(description="SHA-256 of the site file in use (first 16 hex digits)")
    loaded: str = Field(description="when the configuration in use was loaded")
    error: str | None = Field(
        None, description="why the last reload was refused, one problem a line ('file: key path: message'); the "
        "configuration in use did not change. Absent once a reload succeeds")
    restart_pending: list[str] | None = Field(
        None, description="sections changed in the site file that take effect only at the next start "
        "(e.g. mqtt, api, storage)")


class Status(Payload):
    """Retained on ``ops/{site}/{gw}/status``: birth, graceful stop, Last Will, and every change of a
    source's state or of the outbox's health."""

    state: Literal["online", "offline"]
    site: str
    gateway: str
    time: str | None = Field(None, description="when this status was published (absent in the Last Will)")
    reason: Literal["lwt", "shutdown", "startup", "degraded", "source", "reload"] | None = Field(
        None, description="why it was published: source = a reader or camera changed state; reload = the site "
        "configuration was reloaded, or a reload was refused")
    software: str | None = None
    schemas: list[str] = Field(default_factory=list, description="payload schema ids this gateway emits")
    outbox: dict[str, float] | None = Field(None, description="depth, oldestAgeS, dropped (when degraded)")
    sources: dict[str, SourceHealth] | None = Field(
        None, description="reader/camera id -> health, for every source that reported since start-up")
    connection: MqttConnection | None = Field(
        None, description="which broker the gateway is on, and why others of its list failed (online only)")
    config: ConfigState | None = Field(
        None, description="the site configuration in use and why the last reload was refused (present once "
        "the configuration was reloaded or a reload was refused)")


class LaneInfo(Payload):
    id: str
    name: str | None = None
    read_point: str | None = None


class Capabilities(Payload):
    """Retained on ``ops/{site}/{gw}/capabilities``: what this gateway serves and where its contract is."""

    site: str
    gateway: str
    software: str
    lanes: list[LaneInfo]
    schemas: list[str]
    asyncapi: str | None = Field(None, description="URL of the AsyncAPI document served by the API")
    protocol: str
    qos: int


class LaneState(Payload):
    """Retained on ``ops/{site}/{gw}/lane/{lane}/state`` with a message expiry."""

    lane: str
    state: Literal["open", "closed", "fault"]
    occupied: bool = False
    passage_id: str | None = None
    counts: dict[str, int] = Field(default_factory=dict, description="identifiers by key type, current passage")
    decision: Decision | None = Field(
        None, description="the decision of the closed passage passageId names; absent while a passage is "
                          "open (occupied) and when the passage closed without an enrichment result")
    detail: str | None = None
    time: str


class VehicleSeen(Payload):
    """A number plate or container code read on the vehicle (ANPR / OCR cameras).

    Customs receive it whole; the ops topics receive a plate's ``value`` masked (first and last
    character) and none of ``text``, ``country``, ``sources``, ``candidates``, ``imageRef``; the agencies
    none of it (:mod:`gateway.publishing.projections`).  A plate is personal data."""

    kind: Literal["plate", "container"]
    value: str = Field(description="comparison key: letters and digits of the plate, the ISO 6346 code")
    text: str | None = Field(None, description="as the camera printed it")
    confidence: float | None = Field(None, description="the best read's, 0..1")
    country: str | None = Field(None, description="ISO 3166 alpha-2: the camera's, else the lane's default")
    positions: list[str] = Field(default_factory=list, description="front, rear, trailer, container")
    reads: int | None = None
    sources: list[str] = Field(default_factory=list, description="camera ids")
    error: str | None = Field(None, description="why it is not a key (a wrong ISO 6346 check digit)")
    candidates: list[list[Any]] = Field(default_factory=list, description="other readings: [value, confidence]")
    image_ref: str | None = None


class PassageSummary(Payload):
    """A passage without its identifiers (they are in the EPCIS event), with what the vehicle showed."""

    id: str
    lane: str
    direction: Literal["inbound", "outbound", "unknown"] = Field(
        description="unknown while the passage is open until the evidence decides (both barriers, or "
                    "identifiers that have left the zone they were seen in first); a closed passage without "
                    "evidence takes the lane's default_direction")
    state: Literal["open", "closed"]
    opened_at: str
    closed_at: str | None = None
    close_reason: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    triggers: list[str] = Field(default_factory=list)
    vehicle: list[VehicleSeen] = Field(default_factory=list, description="plates and container codes read")


class PassageLifecycle(Payload):
    """``ops/{site}/{gw}/lane/{lane}/passage``: ``new`` once, ``update`` while open, ``end`` once."""

    kind: Literal["new", "update", "end"]
    time: str
    passage: PassageSummary


# -- enrichment blocks: the enrichment's own classes (gateway.enrichment.result), serialised as they are


class Provenance(Payload):
    gateway_id: str
    software: str
    rules_version: str | None = None
    master_data: dict[str, str] = Field(default_factory=dict)


class Observation(Payload):
    event_hash: str | None = Field(
        None, description="CBV 2.0 event hash of the ObjectEvent: the join key of all messages; absent when the "
        "passage carried no GS1 identifier (a vehicle seen only by loops and cameras: no EPCIS event)")
    epcis: dict[str, Any] | None = Field(
        None, description="EPCISDocument with the core ObjectEvent (and AggregationEvent) exactly as hashed")


# -- CloudEvents data -----------------------------------------------------------------------------


class ObservationData(Payload):
    """``customs/{site}/{gw}/observation/{lane}``: the plain observation."""

    audience: Literal["customs"] = "customs"
    observation: Observation
    passage: PassageSummary


class EnrichedData(Payload):
    """``customs/.../enriched/{lane}`` (everything), ``{sps|cites}/.../referral/{lane}`` and the ops
    decision are projections of this one record (see :mod:`projections`)."""

    audience: Audience = "customs"
    revision: int = 1
    observation: Observation
    passage: PassageSummary
    decision: Decision | None = None
    links: list[Link] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)
    parties: list[Party] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    routing: list[Routing] = Field(default_factory=list)
    provenance: Provenance
    lane_decision: LaneDecision | None = Field(None, description="the lane decision: central outcomes combined "
                                               "with the local flags (only with decisions configured)")


class FlagData(Payload):
    """``customs/{site}/{gw}/flag/{severity}``: one flag, for alerting."""

    audience: Literal["customs"] = "customs"
    event_hash: str | None = Field(None, description="absent when the passage has no EPCIS event")
    lane: str
    passage_id: str
    flag: Flag


class CommandResponse(Payload):
    """Sent to the request's Response Topic with its Correlation Data."""

    ok: bool
    command: str
    result: dict[str, Any] | None = None
    error: str | None = None


DataT = TypeVar("DataT", bound=Payload)


class CloudEvent(BaseModel, Generic[DataT]):
    """CloudEvents 1.0, structured JSON mode (``application/cloudevents+json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    type: str
    source: str = Field(description="the lane read point (GLN Digital Link with AI 254)")
    id: str = Field(description="observation: the event hash; projections: {hash}#{audience}/r{revision}")
    time: str
    subject: str | None = Field(None, description="declaration reference (mrn:...) when linked")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    data: DataT

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")
