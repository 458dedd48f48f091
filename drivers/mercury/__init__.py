"""ThingMagic / JADAK Mercury serial protocol (M6e, M7e, SparkFun Simultaneous RFID reader).

Sans-I/O codec (:mod:`.crc`, :mod:`.frames`, :mod:`.records`, :mod:`.commands`,
:mod:`.codec`) and a pyserial driver (:mod:`.driver`, imported on demand).
"""

from drivers.mercury.codec import HostCodec, HostEvent, Response, StreamStatus, TagRead
from drivers.mercury.crc import mercury_crc
from drivers.mercury.errors import FrameCRCError, FrameLengthError, MercuryError, ParameterError, StatusError
from drivers.mercury.frames import Frame, FrameDecoder, FrameFault
from drivers.mercury.records import ALL_METADATA, DEFAULT_METADATA, Meta, RecordError, StreamBatch, TagRecord

__all__ = [
    "ALL_METADATA",
    "DEFAULT_METADATA",
    "Frame",
    "FrameCRCError",
    "FrameDecoder",
    "FrameFault",
    "FrameLengthError",
    "HostCodec",
    "HostEvent",
    "MercuryError",
    "Meta",
    "ParameterError",
    "RecordError",
    "Response",
    "StatusError",
    "StreamBatch",
    "StreamStatus",
    "TagRead",
    "TagRecord",
    "mercury_crc",
]
