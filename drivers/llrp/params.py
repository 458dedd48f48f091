"""LLRP parameters: one table row per type (LLRP 1.1 §17.2, §17.3), a generic decoder and encoder.

A parameter is a :class:`Param`: its type number, its fields (see :mod:`drivers.llrp.fields`)
and its sub-parameters in wire order.  TV parameters (types 1-127) have a fixed size that
the table knows for every type the standard defines; TLV parameters carry their length,
so an unknown TLV or a vendor ``Custom`` parameter is kept as raw bytes and skipped by its
length, never fatal.  Encoding a decoded parameter gives back the same bytes.

>>> tag = decode_params(bytes.fromhex("00f0001f" "8d3000abcdef00000000000003" "810001" "86d0" "820005a9e4bef862e0"))
>>> trd = tag[0]
>>> trd.name, trd.first("EPC-96").fields["EPC"].hex(), trd.value("AntennaID"), trd.value("PeakRSSI")
('TagReportData', '3000abcdef00000000000003', 1, -48)
>>> encode_params(tag).hex()[:12]
'00f0001f8d30'
>>> p = Param.make("KeepaliveSpec", Trigger=1, Interval=5000)
>>> p.encode().hex()
'00dc00090100001388'
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from drivers.llrp.errors import BadLengthError, FieldValueError, NestingError, TruncatedError, UnknownTVError
from drivers.llrp.fields import FieldValue, Layout

MAX_DEPTH = 24  # the deepest real nesting (ROSpec ... C1G2TagInventoryMask) is 8 levels

# type: (name, field layout).  TV types are < 128.
_TABLE: dict[int, tuple[str, str]] = {
    # -- TV parameters (§17.2.7.3, §17.3.1.5): every type of LLRP 1.1 -----------------------
    1: ("AntennaID", "AntennaID:u16"),
    2: ("FirstSeenTimestampUTC", "Microseconds:u64"),
    3: ("FirstSeenTimestampUptime", "Microseconds:u64"),
    4: ("LastSeenTimestampUTC", "Microseconds:u64"),
    5: ("LastSeenTimestampUptime", "Microseconds:u64"),
    6: ("PeakRSSI", "PeakRSSI:s8"),
    7: ("ChannelIndex", "ChannelIndex:u16"),
    8: ("TagSeenCount", "TagCount:u16"),
    9: ("ROSpecID", "ROSpecID:u32"),
    10: ("InventoryParameterSpecID", "InventoryParameterSpecID:u16"),
    11: ("C1G2CRC", "CRC:u16"),
    12: ("C1G2PC", "PCBits:u16"),
    13: ("EPC-96", "EPC:f12"),
    14: ("SpecIndex", "SpecIndex:u16"),
    15: ("ClientRequestOpSpecResult", "OpSpecID:u16"),
    16: ("AccessSpecID", "AccessSpecID:u32"),
    17: ("OpSpecID", "OpSpecID:u16"),
    18: ("C1G2SingulationDetails", "NumCollisionSlots:u16 NumEmptySlots:u16"),
    19: ("C1G2XPCW1", "XPCW1:u16"),
    20: ("C1G2XPCW2", "XPCW2:u16"),
    # -- general, capabilities ----------------------------------------------------------
    128: ("UTCTimestamp", "Microseconds:u64"),
    129: ("Uptime", "Microseconds:u64"),
    137: ("GeneralDeviceCapabilities",
          "MaxSupportedAntennas:u16 CanSetAntennaProperties:b1 HasUTCClock:b1 -:b14 "
          "DeviceManufacturer:u32 Model:u32 FirmwareVersion:utf8v"),
    139: ("ReceiveSensitivityTableEntry", "Index:u16 ReceiveSensitivity:s16"),
    140: ("PerAntennaAirProtocol", "AntennaID:u16 AirProtocolIDs:u8v"),
    141: ("GPIOCapabilities", "NumGPIs:u16 NumGPOs:u16"),
    142: ("LLRPCapabilities",
          "CanDoRFSurvey:b1 CanReportBufferFillWarning:b1 SupportsClientRequestOpSpec:b1 "
          "CanDoTagInventoryStateAwareSingulation:b1 SupportsEventsAndReportHolding:b1 -:b3 "
          "MaxPriorityLevelSupported:u8 ClientRequestedOpSpecTimeout:u16 MaxROSpecs:u32 "
          "MaxSpecsPerROSpec:u32 MaxInventoryParameterSpecsPerAISpec:u32 MaxAccessSpecs:u32 "
          "MaxOpSpecsPerAccessSpec:u32"),
    143: ("RegulatoryCapabilities", "CountryCode:u16 CommunicationsStandard:u16"),
    144: ("UHFBandCapabilities", ""),
    145: ("TransmitPowerLevelTableEntry", "Index:u16 TransmitPowerValue:s16"),
    146: ("FrequencyInformation", "Hopping:b1 -:b7"),
    147: ("FrequencyHopTable", "HopTableID:u8 -:b8 Frequencies:u32v"),
    148: ("FixedFrequencyTable", "Frequencies:u32v"),
    149: ("PerAntennaReceiveSensitivityRange",
          "AntennaID:u16 ReceiveSensitivityIndexMin:u16 ReceiveSensitivityIndexMax:u16"),
    363: ("MaximumReceiveSensitivity", "MaximumSensitivityValue:s16"),
    365: ("RFSurveyFrequencyCapabilities", "MinimumFrequency:u32 MaximumFrequency:u32"),
    # -- reader operations -----------------------------------------------------------------
    177: ("ROSpec", "ROSpecID:u32 Priority:u8 CurrentState:u8"),
    178: ("ROBoundarySpec", ""),
    179: ("ROSpecStartTrigger", "Trigger:u8"),
    180: ("PeriodicTriggerValue", "Offset:u32 Period:u32"),
    181: ("GPITriggerValue", "Port:u16 Event:b1 -:b7 Timeout:u32"),
    182: ("ROSpecStopTrigger", "Trigger:u8 DurationTriggerValue:u32"),
    183: ("AISpec", "AntennaIDs:u16v"),
    184: ("AISpecStopTrigger", "Trigger:u8 DurationTriggerValue:u32"),
    185: ("TagObservationTrigger", "Trigger:u8 -:b8 NumberOfTags:u16 NumberOfAttempts:u16 T:u16 Timeout:u32"),
    186: ("InventoryParameterSpec", "InventoryParameterSpecID:u16 ProtocolID:u8"),
    187: ("RFSurveySpec", "AntennaID:u16 StartFrequency:u32 EndFrequency:u32"),
    188: ("RFSurveySpecStopTrigger", "Trigger:u8 Duration:u32 N:u32"),
    355: ("LoopSpec", "LoopCount:u32"),
    # -- access operations -------------------------------------------------------------
    207: ("AccessSpec", "AccessSpecID:u32 AntennaID:u16 ProtocolID:u8 CurrentState:b1 -:b7 ROSpecID:u32"),
    208: ("AccessSpecStopTrigger", "Trigger:u8 OperationCountValue:u16"),
    209: ("AccessCommand", ""),
    210: ("ClientRequestOpSpec", "OpSpecID:u16"),
    211: ("ClientRequestResponse", "AccessSpecID:u32"),
    # -- configuration ---------------------------------------------------------------------
    217: ("LLRPConfigurationStateValue", "LLRPConfigurationStateValue:u32"),
    218: ("Identification", "IDType:u8 ReaderID:u8v"),
    219: ("GPOWriteData", "Port:u16 Data:b1 -:b7"),
    220: ("KeepaliveSpec", "Trigger:u8 Interval:u32"),
    221: ("AntennaProperties", "AntennaConnected:b1 -:b7 AntennaID:u16 AntennaGain:s16"),
    222: ("AntennaConfiguration", "AntennaID:u16"),
    223: ("RFReceiver", "ReceiverSensitivity:u16"),
    224: ("RFTransmitter", "HopTableID:u16 ChannelIndex:u16 TransmitPowerIndex:u16"),
    225: ("GPIPortCurrentState", "Port:u16 Enabled:b1 -:b7 State:u8"),
    226: ("EventsAndReports", "HoldEventsAndReportsUponReconnect:b1 -:b7"),
    # -- reporting -----------------------------------------------------------------------------
    237: ("ROReportSpec", "Trigger:u8 N:u16"),
    238: ("TagReportContentSelector",
          "EnableROSpecID:b1 EnableSpecIndex:b1 EnableInventoryParamSpecID:b1 EnableAntennaID:b1 "
          "EnableChannelIndex:b1 EnablePeakRSSI:b1 EnableFirstSeenTimestamp:b1 EnableLastSeenTimestamp:b1 "
          "EnableTagSeenCount:b1 EnableAccessSpecID:b1 -:b6"),
    239: ("AccessReportSpec", "Trigger:u8"),
    240: ("TagReportData", ""),
    241: ("EPCData", "EPC:bitv"),
    242: ("RFSurveyReportData", ""),
    243: ("FrequencyRSSILevelEntry", "Frequency:u32 Bandwidth:u32 AverageRSSI:s8 PeakRSSI:s8"),
    244: ("ReaderEventNotificationSpec", ""),
    245: ("EventNotificationState", "ReaderEventType:u16 NotificationEnabled:b1 -:b7"),
    246: ("ReaderEventNotificationData", ""),
    247: ("HoppingEvent", "HopTableID:u16 NextChannelIndex:u16"),
    248: ("GPIEvent", "Port:u16 Event:b1 -:b7"),
    249: ("ROSpecEvent", "Event:u8 ROSpecID:u32 PreemptingROSpecID:u32"),
    250: ("ReportBufferLevelWarningEvent", "ReportBufferPercentageFull:u8"),
    251: ("ReportBufferOverflowErrorEvent", ""),
    252: ("ReaderExceptionEvent", "Message:utf8v"),
    253: ("RFSurveyEvent", "Event:u8 ROSpecID:u32 SpecIndex:u16"),
    254: ("AISpecEvent", "Event:u8 ROSpecID:u32 SpecIndex:u16"),
    255: ("AntennaEvent", "Event:u8 AntennaID:u16"),
    256: ("ConnectionAttemptEvent", "Status:u16"),
    257: ("ConnectionCloseEvent", ""),
    356: ("SpecLoopEvent", "ROSpecID:u32 LoopCount:u32"),
    # -- errors, custom ----------------------------------------------------------------------
    287: ("LLRPStatus", "Status:u16 ErrorDescription:utf8v"),
    288: ("FieldError", "FieldIndex:u16 ErrorCode:u16"),
    289: ("ParameterError", "ParameterType:u16 ErrorCode:u16"),
    1023: ("Custom", "VendorID:u32 Subtype:u32 Data:rest"),
    # -- C1G2 air protocol (§17.3.1) ----------------------------------------------------------
    327: ("C1G2LLRPCapabilities",
          "SupportsBlockErase:b1 SupportsBlockWrite:b1 SupportsBlockPermalock:b1 SupportsTagRecommissioning:b1 "
          "SupportsUMIMethod2:b1 SupportsXPC:b1 -:b2 MaxSelectFiltersPerQuery:u16"),
    328: ("UHFC1G2RFModeTable", ""),
    329: ("UHFC1G2RFModeTableEntry",
          "ModeID:u32 DivideRatio:b1 IsEPCHagConformant:b1 -:b6 Modulation:u8 ForwardLinkModulation:u8 "
          "SpectralMask:u8 BackscatterDataRate:u32 PIERatio:u32 MinTariTime:u32 MaxTariTime:u32 StepTariTime:u32"),
    330: ("C1G2InventoryCommand", "TagInventoryStateAware:b1 -:b7"),
    331: ("C1G2Filter", "TruncateAction:b2 -:b6"),
    332: ("C1G2TagInventoryMask", "MemoryBank:b2 -:b6 MostSignificantBit:u16 TagMask:bitv"),
    333: ("C1G2TagInventoryStateAwareFilterAction", "Target:u8 Action:u8"),
    334: ("C1G2TagInventoryStateUnawareFilterAction", "Action:u8"),
    335: ("C1G2RFControl", "RFModeID:u16 Tari:u16"),
    336: ("C1G2SingulationControl", "Session:b2 -:b6 TagPopulation:u16 TagTransitTime:u32"),
    337: ("C1G2TagInventoryStateAwareSingulationAction", "SessionState:b1 SLState:b1 -:b6"),
    338: ("C1G2TagSpec", ""),
    339: ("C1G2TargetTag", "MemoryBank:b2 Match:b1 -:b5 MostSignificantBit:u16 TagMask:bitv TagData:bitv"),
    341: ("C1G2Read", "OpSpecID:u16 AccessPassword:u32 MemoryBank:b2 -:b6 WordPointer:u16 WordCount:u16"),
    342: ("C1G2Write", "OpSpecID:u16 AccessPassword:u32 MemoryBank:b2 -:b6 WordPointer:u16 Data:u16v"),
    343: ("C1G2Kill", "OpSpecID:u16 KillPassword:u32"),
    357: ("C1G2Recommission", "OpSpecID:u16 KillPassword:u32 -:b5 SB3:b1 SB2:b1 LSB:b1"),
    344: ("C1G2Lock", "OpSpecID:u16 AccessPassword:u32"),
    345: ("C1G2LockPayload", "Privilege:u8 DataField:u8"),
    346: ("C1G2BlockErase", "OpSpecID:u16 AccessPassword:u32 MemoryBank:b2 -:b6 WordPointer:u16 WordCount:u16"),
    347: ("C1G2BlockWrite", "OpSpecID:u16 AccessPassword:u32 MemoryBank:b2 -:b6 WordPointer:u16 Data:u16v"),
    358: ("C1G2BlockPermalock",
          "OpSpecID:u16 AccessPassword:u32 MemoryBank:b2 -:b6 BlockPointer:u16 BlockMask:u16v"),
    359: ("C1G2GetBlockPermalockStatus",
          "OpSpecID:u16 AccessPassword:u32 MemoryBank:b2 -:b6 BlockPointer:u16 BlockRange:u16"),
    348: ("C1G2EPCMemorySelector", "CRCEnabled:b1 PCBitsEnabled:b1 XPCBitsEnabled:b1 -:b5"),
    349: ("C1G2ReadOpSpecResult", "Result:u8 OpSpecID:u16 ReadData:u16v"),
    350: ("C1G2WriteOpSpecResult", "Result:u8 OpSpecID:u16 NumWordsWritten:u16"),
    351: ("C1G2KillOpSpecResult", "Result:u8 OpSpecID:u16"),
    360: ("C1G2RecommissionOpSpecResult", "Result:u8 OpSpecID:u16"),
    352: ("C1G2LockOpSpecResult", "Result:u8 OpSpecID:u16"),
    353: ("C1G2BlockEraseOpSpecResult", "Result:u8 OpSpecID:u16"),
    354: ("C1G2BlockWriteOpSpecResult", "Result:u8 OpSpecID:u16 NumWordsWritten:u16"),
    361: ("C1G2BlockPermalockOpSpecResult", "Result:u8 OpSpecID:u16"),
    362: ("C1G2GetBlockPermalockStatusOpSpecResult", "Result:u8 OpSpecID:u16 PermalockStatus:u16v"),
}

NAMES: dict[int, str] = {t: name for t, (name, _) in _TABLE.items()}
TYPES: dict[str, int] = {name: t for t, name in NAMES.items()}
LAYOUTS: dict[int, Layout] = {t: Layout(spec) for t, (_, spec) in _TABLE.items()}
TV_SIZES: dict[int, int] = {t: layout.fixed_size or 0 for t, layout in LAYOUTS.items() if t < 128}
CUSTOM = 1023
_RAW_LAYOUT = Layout("Data:rest")
_EMPTY: Mapping[str, FieldValue] = MappingProxyType({})
_TLV_HEADER = struct.Struct(">HH")


@dataclass(frozen=True, slots=True)
class Param:
    """One decoded parameter.  ``raw`` is set for types the table does not know (kept verbatim)."""

    type: int
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    raw: bytes | None = None

    @classmethod
    def make(cls, name: str, *params: Param, **fields: FieldValue) -> Param:
        """Build a parameter by its standard name: ``Param.make("ROReportSpec", sel, Trigger=1, N=1)``."""
        if name not in TYPES:
            raise FieldValueError(f"unknown parameter name {name!r}")
        return cls(TYPES[name], fields, tuple(params))

    @property
    def name(self) -> str:
        return NAMES.get(self.type, f"Unknown{self.type}")

    @property
    def is_tv(self) -> bool:
        return self.type < 128

    def first(self, name: str) -> Param | None:
        """The first direct sub-parameter called ``name``."""
        t = TYPES[name]
        for p in self.params:
            if p.type == t:
                return p
        return None

    def all(self, name: str) -> list[Param]:
        t = TYPES[name]
        return [p for p in self.params if p.type == t]

    def value(self, name: str) -> FieldValue | None:
        """The single field of the sub-parameter ``name`` (for TV parameters such as ``AntennaID``)."""
        p = self.first(name)
        if p is None:
            return None
        return next(iter(p.fields.values()), None)

    def walk(self) -> Iterator[Param]:
        """This parameter and all its descendants, depth first."""
        yield self
        for p in self.params:
            yield from p.walk()

    def encode(self) -> bytes:
        return encode_param(self)


# -- decoding ---------------------------------------------------------------------------------


def decode_params(buf: bytes | memoryview, off: int = 0, end: int | None = None, where: str = "",
                  depth: int = 0) -> tuple[Param, ...]:
    """Decode the parameters in ``buf[off:end]`` (a message body or a parameter's tail)."""
    if end is None:
        end = len(buf)
    if depth > MAX_DEPTH:
        raise NestingError(f"parameters nested deeper than {MAX_DEPTH} levels", where, off)
    out: list[Param] = []
    while off < end:
        first = buf[off]
        if first & 0x80:
            t = first & 0x7F
            size = TV_SIZES.get(t)
            if size is None:
                raise UnknownTVError(f"unknown TV parameter type {t}", where, off)
            if off + 1 + size > end:
                raise TruncatedError(f"TV {NAMES[t]} needs {size} bytes, have {end - off - 1}", where, off)
            values, _ = LAYOUTS[t].decode(buf, off + 1, off + 1 + size, NAMES[t])
            out.append(Param(t, values))
            off += 1 + size
            continue
        if off + 4 > end:
            raise TruncatedError(f"TLV header needs 4 bytes, have {end - off}", where, off)
        t, length = _TLV_HEADER.unpack_from(buf, off)
        t &= 0x3FF  # the 6 reserved bits are ignored, as the standard asks of clients
        if length < 4:
            raise BadLengthError(f"parameter type {t} has length {length} < 4", where, off)
        stop = off + length
        if stop > end:
            raise TruncatedError(f"parameter type {t} length {length} exceeds its container by {stop - end}",
                                 where, off)
        layout = LAYOUTS.get(t)
        if layout is None or (t < 128):
            # Unknown TLV (or a TV type number in TLV form): keep it and skip it by its length.
            out.append(Param(t, _EMPTY, (), bytes(buf[off + 4:stop])))
        else:
            name = NAMES[t]
            values, pos = layout.decode(buf, off + 4, stop, name)
            subs = decode_params(buf, pos, stop, name, depth + 1) if pos < stop else ()
            out.append(Param(t, values, subs))
        off = stop
    return tuple(out)


def decode_param(data: bytes) -> Param:
    """Decode exactly one parameter."""
    params = decode_params(data)
    if len(params) != 1:
        raise BadLengthError(f"expected one parameter, found {len(params)}")
    return params[0]


# -- encoding ---------------------------------------------------------------------------------


def encode_param(p: Param) -> bytes:
    if p.type < 128:
        layout = LAYOUTS.get(p.type)
        if layout is None:
            raise FieldValueError(f"unknown TV parameter type {p.type}")
        return bytes((0x80 | p.type,)) + layout.encode(p.fields)
    if p.raw is not None:
        body = p.raw
    else:
        layout = LAYOUTS.get(p.type, _RAW_LAYOUT)
        body = layout.encode(p.fields) + encode_params(p.params)
    length = 4 + len(body)
    if length > 0xFFFF:
        raise FieldValueError(f"{p.name} is {length} bytes, more than a TLV can hold")
    return _TLV_HEADER.pack(p.type, length) + body


def encode_params(params: tuple[Param, ...] | list[Param]) -> bytes:
    return b"".join(encode_param(p) for p in params)
