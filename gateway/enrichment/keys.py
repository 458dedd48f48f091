"""Check-digit and format checks for the keys that appear in declarations and master data.

>>> gs1_ok("106141411234567897"), gs1_ok("106141411234567890")
(True, False)
>>> iso6346_ok("CSQU3054383"), iso6346_ok("CSQU3054384")
(True, False)
>>> lei_ok("5493001KJTIIGC8Y1R12"), eori_format_ok("DE123456789012345"), eori_format_ok("D1")
(True, True, False)
>>> find_ssccs("SSCC 340123450000000017, (00)340123450000000024 and 340123450000000025")
['340123450000000017', '340123450000000024']
"""

from __future__ import annotations

import functools
import re

from gateway.gs1.check_digit import is_valid
from gateway.vehicle import container_code, container_ok, country_code, plate_key

_EORI = re.compile(r"[A-Z]{2}[A-Za-z0-9]{1,15}")
_SSCC_CANDIDATE = re.compile(r"(?<![0-9])(?:\(00\)\s*)?([0-9]{18})(?![0-9])")


@functools.lru_cache(maxsize=16_384)
def gs1_ok(digits: str) -> bool:
    """A GS1 key whose last digit is the mod-10 check digit (GTIN, SSCC, GLN, GSIN, GSRN).

    Cached (a pure function of the string): one closed passage checks each of its keys several times
    (parsing its declaration, linking, the flag rules), and the same keys come back at every truck.
    """
    return is_valid(digits)


def iso6346_ok(container_id: str) -> bool:
    """ISO 6346 container number (owner code + category + 6 digits + check digit): :mod:`gateway.vehicle`."""
    return container_ok(container_id)


def lei_ok(lei: str) -> bool:
    """ISO 17442 LEI: 18 alphanumerics + 2 check digits, ISO 7064 MOD 97-10."""
    if not re.fullmatch(r"[A-Z0-9]{18}[0-9]{2}", lei):
        return False
    return int("".join(str(int(ch, 36)) for ch in lei)) % 97 == 1


def eori_format_ok(eori: str) -> bool:
    """EORI: ISO country code + up to 15 alphanumerics (an..17)."""
    return bool(_EORI.fullmatch(eori))


def find_ssccs(text: str) -> list[str]:
    """18-digit SSCC candidates in free text (shipping marks), keeping only valid check digits, in order."""
    out: list[str] = []
    for match in _SSCC_CANDIDATE.finditer(text):
        value = match.group(1)
        if gs1_ok(value) and value not in out:
            out.append(value)
    return out


def normalise_container(container_id: str) -> str:
    """A container number's comparison form (:func:`gateway.vehicle.container_code`)."""
    return container_code(container_id)[0]


def normalise_plate(plate: str) -> str:
    """Plates compared without spaces, dashes, dots and case (:func:`gateway.vehicle.plate_key`)."""
    return plate_key(plate)


def country_alpha2(code: str) -> str:
    """``'276'`` -> ``'DE'``; alpha-2 codes pass through; unknown codes are returned unchanged (upper case).

    AI 422 and GDSN carry ISO 3166 numeric codes, declarations alpha-2 (:func:`gateway.vehicle.country_code`).
    """
    return country_code(code) or code.upper()
