"""The site configuration: one YAML file describes a border post's gateway.

See ``config/site.example.yaml`` for a documented two-lane example.  Readers are listed
under the lane they serve; a reader whose antennas serve two lanes appears in both with
the same ``id`` and ``url`` and disjoint antennas (it is opened once).
"""

from __future__ import annotations

import re
from ipaddress import ip_address
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator

from drivers.registry import CAMERA_SCHEMES, READER_SCHEMES, scheme_of, validate_url
from gateway.config.common import Section, TopicSegment
from gateway.config.decisions import DecisionsConfig
from gateway.config.enrichment import EnrichmentConfig
from gateway.config.lane_engine import LaneEngineConfig
from gateway.config.mqtt import MqttConfig
from gateway.gs1.check_digit import is_valid
from gateway.storage.retention import KINDS as RETENTION_KINDS
from gateway.storage.retention import periods as retention_periods
from gateway.vehicle import country_code

Zone = Literal["entry", "portal", "exit"]
# What a lane's signal shows (the lane decision's outcome as lights and barrier); "stop" is the rest state.
SignalState = Literal["stop", "proceed", "inspection", "hold", "refuse"]
SIGNAL_STATES: tuple[SignalState, ...] = ("stop", "proceed", "inspection", "hold", "refuse")
REST_STATE: SignalState = "stop"
DecoderName = Literal["zxing", "zbar"]


def _default_decoders() -> list[DecoderName]:
    return ["zxing", "zbar"]


class AntennaConfig(Section):
    zone: Zone = "portal"
    rssi_min_dbm: float | None = Field(None, description="reads weaker than this are ignored")
    min_reads: int | None = Field(None, ge=1, description="overrides lane_engine.min_reads for this antenna")


class ReaderConfig(Section):
    id: TopicSegment
    url: str = Field(description="llrp://host:5084, mercury:///dev/ttyUSB0?baud=115200, serial-ascii://..., "
                     "impinj-iot+http://..., impinj-iot+mqtt://host/topic, impinj-iot+webhook://0.0.0.0:8081/path, "
                     "zebra-iot+mqtt://host/topic")
    antennas: dict[int, AntennaConfig] = Field(
        default_factory=lambda: {1: AntennaConfig()},
        description="antenna port -> zone; reads from ports not listed here are ignored",
    )
    gpi_entry: int | None = Field(None, description="GPI port whose rising edge opens a passage")
    gpi_exit: int | None = Field(None, description="GPI port whose rising edge closes a passage")
    gpos: int | None = Field(None, ge=1, le=65535, description="number of general-purpose outputs the reader has "
                             "(e.g. 4 on a Speedway R420, 3 on an R700): lanes' `gpo` ports are checked against it")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme = scheme_of(value)
        if scheme not in READER_SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r} (known: {', '.join(sorted(READER_SCHEMES))})")
        validate_url(value)  # the driver's own parameter checks (ValueError subclasses, named by key path)
        return value

    @field_validator("antennas")
    @classmethod
    def _ports(cls, value: dict[int, AntennaConfig]) -> dict[int, AntennaConfig]:
        bad = [port for port in value if not 1 <= port <= 65535]
        if bad:
            raise ValueError(f"antenna ports must be 1..65535, got {bad}")
        return value


class GpoOutputConfig(Section):
    """One output a lane signal state drives: a lamp (steady) or a barrier relay (pulse)."""

    reader: TopicSegment = Field(description="id of an LLRP reader of the site whose output this is")
    port: int = Field(ge=1, le=65535, description="GPO port number (1-based; 0 is invalid in LLRP)")
    value: bool = Field(True, description="level while the state is shown (steady) or during the pulse")
    pattern: Literal["steady", "pulse"] = Field(
        "steady", description="steady: held while the state lasts; pulse: `value` for `pulse_ms`, then back")
    pulse_ms: int = Field(500, ge=10, le=60_000, description="length of a pulse in milliseconds")


