"""Mercury reader driver: pyserial shell around :class:`~drivers.mercury.codec.HostCodec`.

URL: ``mercury:///dev/ttyUSB0?baud=115200&region=EU&power=2500&antennas=1,2`` or
``mercury://host:port?...`` (pyserial ``socket://``).  Further parameters: ``metadata``
(flag mask, default ``0x01FF``), ``on_time`` (ms, default 1000), ``timeout`` (command
response timeout, s), ``silence``, ``backoff``, ``backoff_max`` (see
:class:`drivers.serial_common.SerialSource`).  Any other parameter is an error, and every value is
checked by building the frames it goes into (:func:`check_url`, run by ``config check``), so that a
power or antenna the protocol cannot carry is refused before the port is opened.

On connect it stops any continuous read left running, reads the version, sets protocol
(Gen2), region, antennas, read power, disables the read filter and starts continuous
reading.  Reader timestamps are millisecond offsets from the start of the read: the driver
adds them to the host time at which the reader acknowledged the start (as the vendor SDK
does), and keeps the raw offset in ``extra["reader_ms"]``.
"""

from __future__ import annotations

import time

from drivers.mercury import commands as cmd
from drivers.mercury.codec import HostCodec, Response, StreamStatus, TagRead
from drivers.mercury.errors import MercuryError
from drivers.mercury.frames import Frame, FrameFault
from drivers.mercury.records import DEFAULT_METADATA
from drivers.rfid import rfid_read
from drivers.serial_common import Port, SerialSource, SerialURLError, SessionError
from gateway.reads import Read, SourceEvent, SourceStatus

_TROUBLE = {cmd.STATUS_TEMPERATURE: "temperature throttle", cmd.STATUS_HIGH_RETURN_LOSS: "high return loss (antenna)"}


def _parse_region(text: str) -> int:
    try:
        return int(cmd.Region[text.upper()])
    except KeyError:
        try:
            return int(text, 0)
        except ValueError:
            raise SerialURLError(f"unknown region {text!r}; one of {[r.name for r in cmd.Region]}") from None


PARAMS = frozenset({"region", "power", "antennas", "metadata", "on_time", "timeout"})


