"""Builders for what a client sends: the streaming ROSpec and the reader configuration.

The streaming ROSpec (§11, rfid.md 1a step 6): start trigger Immediate (or Null, started by
START_ROSPEC), stop trigger Null, one AISpec over the antennas (``[0]`` = all) with a Null
stop trigger, one C1G2 InventoryParameterSpec, and an ROReportSpec that reports every N
tags (N >= 1: N = 0 means "never" on a compliant reader) or every N milliseconds (LLRP 1.1).
A reader that only speaks LLRP 1.0.1 does not know the millisecond triggers: for it the
period is rounded up to whole seconds (trigger 3), the nearest thing 1.0.1 has.

>>> spec = streaming_rospec(1, antennas=(1, 2), report_every_n_tags=1)
>>> spec.name, spec.fields["ROSpecID"], spec.first("AISpec").fields["AntennaIDs"]
('ROSpec', 1, (1, 2))
>>> spec.first("ROReportSpec").fields
{'Trigger': 1, 'N': 1}
>>> report_spec(None, 1500, version=1).fields  # LLRP 1.0.1
{'Trigger': 3, 'N': 2}

A lane whose loop is wired to a GPI can run the inventory only while a vehicle is over it (GPI start
trigger type 3, GPI stop trigger type 2 with a fail-safe timeout, LLRP 1.1 §11.2.1.1):

>>> gated = streaming_rospec(1, gpi_start=(1, True), gpi_stop=(1, False), gpi_timeout_ms=30_000)
>>> boundary = gated.first("ROBoundarySpec")
>>> start, stop = boundary.first("ROSpecStartTrigger"), boundary.first("ROSpecStopTrigger")
>>> start.fields["Trigger"], start.first("GPITriggerValue").fields, stop.fields["Trigger"]
(3, {'Port': 1, 'Event': True, 'Timeout': 0}, 2)
>>> stop.first("GPITriggerValue").fields
{'Port': 1, 'Event': False, 'Timeout': 30000}
>>> [p.fields for p in gpi_port_states((1, 2))][0]
{'Port': 1, 'Enabled': True, 'State': 0}

General-purpose outputs are written with one GPOWriteData (type 219) per port in SET_READER_CONFIG
(LLRP 1.1; virtual-border-loop.md §1): port 0 is invalid, the data bit sets the output high:

>>> [p.encode().hex() for p in gpo_write_data({1: True, 2: False})]
['00db0007000180', '00db0007000200']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drivers.llrp.constants import (
    AIR_PROTOCOL_EPC_C1G2,
    VERSION_1_1,
    ReaderEventType,
    ROReportTrigger,
    ROSpecStartTriggerType,
    ROSpecStopTriggerType,
)
from drivers.llrp.errors import FieldValueError
from drivers.llrp.params import Param

ALL_CONTENT = {
    "EnableROSpecID": False, "EnableSpecIndex": False, "EnableInventoryParamSpecID": False,
    "EnableAntennaID": True, "EnableChannelIndex": True, "EnablePeakRSSI": True,
    "EnableFirstSeenTimestamp": True, "EnableLastSeenTimestamp": True, "EnableTagSeenCount": True,
    "EnableAccessSpecID": False,
}


def content_selector(pc: bool = True, crc: bool = False, **flags: bool) -> Param:
    """TagReportContentSelector with antenna, channel, RSSI, first/last seen and seen count on;
    ``pc``/``crc`` switch the C1G2EPCMemorySelector bits."""
    fields: dict[str, bool] = {**ALL_CONTENT, **flags}
    mem = Param.make("C1G2EPCMemorySelector", CRCEnabled=crc, PCBitsEnabled=pc, XPCBitsEnabled=False)
    return Param.make("TagReportContentSelector", mem, **fields)


def report_spec(report_every_n_tags: int | None = 1, report_every_ms: int | None = None,
                selector: Param | None = None, version: int = VERSION_1_1) -> Param:
    if report_every_ms is not None and version < VERSION_1_1:
        trigger, n = ROReportTrigger.N_SECONDS_OR_END_OF_AISPEC, max(1, -(-report_every_ms // 1000))
    elif report_every_ms is not None:
        trigger, n = ROReportTrigger.N_MS_OR_END_OF_AISPEC, report_every_ms
    else:
        trigger, n = ROReportTrigger.N_TAGS_OR_END_OF_AISPEC, max(1, report_every_n_tags or 1)
    return Param.make("ROReportSpec", selector or content_selector(), Trigger=int(trigger), N=n)


def antenna_configuration(antenna: int, power_index: int | None = None, session: int | None = None,
                          tag_population: int = 32, mode_id: int | None = None) -> Param:
    """Per-antenna RF settings (power by table index, Gen2 session, RF mode)."""
    subs: list[Param] = []
    if power_index is not None:
        subs.append(Param.make("RFTransmitter", HopTableID=1, ChannelIndex=1, TransmitPowerIndex=power_index))
    inv: list[Param] = []
    if mode_id is not None:
        inv.append(Param.make("C1G2RFControl", RFModeID=mode_id, Tari=0))
    if session is not None:
        inv.append(Param.make("C1G2SingulationControl", Session=session, TagPopulation=tag_population,
                              TagTransitTime=0))
    if inv:
        subs.append(Param.make("C1G2InventoryCommand", *inv, TagInventoryStateAware=False))
    return Param.make("AntennaConfiguration", *subs, AntennaID=antenna)


def streaming_rospec(rospec_id: int = 1, antennas: Sequence[int] = (0,), report_every_n_tags: int | None = 1,
                     report_every_ms: int | None = None, start_immediately: bool = True,
                     power_index: int | None = None, session: int | None = None,
                     tag_population: int = 32, mode_id: int | None = None, priority: int = 0,
                     version: int = VERSION_1_1, gpi_start: tuple[int, bool] | None = None,
                     gpi_stop: tuple[int, bool] | None = None, gpi_timeout_ms: int = 0) -> Param:
    start = ROSpecStartTriggerType.IMMEDIATE if start_immediately else ROSpecStartTriggerType.NULL
    start_trigger = Param.make("ROSpecStartTrigger", Trigger=int(start))
    stop_trigger = Param.make("ROSpecStopTrigger", Trigger=0, DurationTriggerValue=0)
    if gpi_start is not None:  # the timeout is a fail-safe of stop triggers only: 0 here
        start_trigger = Param.make("ROSpecStartTrigger", gpi_trigger(*gpi_start),
                                   Trigger=int(ROSpecStartTriggerType.GPI))
    if gpi_stop is not None:
        stop_trigger = Param.make("ROSpecStopTrigger", gpi_trigger(*gpi_stop, timeout_ms=gpi_timeout_ms),
                                  Trigger=int(ROSpecStopTriggerType.GPI), DurationTriggerValue=0)
    boundary = Param.make("ROBoundarySpec", start_trigger, stop_trigger)
    ants = tuple(antennas) or (0,)
    configs: list[Param] = []
    if power_index is not None or session is not None or mode_id is not None:
        for a in ants:
            configs.append(antenna_configuration(a, power_index, session, tag_population, mode_id))
    inventory = Param.make("InventoryParameterSpec", *configs, InventoryParameterSpecID=1,
                           ProtocolID=AIR_PROTOCOL_EPC_C1G2)
    aispec = Param.make("AISpec", Param.make("AISpecStopTrigger", Trigger=0, DurationTriggerValue=0), inventory,
                        AntennaIDs=ants)
    return Param.make("ROSpec", boundary, aispec, report_spec(report_every_n_tags, report_every_ms, version=version),
                      ROSpecID=rospec_id, Priority=priority, CurrentState=0)


def gpi_trigger(port: int, high: bool, timeout_ms: int = 0) -> Param:
    """GPITriggerValue: ``port`` going ``high`` (True) or low fires; ``timeout_ms`` only for stop triggers."""
    return Param.make("GPITriggerValue", Port=port, Event=high, Timeout=timeout_ms)


def gpi_port_states(ports: Sequence[int], enabled: bool = True) -> list[Param]:
    """GPIPortCurrentState per port for SET_READER_CONFIG: GPIConfig on (the reader ignores GPIState there)."""
    return [Param.make("GPIPortCurrentState", Port=port, Enabled=enabled, State=0) for port in ports]


def gpo_write_data(levels: Mapping[int, bool]) -> list[Param]:
    """GPOWriteData per port (ascending) for SET_READER_CONFIG: ``{port: high}``; ports are 1..65535."""
    bad = sorted(port for port in levels if not 1 <= port <= 0xFFFF)
    if bad:
        raise FieldValueError(f"GPO port {bad[0]} outside 1..65535 (port 0 is invalid)", "GPOWriteData")
    return [Param.make("GPOWriteData", Port=port, Data=bool(levels[port])) for port in sorted(levels)]


def keepalive_spec(interval_ms: int) -> Param:
    """Periodic keepalives (trigger 1) every ``interval_ms``; 0 switches them off."""
    return Param.make("KeepaliveSpec", Trigger=1 if interval_ms > 0 else 0, Interval=max(0, interval_ms))


def event_notification_spec(enabled: Sequence[int] = (
        ReaderEventType.GPI_EVENT, ReaderEventType.ROSPEC_EVENT, ReaderEventType.REPORT_BUFFER_FILL_WARNING,
        ReaderEventType.READER_EXCEPTION_EVENT, ReaderEventType.ANTENNA_EVENT)) -> Param:
    states = [Param.make("EventNotificationState", ReaderEventType=int(t), NotificationEnabled=t in enabled)
              for t in ReaderEventType]
    return Param.make("ReaderEventNotificationSpec", *states)