class CameraConfig(Section):
    id: TopicSegment
    url: str = Field(description="camera:0, camera:rtsp://..., camera:file.mp4, images:./dir, camera:sim?...; "
                     "ANPR: anpr+webhook://0.0.0.0:8090/lpr?preset=rekor|hikvision|generic, anpr+mqtt://host/topic?...")
    zone: Zone = "portal"
    decoders: list[DecoderName] = Field(
        default_factory=_default_decoders, description="decoder backends, in order of preference")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme = scheme_of(value)
        if scheme not in CAMERA_SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r} (use camera:, images:, anpr+webhook: or anpr+mqtt:)")
        validate_url(value)  # the driver's option checks (roi, decoder, window ...)
        return value


class LaneConfig(Section):
    id: TopicSegment
    name: str | None = None
    read_point_gln: str | None = Field(None, description="GLN of the border post (13 digits); lane via AI 254")
    default_direction: Literal["inbound", "outbound", "unknown"] = "unknown"
    plate_country: str | None = Field(
        None, description="country of the plates read in this lane when the camera does not say (ISO 3166 "
        "alpha-2 or alpha-3, e.g. DE)")
    open_on: Literal["any", "trigger"] | None = Field(
        None, description="overrides lane_engine.open_on for this lane (trigger: only its loops, light "
        "barriers or lane controller open passages)")
    readers: list[ReaderConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    gpo: dict[SignalState, list[GpoOutputConfig]] = Field(
        default_factory=dict, description="lane signal state (stop, proceed, inspection, hold, refuse) -> the "
        "reader outputs it drives; every port named here is low (not `value`) in the states that do not "
        "name it; at start-up and after `gpo_rest_after_s` the lane rests in `stop`")
    gpo_rest_after_s: PositiveFloat | None = Field(
        300.0, description="seconds after which a state other than stop returns to stop if nothing replaced it "
        "(null: never)")

    @field_validator("plate_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = country_code(value)
        if code is None:
            raise ValueError(f"{value!r} is not an ISO 3166 country code")
        return code

    @field_validator("read_point_gln")
    @classmethod
    def _gln(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 13 and value.isdigit() and is_valid(value)):
            raise ValueError(f"{value!r} is not a valid 13-digit GLN (check digit)")
        return value


class ApiTlsConfig(Section):
    cert: Path = Field(description="PEM certificate chain of the API (server certificate first)")
    key: Path = Field(description="PEM private key of that certificate (unencrypted; readable by the service only)")


class ApiConfig(Section):
    bind: str = Field("127.0.0.1:8080", description="host:port of the HTTP API and dashboard")
    tls: ApiTlsConfig | None = Field(None, description="serve HTTPS with this certificate and key")
    tokens: list[SecretStr] = Field(default_factory=list, description="bearer tokens allowed to write")
    read_tokens: list[SecretStr] | None = Field(None, description="if set, reads need one of these (or a write token)")
    max_body_bytes: int = Field(5_000_000, ge=1024)

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r}: expected host:port")
        if host not in ("localhost", "") and not host.startswith("["):
            ip_address(host)  # raises ValueError with a clear message
        return value

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]") or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


