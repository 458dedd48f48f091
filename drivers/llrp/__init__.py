"""LLRP (EPCglobal Low Level Reader Protocol 1.0.1 / 1.1): a sans-I/O codec and an asyncio client.

The codec is table-driven and knows nothing about sockets:

* :mod:`drivers.llrp.fields` - the field-layout DSL (``"Status:u16 ErrorDescription:utf8v"``);
* :mod:`drivers.llrp.params` - one table row per parameter type, :class:`Param`;
* :mod:`drivers.llrp.messages` - the 10-byte header, :class:`Message`;
* :mod:`drivers.llrp.framing` - :class:`LLRPFramer`, bytes in -> messages out, any segmentation;
* :mod:`drivers.llrp.reports` - :class:`TagReport`, the typed view of a ``TagReportData``;
* :mod:`drivers.llrp.specs` - builders for the ROSpec / reader config a client sends;
* :mod:`drivers.llrp.client` - the asyncio reader client (``llrp://host:5084?...``).

>>> from drivers.llrp import LLRPFramer, Message
>>> framer = LLRPFramer()
>>> wire = Message.make("KEEPALIVE", 9).encode()
>>> framer.feed(wire[:3])
[]
>>> [(m.name, m.id) for m in framer.feed(wire[3:])]
[('KEEPALIVE', 9)]
"""

from drivers.llrp.constants import MessageType
from drivers.llrp.errors import LLRPError
from drivers.llrp.framing import LLRPFramer
from drivers.llrp.messages import Message, decode_body, decode_message
from drivers.llrp.params import Param, decode_params, encode_params
from drivers.llrp.reports import TagReport, tag_reports

__all__ = [
    "LLRPError",
    "LLRPFramer",
    "Message",
    "MessageType",
    "Param",
    "TagReport",
    "decode_body",
    "decode_message",
    "decode_params",
    "encode_params",
    "tag_reports",
]
