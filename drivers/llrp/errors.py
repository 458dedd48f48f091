"""Typed LLRP codec errors.  Every decoding failure is an :class:`LLRPError`; nothing else escapes.

>>> from drivers.llrp.messages import decode_message
>>> try:
...     decode_message(b"\\x04\\x3d\\x00\\x00")
... except LLRPError as exc:
...     print(type(exc).__name__, exc)
TruncatedError message header: need 10 bytes, have 4 (offset 0)
"""

from __future__ import annotations


class LLRPError(ValueError):
    """Base class: the bytes are not valid LLRP (``where`` names the message/parameter, ``offset`` the byte)."""

    def __init__(self, message: str, where: str = "", offset: int | None = None) -> None:
        self.where = where
        self.offset = offset
        text = f"{where}: {message}" if where else message
        if offset is not None:
            text += f" (offset {offset})"
        super().__init__(text)


class TruncatedError(LLRPError):
    """A length field points past the end of the data, or a fixed field is cut short."""


class BadLengthError(LLRPError):
    """A length field is impossible (smaller than its own header, or larger than the container)."""


class UnknownTVError(LLRPError):
    """A TV parameter type whose size the codec does not know: the rest of the container cannot be parsed."""


class FieldValueError(LLRPError):
    """A field value cannot be encoded (out of range, wrong type)."""


class FramingError(LLRPError):
    """The byte stream lost message sync (length below the 10-byte header, or above the size limit)."""


class NestingError(LLRPError):
    """Parameters nested deeper than any real message (a decompression-bomb guard)."""
