"""Incremental LLRP framing: bytes in, whole messages out, whatever the TCP segmentation.

TCP delivers several messages per read and splits headers across reads; the framer keeps
the unconsumed tail and only decodes a message once all of its ``length`` bytes are there.
A message whose body is malformed does not lose sync (its length is still good): it comes
out as a :class:`~drivers.llrp.messages.Message` with ``error`` set and the body in ``raw``
(or raises, with ``strict=True``).  Only an impossible length (below the 10-byte header or
above ``max_size``) raises :class:`~drivers.llrp.errors.FramingError`: the stream is lost
and the connection must be reset.

>>> from drivers.llrp.messages import Message
>>> wire = Message.make("KEEPALIVE", 1).encode() + Message.make("KEEPALIVE_ACK", 2).encode()
>>> framer = LLRPFramer()
>>> [m.name for chunk in (wire[:4], wire[4:13], wire[13:]) for m in framer.feed(chunk)]
['KEEPALIVE', 'KEEPALIVE_ACK']
>>> framer.buffered
0
"""

from __future__ import annotations

from drivers.llrp.errors import FramingError, LLRPError
from drivers.llrp.messages import HEADER, HEADER_SIZE, Message, decode_body

DEFAULT_MAX_SIZE = 16 * 1024 * 1024  # far above any real report; bounds memory on garbage input


class LLRPFramer:
    """Bytes-in, messages-out state machine (no I/O)."""

    __slots__ = ("_buf", "bytes_in", "max_size", "messages_in", "raw_types", "strict")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE, strict: bool = False,
                 raw_types: frozenset[int] = frozenset()) -> None:
        """``raw_types``: message types returned undecoded (body in ``raw``) for a faster decoder
        downstream, e.g. ``{61}`` with :func:`drivers.llrp.reports.decode_tag_reports`."""
        self._buf = bytearray()
        self.raw_types = raw_types
        self.max_size = max_size
        self.strict = strict
        self.messages_in = 0
        self.bytes_in = 0

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole message."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Add received bytes; return every message they complete, in order."""
        buf = self._buf
        buf += data
        self.bytes_in += len(data)
        out: list[Message] = []
        off = 0
        n = len(buf)
        while n - off >= HEADER_SIZE:
            vt, length, msg_id = HEADER.unpack_from(buf, off)
            if length < HEADER_SIZE or length > self.max_size:
                del buf[:off]
                raise FramingError(f"message length {length} outside [{HEADER_SIZE}, {self.max_size}]",
                                   "LLRP stream", self.bytes_in - len(buf))
            if n - off < length:
                break
            version, msg_type = (vt >> 10) & 7, vt & 0x3FF
            body = bytes(buf[off + HEADER_SIZE:off + length])
            if msg_type in self.raw_types:
                out.append(Message(msg_type, msg_id, {}, (), version, body))
                off += length
                continue
            try:
                out.append(decode_body(msg_type, body, msg_id, version))
            except LLRPError as exc:
                if self.strict:
                    del buf[:off + length]
                    raise
                out.append(Message(msg_type, msg_id, {}, (), version, body, str(exc)))
            off += length
        if off:
            del buf[:off]
        self.messages_in += len(out)
        return out

    def clear(self) -> None:
        """Drop any partial message (after a reconnect)."""
        self._buf.clear()
