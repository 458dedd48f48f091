"""The host side of a Mercury reader, sans I/O: bytes in, typed events out.

>>> from drivers.mercury import commands as cmd
>>> host = HostCodec()
>>> host.send(cmd.get_version()).hex(" ")
'ff 00 03 1d 0c'
>>> wire = bytes.fromhex(
...     "ff2822000010001b01ff0101c4110e16400000012700000500000f00803000000000000000000000001545e94a561d")
>>> [type(e).__name__ for e in host.feed(b"\\x13\\x37" + wire[:10]) + host.feed(wire[10:])]
['FrameFault', 'TagRead']
>>> host.feed(Frame(0x22, b"", status=0x0400).encode())
[StreamStatus(status=1024, name='NO_TAGS_FOUND')]

:meth:`HostCodec.feed` never raises: bad frames and records become :class:`FrameFault`
events and are counted in :attr:`HostCodec.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.mercury.commands import Opcode, status_name
from drivers.mercury.errors import MercuryError
from drivers.mercury.frames import DecoderStats, Frame, FrameDecoder, FrameFault
from drivers.mercury.records import GEN2, StreamBatch, TagRecord


@dataclass(frozen=True, slots=True)
class Response:
    """A command response (any opcode other than a streaming 0x22 record)."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class TagRead:
    """One tag record from a streaming 0x22 frame; ``index`` is its place within the frame."""

    record: TagRecord
    metadata: int
    index: int = 0


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """An out-of-band status frame while streaming: 0x0400 (no tags / keep-alive),
    0x0504 (temperature throttle), 0x0505 (high return loss: antenna problem) ..."""

    status: int
    name: str


HostEvent = Response | TagRead | StreamStatus | FrameFault


class HostCodec:
    """Frames commands and turns the reader's byte stream into events."""

    def __init__(self, protocol: int = GEN2) -> None:
        self.protocol = protocol
        self.decoder = FrameDecoder(responses=True)
        self.record_errors = 0

    @property
    def stats(self) -> DecoderStats:
        return self.decoder.stats

    def send(self, command: Frame) -> bytes:
        return command.encode()

    def reset(self) -> list[FrameFault]:
        return self.decoder.reset()

    def feed(self, data: bytes | bytearray | memoryview) -> list[HostEvent]:
        events: list[HostEvent] = []
        for item in self.decoder.feed(data):
            if isinstance(item, FrameFault):
                events.append(item)
            elif item.opcode == Opcode.READ_TAG_ID_MULTIPLE and item.status == 0 and item.data:
                try:
                    batch = StreamBatch.parse(item.data, self.protocol)
                except MercuryError as exc:
                    self.record_errors += 1
                    self.decoder.stats.length_errors += 1
                    events.append(FrameFault("length", f"tag record: {exc}", item.encode()[:64]))
                    continue
                events.extend(TagRead(r, batch.metadata, i) for i, r in enumerate(batch.records))
            elif item.opcode == Opcode.READ_TAG_ID_MULTIPLE and item.status and not item.data:
                events.append(StreamStatus(item.status or 0, status_name(item.status or 0)))
            else:
                events.append(Response(item))
        return events
