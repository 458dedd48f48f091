"""LLRP messages: the 10-byte header (§17.1), one table row per message type, decode and encode.

Header: 3 reserved bits, 3-bit version (1 = LLRP 1.0.1, 2 = LLRP 1.1), 10-bit type, u32
length of the whole message, u32 message id (echoed in the response).

>>> raw = bytes.fromhex("043d0000002c4095892f" "00f00022" "8d3005fb63ac1f3681ec880468" "810001" "86ce"
...                     "820004ec2ea8354c09" "880001")
>>> msg = decode_message(raw)
>>> msg.name, msg.id, msg.version, len(msg.params)
('RO_ACCESS_REPORT', 1083541807, 1, 1)
>>> msg.encode() == raw
True
>>> Message.make("DELETE_ROSPEC", 7, ROSpecID=0).encode().hex()
'04150000000e0000000700000000'
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from drivers.llrp.constants import RESPONSE_OF, VERSION_1_0_1, MessageType
from drivers.llrp.errors import BadLengthError, FieldValueError, TruncatedError
from drivers.llrp.fields import FieldValue, Layout
from drivers.llrp.params import Param, decode_params, encode_params

HEADER = struct.Struct(">HII")
HEADER_SIZE = 10

_TABLE: dict[int, str] = {
    MessageType.GET_SUPPORTED_VERSION: "",
    MessageType.GET_SUPPORTED_VERSION_RESPONSE: "CurrentVersion:u8 SupportedVersion:u8",
    MessageType.SET_PROTOCOL_VERSION: "ProtocolVersion:u8",
    MessageType.GET_READER_CAPABILITIES: "RequestedData:u8",
    MessageType.GET_READER_CONFIG: "AntennaID:u16 RequestedData:u8 GPIPortNum:u16 GPOPortNum:u16",
    MessageType.SET_READER_CONFIG: "ResetToFactoryDefault:b1 -:b7",
    MessageType.ADD_ROSPEC: "",
    MessageType.DELETE_ROSPEC: "ROSpecID:u32",
    MessageType.START_ROSPEC: "ROSpecID:u32",
    MessageType.STOP_ROSPEC: "ROSpecID:u32",
    MessageType.ENABLE_ROSPEC: "ROSpecID:u32",
    MessageType.DISABLE_ROSPEC: "ROSpecID:u32",
    MessageType.DELETE_ACCESSSPEC: "AccessSpecID:u32",
    MessageType.ENABLE_ACCESSSPEC: "AccessSpecID:u32",
    MessageType.DISABLE_ACCESSSPEC: "AccessSpecID:u32",
    MessageType.CUSTOM_MESSAGE: "VendorID:u32 Subtype:u8 Data:rest",
}
LAYOUTS: dict[int, Layout] = {t: Layout(_TABLE.get(t, "")) for t in MessageType}
_EMPTY: Mapping[str, FieldValue] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Message:
    """One LLRP message.  ``type`` may be a number the codec does not know (its body is in ``raw``);
    a message the framer could not decode keeps its body in ``raw`` and the reason in ``error``."""

    type: int
    id: int = 0
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    version: int = VERSION_1_0_1
    raw: bytes | None = None
    error: str | None = None

    @classmethod
    def make(cls, name: str, id: int = 0, *params: Param, version: int = VERSION_1_0_1,
             **fields: FieldValue) -> Message:
        """``Message.make("ENABLE_ROSPEC", 5, ROSpecID=1)``."""
        try:
            t = MessageType[name]
        except KeyError:
            raise FieldValueError(f"unknown message name {name!r}") from None
        return cls(int(t), id, fields, tuple(params), version)

    @property
    def name(self) -> str:
        try:
            return MessageType(self.type).name
        except ValueError:
            return f"UNKNOWN_{self.type}"

    def first(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def all(self, name: str) -> list[Param]:
        return [p for p in self.params if p.name == name]

    @property
    def status(self) -> Param | None:
        """The ``LLRPStatus`` parameter of a response or ERROR_MESSAGE."""
        return self.first("LLRPStatus")

    @property
    def ok(self) -> bool:
        """True for a response whose LLRPStatus is M_Success (or that has none)."""
        st = self.status
        return st is None or st.fields.get("Status", 0) == 0

    def is_response_to(self, request: Message) -> bool:
        return self.id == request.id and RESPONSE_OF.get(MessageType(request.type)) == self.type

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        layout = LAYOUTS.get(self.type)
        head = layout.encode(self.fields) if layout is not None else b""
        return head + encode_params(self.params)

    def encode(self) -> bytes:
        body = self.body()
        if not 0 <= self.type < 1024 or not 0 <= self.version < 8 or not 0 <= self.id < 2**32:
            raise FieldValueError(f"header out of range: type {self.type} version {self.version} id {self.id}")
        return HEADER.pack((self.version << 10) | self.type, HEADER_SIZE + len(body), self.id) + body


def decode_header(data: bytes | memoryview, off: int = 0) -> tuple[int, int, int, int]:
    """``(version, type, length, id)`` of the message starting at ``off``."""
    if len(data) - off < HEADER_SIZE:
        raise TruncatedError(f"need {HEADER_SIZE} bytes, have {len(data) - off}", "message header", off)
    vt, length, msg_id = HEADER.unpack_from(data, off)
    return (vt >> 10) & 7, vt & 0x3FF, length, msg_id


def decode_body(msg_type: int, body: bytes | memoryview, msg_id: int = 0, version: int = VERSION_1_0_1) -> Message:
    """Decode a message body (everything after the header), as the golden captures store it."""
    layout = LAYOUTS.get(msg_type)
    if layout is None:
        return Message(msg_type, msg_id, _EMPTY, (), version, bytes(body))
    where = MessageType(msg_type).name
    values, pos = layout.decode(body, 0, len(body), where)
    params = decode_params(body, pos, len(body), where) if pos < len(body) else ()
    return Message(msg_type, msg_id, values, params, version)


def decode_message(data: bytes | memoryview) -> Message:
    """Decode exactly one whole message (header included)."""
    version, msg_type, length, msg_id = decode_header(data)
    if length < HEADER_SIZE:
        raise BadLengthError(f"length {length} is below the header size", _type_name(msg_type), 2)
    if length != len(data):
        raise (TruncatedError if length > len(data) else BadLengthError)(
            f"length field says {length} bytes, have {len(data)}", _type_name(msg_type), 2)
    return decode_body(msg_type, memoryview(data)[HEADER_SIZE:], msg_id, version)


def _type_name(msg_type: int) -> str:
    try:
        return MessageType(msg_type).name
    except ValueError:
        return f"message type {msg_type}"
