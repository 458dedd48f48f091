"""The LLRP reader's behaviour, without I/O: requests in, responses and reports out.

:class:`ReaderModel` is what :mod:`simulators.llrp_sim` wraps in a TCP server.  It keeps the
state a real reader keeps across connections (ROSpecs, AccessSpecs, reader config, the report
buffer) and follows the standard where clients trip over readers:

* every request gets a response of the right type with the echoed message id, or an
  ERROR_MESSAGE (M_UnsupportedMessage) for a type it does not know;
* ENABLE_EVENTS_AND_REPORTS and GET_REPORT have no response (GET_REPORT flushes reports);
* ROSpecs move Disabled -> (ENABLE) Inactive -> (START, or at once with an Immediate start
  trigger) Active; id 0 in DELETE/ENABLE/DISABLE means all;
* ROReportSpec N-tags / N-ms / N-seconds triggers and the TagReportContentSelector decide
  when reports go out and which fields they carry;
* reads come from the shared :class:`~simulators.tag_world.TagWorld` on a virtual clock;
* protocol versions (§9.1): ``max_version=2`` is an LLRP 1.1 reader (GET_SUPPORTED_VERSION and
  SET_PROTOCOL_VERSION, each connection starting in 1.0.1), ``max_version=1`` a 1.0.1-only
  reader, which answers a 1.1 header with ERROR_MESSAGE M_UnsupportedVersion and the version
  messages in a 1.0.1 header with M_UnsupportedMessage.  Any other request whose header
  version is not the connection's gets M_UnsupportedVersion, and the 1.1 millisecond report
  triggers are refused on a 1.0.1 connection;
* general-purpose inputs (§13.2.6, rfid.md / virtual-border-loop.md §1): ``NUM_GPIS`` ports, each
  silent until a client enables it with GPIPortCurrentState (GPIConfig on) in SET_READER_CONFIG;
  :meth:`ReaderModel.set_gpi` is the loop wired to a port: an edge on an enabled port is a GPIEvent
  (when event type 1 is on) and starts or stops ROSpecs with a GPI start/stop trigger on that port
  and edge, GPIEvent first (§14.2.6.1); a GPI stop trigger's timeout stops the ROSpec by itself;
* general-purpose outputs (virtual-border-loop.md §1): ``NUM_GPOS`` ports, all low at power-up, set by GPOWriteData in
  SET_READER_CONFIG (a port outside 1..NUM_GPOS refuses the whole message, nothing is applied);
  ``gpo_state`` is what the outputs drive now (they keep it across connections, like the relays on a
  real reader), ``gpo_history`` every write with its virtual time; GET_READER_CONFIG with
  RequestedData 0 (all) or 10 (GPOWriteData) reports the current levels.

>>> from simulators.tag_world import TagWorld
>>> from drivers.llrp.messages import Message
>>> from drivers.llrp.specs import streaming_rospec
>>> model = ReaderModel(TagWorld.steady("r", tags=2, rate=100.0), "r")
>>> [m.name for m in model.handle(Message.make("ADD_ROSPEC", 5, streaming_rospec(1)), now=0.0)]
['ADD_ROSPEC_RESPONSE']
>>> [m.name for m in model.handle(Message.make("ENABLE_ROSPEC", 6, ROSpecID=1), now=0.0)]
['ENABLE_ROSPEC_RESPONSE']
>>> model.rospec_state(1).name
'ACTIVE'
>>> [(m.name, int(m.status.fields["Status"])) for m in ReaderModel(TagWorld.steady("r", 1, 1.0), "r", max_version=1)
...  .handle(Message.make("GET_SUPPORTED_VERSION", 7, version=2), now=0.0)]
[('ERROR_MESSAGE', 110)]
>>> reports = model.tick(now=0.1)
>>> len(reports) > 0 and all(m.name == "RO_ACCESS_REPORT" for m in reports)
True

A loop on GPI 1: nothing is reported until the port is enabled, then each edge is a GPIEvent:

>>> model.set_gpi(1, True, now=0.2)
[]
>>> enable = Message.make("SET_READER_CONFIG", 8, Param.make("GPIPortCurrentState", Port=1, Enabled=True, State=0))
>>> [m.name for m in model.handle(enable, now=0.3)]
['SET_READER_CONFIG_RESPONSE']
>>> [p.name for m in model.set_gpi(1, False, now=0.4) for p in m.params[0].params]
['UTCTimestamp', 'GPIEvent']

A barrier relay on GPO 2:

>>> write = Message.make("SET_READER_CONFIG", 9, Param.make("GPOWriteData", Port=2, Data=True))
>>> [m.name for m in model.handle(write, now=0.5)], model.gpo_state, model.gpo_history
(['SET_READER_CONFIG_RESPONSE'], {1: False, 2: True, 3: False, 4: False}, [(0.5, 2, True)])
>>> ask = Message.make("GET_READER_CONFIG", 10, AntennaID=0, RequestedData=10, GPIPortNum=0, GPOPortNum=2)
>>> [p.fields for p in model.handle(ask, now=0.6)[0].params[1:]]
[{'Port': 2, 'Data': True}]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from drivers.llrp.constants import (
    RESPONSE_OF,
    VENDOR_IMPINJ,
    VERSION_1_0_1,
    VERSION_1_1,
    MessageType,
    ROReportTrigger,
    ROSpecStartTriggerType,
    ROSpecState,
    StatusCode,
)
from drivers.llrp.messages import Message
from drivers.llrp.params import Param
from drivers.llrp.reports import TagReport, encode_tag_report
from drivers.llrp.specs import content_selector
from simulators.tag_world import SimRead, TagWorld

M = MessageType
ETSI_CHANNELS_KHZ = (865_700, 866_300, 866_900, 867_500)  # the frequencies TagWorld draws from
Y2K_EPOCH_S = 946_684_800.0  # 2000-01-01: what a reader whose clock was never set reports
MODEL = 2001002
FIRMWARE = "7.1.0-sim"
REPORT_BUFFER_LIMIT = 66_000  # the FX7500's documented LLRP message queue
NUM_GPIS = 4  # a Speedway R420's DE-15 connector
NUM_GPOS = 4


def _status(code: int = 0, text: str = "") -> Param:
    return Param.make("LLRPStatus", Status=code, ErrorDescription=text)


def capabilities(antennas: int) -> tuple[Param, ...]:
    """GET_READER_CAPABILITIES_RESPONSE parameters, shaped like a real Impinj reader's."""
    sens = [Param.make("ReceiveSensitivityTableEntry", Index=1, ReceiveSensitivity=0)]
    per_antenna = [Param.make("PerAntennaAirProtocol", AntennaID=a, AirProtocolIDs=b"\x01")
                   for a in range(1, antennas + 1)]
    gdc = Param.make("GeneralDeviceCapabilities", *sens, Param.make("GPIOCapabilities", NumGPIs=4, NumGPOs=4),
                     *per_antenna, MaxSupportedAntennas=antennas, CanSetAntennaProperties=False, HasUTCClock=True,
                     DeviceManufacturer=VENDOR_IMPINJ, Model=MODEL, FirmwareVersion=FIRMWARE)
    llrp = Param.make("LLRPCapabilities", CanDoRFSurvey=False, CanReportBufferFillWarning=True,
                      SupportsClientRequestOpSpec=False, CanDoTagInventoryStateAwareSingulation=False,
                      SupportsEventsAndReportHolding=True, MaxPriorityLevelSupported=1,
                      ClientRequestedOpSpecTimeout=0, MaxROSpecs=8, MaxSpecsPerROSpec=32,
                      MaxInventoryParameterSpecsPerAISpec=1, MaxAccessSpecs=16, MaxOpSpecsPerAccessSpec=8)
    powers = [Param.make("TransmitPowerLevelTableEntry", Index=i + 1, TransmitPowerValue=1000 + 25 * i)
              for i in range(81)]  # 10.00 .. 30.00 dBm in centi-dBm
    freq = Param.make("FrequencyInformation", Param.make("FrequencyHopTable", HopTableID=1,
                                                         Frequencies=ETSI_CHANNELS_KHZ), Hopping=True)
    modes = Param.make("UHFC1G2RFModeTable", Param.make(
        "UHFC1G2RFModeTableEntry", ModeID=1000, DivideRatio=True, Modulation=0, ForwardLinkModulation=2,
        SpectralMask=2, BackscatterDataRate=640000, PIERatio=1500, MinTariTime=6250, MaxTariTime=6250))
    reg = Param.make("RegulatoryCapabilities", Param.make("UHFBandCapabilities", *powers, freq, modes),
                     CountryCode=826, CommunicationsStandard=2)  # ETSI EN 302 208
    c1g2 = Param.make("C1G2LLRPCapabilities", SupportsBlockWrite=True, MaxSelectFiltersPerQuery=2)
    return (_status(), gdc, llrp, reg, c1g2)


