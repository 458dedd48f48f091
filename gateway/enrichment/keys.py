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
    """ISO 6346 container number (owner code + category + 6 digits + check digit)."""
    cid = container_id.replace(" ", "").replace("-", "").upper()
    if not re.fullmatch(r"[A-Z]{3}[UJZR][0-9]{7}", cid):
        return False
    values = []
    for ch in cid[:10]:
        if ch.isdigit():
            values.append(int(ch))
        else:  # A=10, skipping multiples of 11
            v = ord(ch) - ord("A") + 10
            v += (v - 1) // 10  # 11, 22, 33 are skipped
            values.append(v)
    total = sum(v << i for i, v in enumerate(values))
    return total % 11 % 10 == int(cid[10])


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
    return container_id.replace(" ", "").replace("-", "").upper()


def normalise_plate(plate: str) -> str:
    """Plates compared without spaces, dashes and case (ANPR prints them inconsistently)."""
    return re.sub(r"[^A-Z0-9]", "", plate.upper())


# ISO 3166-1 numeric -> alpha-2 for the trading partners seen most at EU land borders (AI 422 and
# GDSN carry numeric codes, declarations alpha-2).  Unknown numeric codes compare as themselves.
_NUMERIC_TO_ALPHA2 = {
    "008": "AL", "031": "AZ", "032": "AR", "036": "AU", "040": "AT", "051": "AM", "056": "BE", "070": "BA",
    "076": "BR", "100": "BG", "112": "BY", "124": "CA", "152": "CL", "156": "CN", "158": "TW", "170": "CO",
    "191": "HR", "196": "CY", "203": "CZ", "208": "DK", "218": "EC", "233": "EE", "246": "FI", "250": "FR",
    "268": "GE", "276": "DE", "300": "GR", "344": "HK", "348": "HU", "352": "IS", "356": "IN", "360": "ID",
    "364": "IR", "372": "IE", "376": "IL", "380": "IT", "392": "JP", "398": "KZ", "404": "KE", "410": "KR",
    "428": "LV", "438": "LI", "440": "LT", "442": "LU", "458": "MY", "470": "MT", "484": "MX", "498": "MD",
    "499": "ME", "504": "MA", "528": "NL", "554": "NZ", "566": "NG", "578": "NO", "586": "PK", "604": "PE",
    "608": "PH", "616": "PL", "620": "PT", "642": "RO", "643": "RU", "682": "SA", "688": "RS", "702": "SG",
    "703": "SK", "704": "VN", "705": "SI", "710": "ZA", "724": "ES", "752": "SE", "756": "CH", "764": "TH",
    "784": "AE", "788": "TN", "792": "TR", "804": "UA", "807": "MK", "818": "EG", "826": "GB", "840": "US",
    "858": "UY", "860": "UZ",
}


def country_alpha2(code: str) -> str:
    """``'276'`` -> ``'DE'``; alpha-2 codes pass through; unknown numeric codes are returned unchanged."""
    return _NUMERIC_TO_ALPHA2.get(code, code.upper())