class MercurySource(SerialSource):
    def __init__(self, source_id: str, url: str) -> None:
        super().__init__(source_id, url)
        p = self.target.params
        self.target.only(PARAMS)
        try:
            self.region = _parse_region(p.get("region", "EU"))
        except SerialURLError as exc:
            raise SerialURLError(f"{url!r}: {exc}") from None
        try:
            self.power = int(p.get("power", "2500"))
            self.antennas = [int(a) for a in p.get("antennas", "1").split(",") if a.strip()]
            self.metadata = int(p.get("metadata", str(DEFAULT_METADATA)), 0)
            self.on_time = int(p.get("on_time", "1000"))
        except ValueError as exc:
            raise SerialURLError(f"{url!r}: {exc}") from exc
        try:  # the frames the session will send: their encoders know each value's range
            cmd.set_region(self.region)
            cmd.set_read_power(self.power)
            cmd.set_antenna_search_list(self.antennas)
            cmd.start_continuous_read(self.metadata, self.on_time)
        except MercuryError as exc:
            raise SerialURLError(f"{url!r}: {exc}") from None
        self.command_timeout = self.target.float_param("timeout", 1.0)
        self.codec = HostCodec()
        self.version: cmd.VersionInfo | None = None
        self._base_time = 0.0
        self._degraded = False
        self._default_channel = str(self.antennas[0]) if len(self.antennas) == 1 else "0"

    # -- session -----------------------------------------------------------------------------
    def _command(self, port: Port, command: Frame, timeout: float | None = None) -> Frame:
        port.write(self.codec.send(command))
        deadline = time.monotonic() + (self.command_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            data = port.read(max(1, port.in_waiting))
            for event in self.codec.feed(data) if data else ():
                if isinstance(event, Response) and event.frame.opcode == command.opcode:
                    return event.frame
        raise SessionError(f"no response to opcode 0x{command.opcode:02X} within {self.command_timeout:g} s")

    def start_session(self, port: Port) -> list[SourceEvent]:
        self.codec = HostCodec()
        # A reader left streaming by a previous host keeps streaming: stop it and drain.
        port.write(self.codec.send(cmd.stop_continuous_read()))
        try:
            self._command(port, cmd.get_version())
        except SessionError:
            pass  # the stop's answer may have been lost among stream records; retry once below
        port.reset_input_buffer()
        self.codec = HostCodec()
        try:
            self.version = cmd.decode_version(self._command(port, cmd.get_version()))
            cmd.decode_ack(self._command(port, cmd.set_tag_protocol()), cmd.Opcode.SET_TAG_PROTOCOL)
            cmd.decode_ack(self._command(port, cmd.set_region(self.region)), cmd.Opcode.SET_REGION)
            cmd.decode_ack(self._command(port, cmd.set_antenna_search_list(self.antennas)), cmd.Opcode.SET_ANTENNA_PORT)
            cmd.decode_ack(self._command(port, cmd.set_read_power(self.power)), cmd.Opcode.SET_READ_TX_POWER)
            cmd.decode_ack(self._command(port, cmd.set_reader_config(0x0C, 0)), cmd.Opcode.SET_READER_OPTIONAL_PARAMS)
            start = cmd.start_continuous_read(self.metadata, self.on_time)
            cmd.decode_ack(self._command(port, start), cmd.Opcode.MULTI_PROTOCOL_TAG_OP)
        except MercuryError as exc:
            raise SessionError(str(exc)) from exc
        self._base_time = time.time()
        self._degraded = False
        return []

    def finish_session(self, port: Port) -> None:
        # Wait briefly for the reader to acknowledge the stop before the port closes: a reader left
        # streaming floods the next host, and a command still in flight when the port closes can be
        # dropped on the way (a pseudo-terminal discards what its master has not read yet).
        try:
            self._command(port, cmd.stop_continuous_read(), timeout=min(self.command_timeout, 0.5))
        except SessionError:
            pass  # best effort: the next session stops any stream left running first

    def end_session(self) -> None:
        for fault in self.codec.reset():
            self.faults.add(fault.kind)

    # -- stream ------------------------------------------------------------------------------
    def on_bytes(self, data: bytes, host_time: float) -> list[SourceEvent]:
        out: list[SourceEvent] = []
        for event in self.codec.feed(data):
            if isinstance(event, TagRead):
                out.append(self._to_read(event, host_time))
                if self._degraded:
                    self._degraded = False
                    out.append(SourceStatus(self.source_id, "connected", "reader status cleared"))
            elif isinstance(event, StreamStatus):
                trouble = _TROUBLE.get(event.status)
                if trouble is not None:
                    self._degraded = True
                    out.append(SourceStatus(self.source_id, "error",
                                            f"reader status 0x{event.status:04X} {event.name}: {trouble}"))
            elif isinstance(event, FrameFault):
                self.faults.add(f"{event.kind} error(s)" if event.kind != "garbage" else "garbage run(s)")
        return out

    def _to_read(self, event: TagRead, host_time: float) -> Read:
        rec = event.record
        ts = rec.timestamp_ms
        extra: dict[str, object] = {"reader_ms": ts} if ts is not None else {}
        if rec.gpio is not None:
            extra["gpio"] = rec.gpio
        if rec.data:
            extra["data_hex"] = rec.data.hex()
        return rfid_read(
            self.source_id,
            str(rec.antenna) if rec.antenna is not None else self._default_channel,
            rec.epc.hex(),
            host_time,
            pc=rec.pc,
            xpc=rec.xpc,
            source_time=self._base_time + ts / 1000.0 if ts is not None else None,
            rssi_dbm=float(rec.rssi_dbm) if rec.rssi_dbm is not None else None,
            count=rec.read_count if rec.read_count else 1,
            frequency_khz=rec.frequency_khz,
            phase_deg=float(rec.phase) if rec.phase is not None else None,
            extra=extra,
        )


def open_source(source_id: str, url: str) -> MercurySource:
    return MercurySource(source_id, url)


def check_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``): every parameter, nothing opened."""
    MercurySource("config-check", url)