@dataclass
class ROSpecEntry:
    spec: Param
    state: ROSpecState = ROSpecState.DISABLED
    started_at: float = 0.0
    round_start: float = 0.0  # the current AISpec run (it restarts while the ROSpec stays active)
    round_count: int = 0
    round_unique: set[str] = field(default_factory=set)

    def ai_stop(self) -> tuple[int, int, int, int]:
        """(AISpecStopTrigger type, duration ms, TagObservationTrigger type, N tags)"""
        ai = self.spec.first("AISpec")
        trig = ai.first("AISpecStopTrigger") if ai else None
        if trig is None:
            return 0, 0, 0, 0
        obs = trig.first("TagObservationTrigger")
        return (int(trig.fields.get("Trigger", 0)), int(trig.fields.get("DurationTriggerValue", 0)),  # type: ignore[arg-type]
                int(obs.fields.get("Trigger", 0)) if obs else 0,  # type: ignore[arg-type]
                int(obs.fields.get("NumberOfTags", 0)) if obs else 0)  # type: ignore[arg-type]

    def ro_duration_s(self) -> float | None:
        boundary = self.spec.first("ROBoundarySpec")
        stop = boundary.first("ROSpecStopTrigger") if boundary else None
        if stop is None or stop.fields.get("Trigger") != 1:
            return None
        return int(stop.fields.get("DurationTriggerValue", 0)) / 1000.0  # type: ignore[arg-type]


