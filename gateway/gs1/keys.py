"""GS1 keys as typed values, with check digit and company-prefix helpers.

>>> gtin = GTIN("09506000134352")
>>> gtin.indicator, gtin.check_digit, gtin.is_check_digit_valid, gtin.gs1_prefix
('0', '2', True, '950')
>>> gtin.company_prefix(7)
'9506000'
>>> GTIN.from_short("9506000134352").value     # EAN-13 padded to 14 digits
'09506000134352'
>>> SSCC("106141411234567897").company_prefix(7)
'0614141'
>>> GRAI("0950600013435212345ABC").serial
'12345ABC'

A GS1 Company Prefix has 4 to 12 digits and its length is only known from a GS1 lookup,
so ``company_prefix`` takes the length; :attr:`gs1_prefix` (the first three digits) is always
known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gateway.gs1.check_digit import check_digit


@dataclass(frozen=True, slots=True)
class GS1Key:
    """A GS1 identification key as it appears in its AI value."""

    value: str
    key_type: ClassVar[str] = "key"
    #: where the GS1 Company Prefix starts (after an indicator or extension digit)
    gcp_start: ClassVar[int] = 0
    #: length of the part that ends in a mod-10 check digit; 0 when there is none
    check_length: ClassVar[int] = 0

    @property
    def gs1_prefix(self) -> str:
        """First three digits of the company prefix (the issuing GS1 Member Organisation)."""
        return self.value[self.gcp_start:self.gcp_start + 3]

    def company_prefix(self, length: int) -> str:
        """The GS1 Company Prefix, given its length (4-12 digits, from a GS1 lookup)."""
        if not 4 <= length <= 12:
            raise ValueError(f"a GS1 Company Prefix has 4 to 12 digits, not {length}")
        return self.value[self.gcp_start:self.gcp_start + length]

    @property
    def check_digit(self) -> str | None:
        return self.value[self.check_length - 1] if self.check_length else None

    @property
    def is_check_digit_valid(self) -> bool:
        if not self.check_length:
            return True
        body = self.value[:self.check_length]
        return body.isascii() and body.isdigit() and check_digit(body[:-1]) == body[-1]

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class GTIN(GS1Key):
    key_type: ClassVar[str] = "gtin"
    gcp_start: ClassVar[int] = 1
    check_length: ClassVar[int] = 14

    @classmethod
    def from_short(cls, digits: str) -> GTIN:
        """GTIN-8/12/13 (as on EAN/UPC/ITF symbols) zero-padded to the 14 digits of AI (01)."""
        return cls(digits.rjust(14, "0"))

    @property
    def indicator(self) -> str:
        return self.value[0]


@dataclass(frozen=True, slots=True)
class SSCC(GS1Key):
    key_type: ClassVar[str] = "sscc"
    gcp_start: ClassVar[int] = 1
    check_length: ClassVar[int] = 18

    @property
    def extension_digit(self) -> str:
        return self.value[0]


@dataclass(frozen=True, slots=True)
class GLN(GS1Key):
    key_type: ClassVar[str] = "gln"
    check_length: ClassVar[int] = 13


@dataclass(frozen=True, slots=True)
class GSIN(GS1Key):
    key_type: ClassVar[str] = "gsin"
    check_length: ClassVar[int] = 17


@dataclass(frozen=True, slots=True)
class GSRN(GS1Key):
    key_type: ClassVar[str] = "gsrn"
    check_length: ClassVar[int] = 18


@dataclass(frozen=True, slots=True)
class _SerialisedKey(GS1Key):
    """A 13-digit base (with check digit) followed by an optional serial component."""

    check_length: ClassVar[int] = 13

    @property
    def base(self) -> str:
        return self.value[self.gcp_start:self.gcp_start + 13]

    @property
    def serial(self) -> str | None:
        return self.value[self.gcp_start + 13:] or None

    @property
    def check_digit(self) -> str | None:
        return self.base[-1]

    @property
    def is_check_digit_valid(self) -> bool:
        base = self.base
        return len(base) == 13 and base.isascii() and base.isdigit() and check_digit(base[:-1]) == base[-1]


@dataclass(frozen=True, slots=True)
class GRAI(_SerialisedKey):
    """AI (8003): a leading 0, the 13-digit asset type, then the optional serial."""

    key_type: ClassVar[str] = "grai"
    gcp_start: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class GDTI(_SerialisedKey):
    key_type: ClassVar[str] = "gdti"


@dataclass(frozen=True, slots=True)
class GCN(_SerialisedKey):
    key_type: ClassVar[str] = "sgcn"


@dataclass(frozen=True, slots=True)
class GIAI(GS1Key):
    key_type: ClassVar[str] = "giai"


@dataclass(frozen=True, slots=True)
class GINC(GS1Key):
    key_type: ClassVar[str] = "ginc"


@dataclass(frozen=True, slots=True)
class CPID(GS1Key):
    key_type: ClassVar[str] = "cpi"


@dataclass(frozen=True, slots=True)
class GMN(GS1Key):
    key_type: ClassVar[str] = "gmn"


@dataclass(frozen=True, slots=True)
class ITIP(GS1Key):
    """AI (8006)/(8026): the GTIN of the whole item, then piece and total (2 digits each)."""

    key_type: ClassVar[str] = "itip"
    gcp_start: ClassVar[int] = 1
    check_length: ClassVar[int] = 14

    @property
    def gtin(self) -> GTIN:
        return GTIN(self.value[:14])

    @property
    def piece(self) -> int:
        return int(self.value[14:16])

    @property
    def total(self) -> int:
        return int(self.value[16:18])


#: AI -> key class for AIs whose value is (or starts with) a GS1 key.
KEY_TYPES: dict[str, type[GS1Key]] = {
    "00": SSCC, "01": GTIN, "02": GTIN, "03": GTIN,
    "410": GLN, "411": GLN, "412": GLN, "413": GLN, "414": GLN, "415": GLN, "416": GLN, "417": GLN,
    "253": GDTI, "255": GCN, "401": GINC, "402": GSIN, "8003": GRAI, "8004": GIAI, "7023": GIAI,
    "8006": ITIP, "8026": ITIP, "8010": CPID, "8013": GMN, "8017": GSRN, "8018": GSRN,
}