class StorageConfig(Section):
    path: Path = Field(Path("./data"), description="directory for the SQLite stores (outbox, declarations)")
    retention: dict[str, PositiveFloat | None] = Field(
        default_factory=dict,
        description="days each kind of data is kept (null: until deleted by hand), applied daily by the "
        "service and by `border-gateway purge`; kinds and defaults: " + "; ".join(
            f"{k.name} ({'kept' if k.default_days is None else f'{k.default_days:g} days'}): {k.holds}"
            for k in RETENTION_KINDS))

    @field_validator("retention")
    @classmethod
    def _kinds(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        retention_periods(value)  # names the unknown kinds
        return value


class SiteConfig(Section):
    site: TopicSegment = Field(description="border post id, e.g. 'de-frankfurt-oder'")
    gateway: TopicSegment = Field(description="this gateway's id at the site")
    lanes: list[LaneConfig] = Field(min_length=1)
    lane_engine: LaneEngineConfig = Field(default_factory=LaneEngineConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    enrichment: EnrichmentConfig = Field(default_factory=EnrichmentConfig)
    decisions: DecisionsConfig | None = Field(
        None, description="central decisions back to the lane: intake, lane policy, lane signals (absent: the "
        "gateway takes no decisions and signals nothing)")

    @model_validator(mode="after")
    def _unique(self) -> SiteConfig:
        lane_ids = [lane.id for lane in self.lanes]
        dupes = {i for i in lane_ids if lane_ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate lane ids: {sorted(dupes)}")
        readers: dict[str, tuple[str, set[int]]] = {}
        cameras: set[str] = set()
        for lane in self.lanes:
            for reader in lane.readers:
                ports = set(reader.antennas)
                if reader.id in readers:
                    url, seen = readers[reader.id]
                    if url != reader.url:
                        raise ValueError(f"reader {reader.id!r} appears with two different urls")
                    if seen & ports:
                        raise ValueError(f"reader {reader.id!r}: antennas {sorted(seen & ports)} "
                                         "are mapped to more than one lane")
                    seen |= ports
                else:
                    readers[reader.id] = (reader.url, ports)
            for camera in lane.cameras:
                if camera.id in cameras or camera.id in readers:
                    raise ValueError(f"duplicate source id {camera.id!r}")
                cameras.add(camera.id)
        self._check_gpo()
        return self

    def _check_gpo(self) -> None:
        """Each lane output names an LLRP reader of the site and a port that reader has (when ``gpos`` says)."""
        counts: dict[str, int | None] = {}
        for lane in self.lanes:
            for reader in lane.readers:
                if scheme_of(reader.url) == "llrp":
                    known = counts.get(reader.id)
                    counts[reader.id] = reader.gpos if known is None else known
        problems: list[str] = []
        for i, lane in enumerate(self.lanes):
            for state, outputs in lane.gpo.items():
                for j, out in enumerate(outputs):
                    where = f"lanes[{i}].gpo.{state}[{j}]"
                    if out.reader not in counts:
                        problems.append(f"{where}.reader: {out.reader!r} is not an LLRP reader of this site "
                                        f"(LLRP readers: {', '.join(sorted(counts)) or 'none'})")
                        continue
                    count = counts[out.reader]
                    if count is not None and out.port > count:
                        problems.append(f"{where}.port: port {out.port} is out of range: reader {out.reader!r} "
                                        f"has {count} output(s) (gpos)")
        if problems:
            raise ValueError("; ".join(problems))

    def reader_url(self, reader_id: str) -> str:
        """The URL a reader is opened with: an LLRP reader's gains ``gpi=`` with the GPI ports its lanes wire
        (``gpi_entry`` / ``gpi_exit``), unless the URL names its ports itself, so that the client enables them.

        >>> from gateway.config import parse_config
        >>> site = parse_config({"site": "s", "gateway": "g", "lanes": [
        ...     {"id": "l1", "readers": [{"id": "r", "url": "llrp://10.0.0.5", "gpi_entry": 1, "gpi_exit": 2}]},
        ...     {"id": "l2", "readers": [{"id": "r", "url": "llrp://10.0.0.5", "antennas": {3: {}}, "gpi_entry": 3}]}]})
        >>> site.reader_url("r")
        'llrp://10.0.0.5?gpi=1,2,3'
        """
        url, ports = "", set()
        for lane in self.lanes:
            for reader in lane.readers:
                if reader.id == reader_id:
                    url = reader.url
                    ports |= {p for p in (reader.gpi_entry, reader.gpi_exit) if p is not None}
        if not ports or scheme_of(url) != "llrp" or re.search(r"[?&]gpi=", url):
            return url
        return f"{url}{'&' if '?' in url else '?'}gpi={','.join(str(p) for p in sorted(ports))}"

    def lane(self, lane_id: str) -> LaneConfig:
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(lane_id)