@dataclass
class ReaderModel:
    """One simulated reader.  ``now`` arguments are virtual scenario seconds."""

    world: TagWorld
    reader: str
    antennas: int = 4
    clock_base: float = field(default_factory=time.time)  # UTC epoch seconds at virtual time 0
    keepalive_ms: int = 0
    hold_events_on_reconnect: bool = False
    rospecs: dict[int, ROSpecEntry] = field(default_factory=dict)
    access_specs: dict[int, Param] = field(default_factory=dict)
    default_report_spec: Param = field(default_factory=lambda: Param.make(
        "ROReportSpec", content_selector(), Trigger=int(ROReportTrigger.N_TAGS_OR_END_OF_AISPEC), N=1))
    event_states: dict[int, bool] = field(default_factory=dict)
    pending: list[bytes] = field(default_factory=list)  # encoded TagReportData not yet reported
    outbox: list[Message] = field(default_factory=list)  # reports held while no client is connected
    last_tick: float = 0.0
    last_report: float = 0.0
    next_id: int = 1
    version: int = VERSION_1_0_1  # the current connection's protocol version (reset by new_connection)
    max_version: int = VERSION_1_1  # 1: a reader that only speaks LLRP 1.0.1
    immediate_start: bool = True  # False: an enabled ROSpec waits for START_ROSPEC whatever its start trigger
    reads_generated: int = 0
    gpi_enabled: set[int] = field(default_factory=set)  # ports a client enabled (GPIConfig); per connection
    gpi_state: dict[int, bool] = field(default_factory=dict)  # port -> high; unknown ports read low
    gpi_edges: int = 0  # edges seen on enabled ports
    gpo_state: dict[int, bool] = field(default_factory=lambda: dict.fromkeys(range(1, NUM_GPOS + 1), False))
    gpo_history: list[tuple[float, int, bool]] = field(default_factory=list)  # (virtual time, port, high)

    def new_connection(self) -> None:
        """Every connection starts in LLRP 1.0.1; a 1.1 client switches with SET_PROTOCOL_VERSION.
        SET_READER_CONFIG settings last for the connection only (§12.2.4): GPIs are silent again."""
        self.version = VERSION_1_0_1
        self.gpi_enabled.clear()

    # -- requests ------------------------------------------------------------------------

    def handle(self, msg: Message, now: float) -> list[Message]:
        """The messages to send back for one request (empty for ENABLE_EVENTS_AND_REPORTS)."""
        t = msg.type
        versioning = t in (M.GET_SUPPORTED_VERSION, M.SET_PROTOCOL_VERSION)
        if not VERSION_1_0_1 <= msg.version <= self.max_version or (msg.version != self.version and not versioning):
            return [Message(int(M.ERROR_MESSAGE), msg.id, {}, (_status(
                StatusCode.M_UnsupportedVersion, f"message version {msg.version}, this connection speaks "
                f"{self.version} (highest {self.max_version})"),), self.version)]
        if msg.error is not None:
            return [self._reply(msg, StatusCode.M_ParameterError, msg.error)]
        handler = _HANDLERS.get(t) if not (versioning and self.max_version < VERSION_1_1) else None  # type: ignore[call-overload]
        if handler is None:
            return [Message(int(M.ERROR_MESSAGE), msg.id, {}, (_status(StatusCode.M_UnsupportedMessage,
                                                                        f"message type {t} not supported"),),
                            msg.version)]
        result: list[Message] = handler(self, msg, now)
        return result

    def _reply(self, req: Message, code: int = 0, text: str = "", *params: Param) -> Message:
        try:
            rtype = RESPONSE_OF.get(MessageType(req.type), M.ERROR_MESSAGE)
        except ValueError:
            rtype = M.ERROR_MESSAGE
        return Message(int(rtype), req.id, {}, (_status(code, text), *params), req.version)

    def _caps(self, msg: Message, now: float) -> list[Message]:
        return [Message(int(M.GET_READER_CAPABILITIES_RESPONSE), msg.id, {}, capabilities(self.antennas),
                        msg.version)]

    def _get_config(self, msg: Message, now: float) -> list[Message]:
        ident = Param.make("Identification", IDType=0, ReaderID=self.reader.encode()[:32])
        props = [Param.make("AntennaProperties", AntennaConnected=True, AntennaID=a, AntennaGain=0)
                 for a in range(1, self.antennas + 1)]
        keep = Param.make("KeepaliveSpec", Trigger=1 if self.keepalive_ms else 0, Interval=self.keepalive_ms)
        events = Param.make("EventsAndReports", HoldEventsAndReportsUponReconnect=self.hold_events_on_reconnect)
        requested = int(msg.fields.get("RequestedData", 0))  # type: ignore[arg-type]
        port = int(msg.fields.get("GPIPortNum", 0))  # type: ignore[arg-type]
        gpis = [Param.make("GPIPortCurrentState", Port=p, Enabled=p in self.gpi_enabled,
                           State=int(self.gpi_state.get(p, False)))
                for p in range(1, NUM_GPIS + 1) if port in (0, p)] if requested in (0, 9) else []
        gpo_port = int(msg.fields.get("GPOPortNum", 0))  # type: ignore[arg-type]
        gpos = [Param.make("GPOWriteData", Port=p, Data=high) for p, high in sorted(self.gpo_state.items())
                if gpo_port in (0, p)] if requested in (0, 10) else []
        if requested == 9:
            return [self._reply(msg, 0, "", *gpis)]
        if requested == 10:
            return [self._reply(msg, 0, "", *gpos)]
        return [self._reply(msg, 0, "", ident, *props, *gpis, *gpos, self.default_report_spec, keep, events)]

    def _set_config(self, msg: Message, now: float) -> list[Message]:
        if msg.fields.get("ResetToFactoryDefault"):
            self.keepalive_ms = 0
            self.rospecs.clear()
            self.access_specs.clear()
        for p in msg.params:
            if p.name == "KeepaliveSpec":
                interval = int(p.fields.get("Interval", 0))  # type: ignore[arg-type]
                self.keepalive_ms = interval if p.fields.get("Trigger") == 1 else 0
            elif p.name == "ROReportSpec":
                self.default_report_spec = p
            elif p.name == "EventsAndReports":
                self.hold_events_on_reconnect = bool(p.fields.get("HoldEventsAndReportsUponReconnect"))
            elif p.name == "ReaderEventNotificationSpec":
                for s in p.all("EventNotificationState"):
                    self.event_states[int(s.fields["ReaderEventType"])] = bool(  # type: ignore[arg-type]
                        s.fields["NotificationEnabled"])
        gpis = msg.all("GPIPortCurrentState")
        bad = [int(g.fields.get("Port", 0)) for g in gpis  # type: ignore[arg-type]
               if not 1 <= int(g.fields.get("Port", 0)) <= NUM_GPIS]  # type: ignore[arg-type]
        if bad:
            return [self._reply(msg, StatusCode.P_FieldError, f"no GPI port {bad[0]} (this reader has {NUM_GPIS})")]
        gpos = msg.all("GPOWriteData")
        bad = [int(g.fields.get("Port", 0)) for g in gpos  # type: ignore[arg-type]
               if not 1 <= int(g.fields.get("Port", 0)) <= NUM_GPOS]  # type: ignore[arg-type]
        if bad:
            return [self._reply(msg, StatusCode.P_FieldError, f"no GPO port {bad[0]} (this reader has {NUM_GPOS})")]
        for g in gpis:
            port = int(g.fields["Port"])  # type: ignore[arg-type]
            if g.fields.get("Enabled"):
                self.gpi_enabled.add(port)
            else:
                self.gpi_enabled.discard(port)
        for g in gpos:
            port, high = int(g.fields["Port"]), bool(g.fields.get("Data"))  # type: ignore[arg-type]
            self.gpo_state[port] = high
            self.gpo_history.append((now, port, high))
        return [self._reply(msg)]

    def _add_rospec(self, msg: Message, now: float) -> list[Message]:
        spec = msg.first("ROSpec")
        if spec is None:
            return [self._reply(msg, StatusCode.M_MissingParameter, "ADD_ROSPEC needs an ROSpec")]
        rid = int(spec.fields.get("ROSpecID", 0))  # type: ignore[arg-type]
        if rid == 0:
            return [self._reply(msg, StatusCode.M_FieldError, "ROSpecID 0 is reserved")]
        if rid in self.rospecs:
            return [self._reply(msg, StatusCode.M_FieldError, f"ROSpec {rid} already exists")]
        if spec.fields.get("CurrentState", 0) != ROSpecState.DISABLED:
            return [self._reply(msg, StatusCode.M_FieldError, "a new ROSpec must be Disabled")]
        if spec.first("AISpec") is None:
            return [self._reply(msg, StatusCode.M_MissingParameter, "ROSpec has no AISpec")]
        report = spec.first("ROReportSpec")
        trigger = int(report.fields.get("Trigger", 0)) if report else 0  # type: ignore[arg-type]
        if trigger > ROReportTrigger.N_SECONDS_OR_END_OF_ROSPEC and self.version < VERSION_1_1:
            return [self._reply(msg, StatusCode.P_FieldError, f"ROReportTrigger {trigger} needs LLRP 1.1")]
        for gpi in (_gpi_trigger(spec, "ROSpecStartTrigger", 3), _gpi_trigger(spec, "ROSpecStopTrigger", 2)):
            if gpi is not None and not 1 <= gpi[0] <= NUM_GPIS:
                return [self._reply(msg, StatusCode.P_FieldError, f"GPI trigger on port {gpi[0]}: this reader "
                                    f"has {NUM_GPIS} GPIs")]
        self.rospecs[rid] = ROSpecEntry(spec)
        return [self._reply(msg)]

    def _targets(self, msg: Message) -> list[int] | None:
        rid = int(msg.fields.get("ROSpecID", 0))  # type: ignore[arg-type]
        if rid == 0:
            return list(self.rospecs)
        return [rid] if rid in self.rospecs else None

    def _rospec_op(self, msg: Message, now: float) -> list[Message]:
        targets = self._targets(msg)
        if targets is None:
            return [self._reply(msg, StatusCode.A_Invalid, f"no ROSpec {msg.fields.get('ROSpecID')!r}")]
        t = msg.type
        for rid in targets:
            entry = self.rospecs[rid]
            if t == M.DELETE_ROSPEC:
                self._finish(entry, now)
                del self.rospecs[rid]
            elif t == M.ENABLE_ROSPEC:
                if entry.state == ROSpecState.DISABLED:
                    entry.state = ROSpecState.INACTIVE
                    if _start_trigger(entry.spec) == ROSpecStartTriggerType.IMMEDIATE and self.immediate_start:
                        self._activate(entry, now)
            elif t == M.DISABLE_ROSPEC:
                self._finish(entry, now)
                entry.state = ROSpecState.DISABLED
            elif t == M.START_ROSPEC:
                if entry.state != ROSpecState.INACTIVE:
                    return [self._reply(msg, StatusCode.A_Invalid,
                                        f"ROSpec {rid} is {entry.state.name}, START needs INACTIVE")]
                self._activate(entry, now)
            elif t == M.STOP_ROSPEC:
                if entry.state != ROSpecState.ACTIVE:
                    return [self._reply(msg, StatusCode.A_Invalid, f"ROSpec {rid} is not ACTIVE")]
                self._finish(entry, now)
        return [self._reply(msg)]

    def _get_rospecs(self, msg: Message, now: float) -> list[Message]:
        specs = [Param(e.spec.type, {**e.spec.fields, "CurrentState": int(e.state)}, e.spec.params)
                 for e in self.rospecs.values()]
        return [self._reply(msg, 0, "", *specs)]

    def _access(self, msg: Message, now: float) -> list[Message]:
        t = msg.type
        if t == M.ADD_ACCESSSPEC:
            spec = msg.first("AccessSpec")
            if spec is None:
                return [self._reply(msg, StatusCode.M_MissingParameter, "ADD_ACCESSSPEC needs an AccessSpec")]
            self.access_specs[int(spec.fields.get("AccessSpecID", 0))] = spec  # type: ignore[arg-type]
        elif t == M.GET_ACCESSSPECS:
            return [self._reply(msg, 0, "", *self.access_specs.values())]
        else:
            aid = int(msg.fields.get("AccessSpecID", 0))  # type: ignore[arg-type]
            if aid and aid not in self.access_specs:
                return [self._reply(msg, StatusCode.A_Invalid, f"no AccessSpec {aid}")]
            if t == M.DELETE_ACCESSSPEC:
                if aid:
                    del self.access_specs[aid]
                else:
                    self.access_specs.clear()
        return [self._reply(msg)]

    def _no_reply(self, msg: Message, now: float) -> list[Message]:
        return []

    def _get_report(self, msg: Message, now: float) -> list[Message]:
        self.tick(now)
        return self._flush()

    def _close(self, msg: Message, now: float) -> list[Message]:
        return [self._reply(msg)]

    def _keepalive_ack(self, msg: Message, now: float) -> list[Message]:
        return []

    def _version(self, msg: Message, now: float) -> list[Message]:
        if msg.type == M.GET_SUPPORTED_VERSION:
            return [Message(int(M.GET_SUPPORTED_VERSION_RESPONSE), msg.id, {
                "CurrentVersion": self.version, "SupportedVersion": self.max_version}, (_status(),), msg.version)]
        wanted = int(msg.fields.get("ProtocolVersion", 0))  # type: ignore[arg-type]
        if not VERSION_1_0_1 <= wanted <= self.max_version:
            return [self._reply(msg, StatusCode.M_UnsupportedVersion, f"version {wanted}")]
        self.version = wanted
        return [self._reply(msg)]

    def _custom(self, msg: Message, now: float) -> list[Message]:
        # IMPINJ_ENABLE_EXTENSIONS (subtype 21) -> IMPINJ_ENABLE_EXTENSIONS_RESPONSE (22); others unsupported.
        if msg.fields.get("VendorID") == VENDOR_IMPINJ and msg.fields.get("Subtype") == 21:
            body = _status().encode()
            return [Message(int(M.CUSTOM_MESSAGE), msg.id, {"VendorID": VENDOR_IMPINJ, "Subtype": 22,
                                                             "Data": body}, (), msg.version)]
        return [Message(int(M.ERROR_MESSAGE), msg.id, {}, (_status(StatusCode.M_UnsupportedMessage,
                                                                    "custom message not supported"),), msg.version)]

    # -- ROSpec execution ----------------------------------------------------------------

    def rospec_state(self, rid: int) -> ROSpecState:
        return self.rospecs[rid].state

    def _activate(self, entry: ROSpecEntry, now: float) -> None:
        entry.state = ROSpecState.ACTIVE
        entry.started_at = entry.round_start = now
        entry.round_count = 0
        entry.round_unique = set()
        self.last_tick = now
        self.last_report = now

    # -- general-purpose inputs ------------------------------------------------------------

    def set_gpi(self, port: int, high: bool, now: float) -> list[Message]:
        """The loop on ``port`` became occupied (``high``) or free: the messages the reader sends.

        Only an edge on an enabled port counts (§13.2.6.2); it is reported as a GPIEvent when event
        type 1 (GPI) is on, then starts or stops the ROSpecs whose GPI trigger waits for it, with a
        ROSpecEvent each when event type 2 is on (§14.2.6.1: the GPIEvent comes first)."""
        if self.gpi_state.get(port, False) == high:
            return []
        self.gpi_state[port] = high
        if port not in self.gpi_enabled:
            return []
        self.gpi_edges += 1
        out: list[Message] = []
        if self.event_states.get(1, True):
            out.append(self.event(Param.make("GPIEvent", Port=port, Event=high), now=now))
        for rid, entry in self.rospecs.items():
            start = _gpi_trigger(entry.spec, "ROSpecStartTrigger", 3)
            stop = _gpi_trigger(entry.spec, "ROSpecStopTrigger", 2)
            if entry.state == ROSpecState.INACTIVE and start is not None and start[:2] == (port, high):
                self._activate(entry, now)
                out += self._rospec_event(0, rid, now)
            elif entry.state == ROSpecState.ACTIVE and stop is not None and stop[:2] == (port, high):
                self._finish(entry, now)
                out += self.tick(now) + self._rospec_event(1, rid, now)
        return out

    def _rospec_event(self, kind: int, rid: int, now: float) -> list[Message]:
        if not self.event_states.get(2, False):
            return []
        return [self.event(Param.make("ROSpecEvent", Event=kind, ROSpecID=rid, PreemptingROSpecID=0), now=now)]

    def _finish(self, entry: ROSpecEntry, now: float) -> None:
        """Active -> Inactive: the end of the ROSpec flushes what the report trigger still holds."""
        if entry.state == ROSpecState.ACTIVE:
            self.outbox.extend(self.tick(now))
        if entry.state == ROSpecState.ACTIVE:
            entry.state = ROSpecState.INACTIVE
            self.outbox.extend(self._flush())

    def _report_spec(self, entry: ROSpecEntry) -> Param:
        return entry.spec.first("ROReportSpec") or self.default_report_spec

    def tick(self, now: float) -> list[Message]:
        """Run active ROSpecs up to ``now``; returns the RO_ACCESS_REPORTs their triggers release."""
        active = [e for e in self.rospecs.values() if e.state == ROSpecState.ACTIVE]
        t0, self.last_tick = self.last_tick, max(now, self.last_tick)
        out: list[Message] = list(self.outbox)
        self.outbox.clear()
        if not active:
            return out
        entry = active[0]  # priority order is not modelled: one active ROSpec at a time
        spec = self._report_spec(entry)
        aispec = entry.spec.first("AISpec")
        ants: tuple[int, ...] = tuple(aispec.fields.get("AntennaIDs", ())) if aispec else ()  # type: ignore[arg-type]
        wanted = None if (not ants or 0 in ants) else ants
        trigger = int(spec.fields.get("Trigger", 0))  # type: ignore[arg-type]
        n = int(spec.fields.get("N", 0))  # type: ignore[arg-type]
        ai_type, ai_ms, obs_type, obs_n = entry.ai_stop()
        if now > t0:
            reads = self.world.reads_between(self.reader, t0, now, wanted)
            self.reads_generated += len(reads)
            sel = spec.first("TagReportContentSelector")
            rid = int(entry.spec.fields["ROSpecID"])  # type: ignore[arg-type]
            for r in reads:
                self.pending.append(self._tag_data(r, sel, rid))
                entry.round_count += 1
                entry.round_unique.add(r.epc_hex)
                if trigger in (1, 2) and n > 0 and len(self.pending) >= n:
                    out.append(self._report(self.pending))
                    self.pending = []
                if ai_type == 3 and obs_n > 0 and (
                        (obs_type == 0 and entry.round_count >= obs_n)
                        or (obs_type == 3 and len(entry.round_unique) >= obs_n)):
                    out.extend(self._end_of_aispec(entry, trigger, r.time))
        if ai_type == 1 and ai_ms > 0 and now - entry.round_start >= ai_ms / 1000.0:
            out.extend(self._end_of_aispec(entry, trigger, now))
        if trigger in (3, 4, 5, 6) and n > 0:
            period = n if trigger in (3, 4) else n / 1000.0
            if now - self.last_report >= period:
                self.last_report = now
                out.extend(self._flush())
        duration = entry.ro_duration_s()
        stop = _gpi_trigger(entry.spec, "ROSpecStopTrigger", 2)
        if stop is not None and stop[2] > 0 and now - entry.started_at >= stop[2] / 1000.0:
            duration = stop[2] / 1000.0  # the GPI stop trigger's fail-safe timeout ran out
        if duration is not None and now - entry.started_at >= duration:
            entry.state = ROSpecState.INACTIVE  # End of ROSpec: report what is held
            out.extend(self._flush())
        return out

    def _end_of_aispec(self, entry: ROSpecEntry, trigger: int, now: float) -> list[Message]:
        """The AISpec's stop trigger fired: report (triggers 'or End of AISpec') and run it again."""
        entry.round_start = now
        entry.round_count = 0
        entry.round_unique = set()
        return self._flush() if trigger in (1, 3, 5) else []

    def _flush(self) -> list[Message]:
        if not self.pending:
            return []
        batch, self.pending = self.pending, []
        return [self._report(batch)]

    def _report(self, batch: list[bytes]) -> Message:
        self.next_id += 1
        return Message(int(M.RO_ACCESS_REPORT), self.next_id, {}, (), self.version, b"".join(batch))

    def _tag_data(self, read: SimRead, sel: Param | None, rospec_id: int) -> bytes:
        f = sel.fields if sel is not None else {}
        mem = sel.first("C1G2EPCMemorySelector") if sel is not None else None
        epc = bytes.fromhex(read.epc_hex)
        micros = int((self.clock_base + read.time) * 1_000_000)
        channel = ETSI_CHANNELS_KHZ.index(read.frequency_khz) + 1 if read.frequency_khz in ETSI_CHANNELS_KHZ else 1
        crc = None
        if mem is not None and mem.fields.get("CRCEnabled"):
            from gateway.gs1.epc.pc import crc16_genibus

            crc = crc16_genibus(read.pc.to_bytes(2, "big") + epc)
        report = TagReport(
            epc=epc, epc_bits=len(epc) * 8,
            antenna=read.antenna if f.get("EnableAntennaID") else None,
            peak_rssi=max(-128, min(127, round(read.rssi_dbm))) if f.get("EnablePeakRSSI") else None,
            channel_index=channel if f.get("EnableChannelIndex") else None,
            first_seen_utc=micros if f.get("EnableFirstSeenTimestamp") else None,
            last_seen_utc=micros if f.get("EnableLastSeenTimestamp") else None,
            seen_count=1 if f.get("EnableTagSeenCount") else None,
            pc=read.pc if mem is not None and mem.fields.get("PCBitsEnabled") else None,
            crc=crc,
            rospec_id=rospec_id if f.get("EnableROSpecID") else None,
            spec_index=1 if f.get("EnableSpecIndex") else None,
            inventory_parameter_spec_id=1 if f.get("EnableInventoryParamSpecID") else None,
            access_spec_id=0 if f.get("EnableAccessSpecID") else None,
        )
        return encode_tag_report(report)

    # -- events ---------------------------------------------------------------------------

    def event(self, *params: Param, now: float) -> Message:
        """A READER_EVENT_NOTIFICATION stamped with the reader's UTC clock."""
        self.next_id += 1
        ts = Param.make("UTCTimestamp", Microseconds=int((self.clock_base + now) * 1_000_000))
        data = Param.make("ReaderEventNotificationData", ts, *params)
        return Message(int(M.READER_EVENT_NOTIFICATION), self.next_id, {}, (data,), self.version)

    def keepalive(self) -> Message:
        self.next_id += 1
        return Message(int(M.KEEPALIVE), self.next_id, {}, (), self.version)


