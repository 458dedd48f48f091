"""Typed errors of the Mercury codec.  Every exception the codec raises is a :class:`MercuryError`."""

from __future__ import annotations


class MercuryError(ValueError):
    """Base class: a Mercury frame, record or parameter is invalid."""


class FrameCRCError(MercuryError):
    """The frame's CRC does not match its content."""


class FrameLengthError(MercuryError):
    """A length field disagrees with the bytes present (frame LEN, EPC or data length)."""


class StatusError(MercuryError):
    """The reader answered a command with a non-zero status word."""

    def __init__(self, message: str, opcode: int, status: int) -> None:
        super().__init__(message)
        self.opcode = opcode
        self.status = status


class ParameterError(MercuryError):
    """An encoder was given a value the protocol cannot carry (e.g. power > 0x7FFF)."""
