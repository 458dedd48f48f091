"""Typed errors of the EPC codec: every failure is an :class:`EPCError` with a stable ``code``.

>>> from gateway.gs1.epc import decode
>>> try:
...     decode("E2801160")
... except EPCError as exc:
...     (exc.code, type(exc).__name__)
('tid_in_epc_bank', 'TIDInEPCBankError')

Errors raised while decoding bits carry the EPC raw URI of what was read (``raw_uri``) when
the input was at least valid hex, so a report never loses the tag.
"""

from __future__ import annotations


class EPCError(ValueError):
    """Base class of every EPC codec error."""

    code = "epc_error"

    def __init__(self, message: str, *, input: object = None, raw_uri: str | None = None,
                 pc: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.input = input
        self.raw_uri = raw_uri
        self.pc = pc  # the PCWord, when the read carried one: its fields are reported with the error

    def __str__(self) -> str:
        if self.input is None:
            return self.message
        return f"{self.message} (input {self.input!r})"


class NotHexError(EPCError):
    """The input is not hexadecimal (or not bytes)."""

    code = "not_hex"


class TruncatedError(EPCError):
    """Fewer bits than the scheme, the PC length or the field needs (never padded)."""

    code = "truncated"


class PCLengthError(TruncatedError):
    """The PC word's length field is zero, or shorter than the scheme its EPC header names needs."""

    code = "pc_length"


class UnprogrammedError(EPCError):
    """Header 0x00: an unprogrammed tag."""

    code = "unprogrammed"


class TIDInEPCBankError(EPCError):
    """Header 0xE2: the TID allocation class byte, i.e. TID memory copied into the EPC bank."""

    code = "tid_in_epc_bank"


class UnknownHeaderError(EPCError):
    """A reserved (RFU) or unknown 8-bit header."""

    code = "unknown_header"


class InvalidPartitionError(EPCError):
    """Partition value 7 (or any value outside the scheme's partition table)."""

    code = "invalid_partition"


class FieldOverflowError(EPCError):
    """A field value exceeds its digits (C >= 10^L, D >= 10^K) or its bits."""

    code = "field_overflow"


class InvalidStringError(EPCError):
    """A 7-bit/6-bit string field breaks TDS rules (bad character, data after the terminator)."""

    code = "invalid_string"


class InvalidNumericStringError(EPCError):
    """A "numeric string" field does not start with the digit 1 (TDS 14.4.6)."""

    code = "invalid_numeric_string"


class InvalidCharacterError(EPCError):
    """An input value contains a character its field cannot carry."""

    code = "invalid_char"


class SerialLeadingZeroError(EPCError):
    """A serial with leading zeros cannot use an integer-encoded (96-bit) scheme."""

    code = "serial_leading_zero"


class InvalidValueError(EPCError):
    """A +AIDC/`+` scheme value is malformed (bad date, reserved indicator, bad AI ...)."""

    code = "invalid_value"


class TrailingDataError(EPCError):
    """Non-zero bits after the end of the EPC, where only zero fill is allowed."""

    code = "trailing_data"


class NonGS1AFIError(EPCError):
    """PC toggle bit T = 1: a non-GS1 ISO/IEC 15961 identifier, reported raw with its AFI."""

    code = "non_gs1_afi"

    def __init__(self, message: str, *, afi: int, input: object = None, raw_uri: str | None = None,
                 pc: object = None) -> None:
        super().__init__(message, input=input, raw_uri=raw_uri, pc=pc)
        self.afi = afi


class InvalidURIError(EPCError):
    """An EPC URI, element string or Digital Link that cannot be parsed."""

    code = "invalid_uri"


class CompanyPrefixUnknownError(EPCError):
    """Encoding needs the GS1 Company Prefix length and none was given or found."""

    code = "company_prefix_unknown"


class CapacityError(EPCError):
    """The encoding would exceed the EPC bank capacity (496 bits, 464 with XPC_W1)."""

    code = "capacity"