def _start_trigger(spec: Param) -> int:
    boundary = spec.first("ROBoundarySpec")
    start = boundary.first("ROSpecStartTrigger") if boundary else None
    return int(start.fields.get("Trigger", 0)) if start else 0  # type: ignore[arg-type]


def _gpi_trigger(spec: Param, name: str, gpi_type: int) -> tuple[int, bool, int] | None:
    """(port, edge, timeout ms) of a GPI start (type 3) or stop (type 2) trigger, else ``None``."""
    boundary = spec.first("ROBoundarySpec")
    trigger = boundary.first(name) if boundary else None
    value = trigger.first("GPITriggerValue") if trigger else None
    if trigger is None or value is None or trigger.fields.get("Trigger") != gpi_type:
        return None
    return (int(value.fields.get("Port", 0)), bool(value.fields.get("Event")),  # type: ignore[arg-type]
            int(value.fields.get("Timeout", 0)))  # type: ignore[arg-type]


_HANDLERS = {
    M.GET_READER_CAPABILITIES: ReaderModel._caps,
    M.GET_READER_CONFIG: ReaderModel._get_config,
    M.SET_READER_CONFIG: ReaderModel._set_config,
    M.ADD_ROSPEC: ReaderModel._add_rospec,
    M.DELETE_ROSPEC: ReaderModel._rospec_op,
    M.START_ROSPEC: ReaderModel._rospec_op,
    M.STOP_ROSPEC: ReaderModel._rospec_op,
    M.ENABLE_ROSPEC: ReaderModel._rospec_op,
    M.DISABLE_ROSPEC: ReaderModel._rospec_op,
    M.GET_ROSPECS: ReaderModel._get_rospecs,
    M.ADD_ACCESSSPEC: ReaderModel._access,
    M.DELETE_ACCESSSPEC: ReaderModel._access,
    M.ENABLE_ACCESSSPEC: ReaderModel._access,
    M.DISABLE_ACCESSSPEC: ReaderModel._access,
    M.GET_ACCESSSPECS: ReaderModel._access,
    M.ENABLE_EVENTS_AND_REPORTS: ReaderModel._no_reply,
    M.GET_REPORT: ReaderModel._get_report,
    M.KEEPALIVE_ACK: ReaderModel._keepalive_ack,
    M.CLOSE_CONNECTION: ReaderModel._close,
    M.GET_SUPPORTED_VERSION: ReaderModel._version,
    M.SET_PROTOCOL_VERSION: ReaderModel._version,
    M.CUSTOM_MESSAGE: ReaderModel._custom,
}
