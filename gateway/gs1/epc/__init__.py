"""EPC Tag Data Standard 2.3 codec: every scheme, both directions, nothing lost.

>>> from gateway.gs1.epc import decode, encode
>>> epc = decode("3074257BF7194E4000001A85")
>>> epc.scheme, epc.filter, epc.pure_uri, epc.elements
('sgtin-96', 3, 'urn:epc:id:sgtin:0614141.812345.6789', (('01', '80614141123458'), ('21', '6789')))
>>> encode(epc.tag_uri).hex == epc.hex
True
>>> plus = decode("F73795211411234538566CB0AFC4")
>>> plus.scheme, plus.pure_uri, plus.digital_link
('sgtin+', None, 'https://id.gs1.org/01/79521141123453/21/32a%2Fb')
"""

from gateway.gs1.epc.decoder import FORMS, decode, decode_batch
from gateway.gs1.epc.encoder import encode, parse_digital_link, parse_element_string
from gateway.gs1.epc.errors import (
    CapacityError,
    CompanyPrefixUnknownError,
    EPCError,
    FieldOverflowError,
    InvalidCharacterError,
    InvalidNumericStringError,
    InvalidPartitionError,
    InvalidStringError,
    InvalidURIError,
    InvalidValueError,
    NonGS1AFIError,
    NotHexError,
    PCLengthError,
    SerialLeadingZeroError,
    TIDInEPCBankError,
    TrailingDataError,
    TruncatedError,
    UnknownHeaderError,
    UnprogrammedError,
)
from gateway.gs1.epc.gcp import CompanyPrefixTable
from gateway.gs1.epc.model import EPC
from gateway.gs1.epc.pc import PCWord, crc16_genibus

__all__ = [
    "EPC",
    "FORMS",
    "CapacityError",
    "CompanyPrefixTable",
    "CompanyPrefixUnknownError",
    "EPCError",
    "FieldOverflowError",
    "InvalidCharacterError",
    "InvalidNumericStringError",
    "InvalidPartitionError",
    "InvalidStringError",
    "InvalidURIError",
    "InvalidValueError",
    "NonGS1AFIError",
    "NotHexError",
    "PCLengthError",
    "PCWord",
    "SerialLeadingZeroError",
    "TIDInEPCBankError",
    "TrailingDataError",
    "TruncatedError",
    "UnknownHeaderError",
    "UnprogrammedError",
    "crc16_genibus",
    "decode",
    "decode_batch",
    "encode",
    "parse_digital_link",
    "parse_element_string",
]
