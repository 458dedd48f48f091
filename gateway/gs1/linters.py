"""The Syntax Dictionary's linters ("GS1 Barcode Syntax Tests"), in pure Python.

Each linter takes one component of an AI value and returns ``None`` when it is fine, or
``(code, offset, detail)`` with the offset of the offending character inside the component.
They follow the GS1 reference implementations (``lint_*.c`` in gs1/gs1-syntax-engine):

>>> csum("09506000134352") is None
True
>>> csum("09506000134353")
('bad-check-digit', 13, 'check digit should be 2, not 3')
>>> yymmd0("240200") is None, yymmdd("240200")[0]
(True, 'date-day-zero')
>>> csumalpha("1987654Ad4X4bL5ttr2310c2K") is None
True

Character sets (``N``, ``X`` = CSET 82, ``Y`` = CSET 39, ``Z`` = CSET 64) are checked with
``str.strip`` (all characters in the set exactly when nothing is left), which runs in C.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.gs1 import codelists
from gateway.gs1.check_digit import check_digit, is_valid
from gateway.gs1.errors import BAD_CHARACTER, BAD_CHECK_DIGIT, DATE_DAY_ZERO, INVALID_DATE, INVALID_TIME, INVALID_VALUE

LintResult = tuple[str, int, str] | None
Linter = Callable[[str], LintResult]

DIGITS = "0123456789"
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CSET64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # csumalpha check characters
HEX = "0123456789ABCDEFabcdef"

CHARSETS = {"N": DIGITS, "X": CSET82, "Y": CSET39, "Z": CSET64}
CHARSET_NAMES = {"N": "digits", "X": "CSET 82", "Y": "CSET 39", "Z": "CSET 64 (base64url)"}


def first_outside(value: str, allowed: str) -> int:
    """Index of the first character of ``value`` not in ``allowed`` (slow path only)."""
    for i, ch in enumerate(value):
        if ch not in allowed:
            return i
    return -1


def charset(kind: str) -> Linter:
    allowed = CHARSETS[kind]
    name = CHARSET_NAMES[kind]

    def check(value: str) -> LintResult:
        if not value.strip(allowed):
            return None
        i = first_outside(value, allowed)
        return BAD_CHARACTER, i, f"character {value[i]!r} is not allowed ({name} only)"

    return check


def cset64(value: str) -> LintResult:
    """Base64url with optional, correct ``=`` padding (AI 8030)."""
    body = value.rstrip("=")
    pads = len(value) - len(body)
    if pads > 2 or (pads and len(value) % 3 != 0):
        return BAD_CHARACTER, len(body), "bad base64 padding"
    if body.strip(CSET64):
        i = first_outside(body, CSET64)
        return BAD_CHARACTER, i, f"character {body[i]!r} is not allowed (CSET 64 only)"
    return None


def csum(value: str) -> LintResult:
    """GS1 mod-10 check digit in the last position."""
    if is_valid(value):
        return None
    return BAD_CHECK_DIGIT, len(value) - 1, f"check digit should be {check_digit(value[:-1])}, not {value[-1]}"


_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
    197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293, 307,
    311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421,
    431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509,
)
_CSET82_WEIGHT = {ch: i for i, ch in enumerate(CSET82)}


def csumalpha(value: str) -> LintResult:
    """GS1 alphanumeric check character pair (GMN 8013, MUDI 8014)."""
    n = len(value)
    if n < 2:
        return INVALID_VALUE, 0, "too short for a check character pair"
    if n - 2 > len(_PRIMES):
        return INVALID_VALUE, 0, "too long for a check character pair"
    for i in (n - 2, n - 1):
        if value[i] not in CSET32:
            return BAD_CHECK_DIGIT, i, f"check character {value[i]!r} is not in CSET 32"
    total = 0
    for i, ch in enumerate(value[:-2]):
        weight = _CSET82_WEIGHT.get(ch)
        if weight is None:
            return BAD_CHARACTER, i, f"character {ch!r} is not allowed (CSET 82 only)"
        total += weight * _PRIMES[n - 3 - i]
    total %= 1021
    expected = CSET32[total >> 5] + CSET32[total & 31]
    if value[-2:] != expected:
        return BAD_CHECK_DIGIT, n - 2, f"check characters should be {expected}, not {value[-2:]}"
    return None


def _gcp(value: str, start: int) -> LintResult:
    if len(value) < start + 4:
        return INVALID_VALUE, 0, "too short to hold a GS1 Company Prefix"
    head = value[start:start + 4]
    if head.strip(DIGITS):
        return INVALID_VALUE, start + first_outside(head, DIGITS), "GS1 Company Prefix must be digits"
    return None


def gcppos1(value: str) -> LintResult:
    return _gcp(value, 0)


def gcppos2(value: str) -> LintResult:
    return _gcp(value, 1)


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date(value: str, year_digits: int, day_zero_allowed: bool) -> LintResult:
    if len(value) != year_digits + 4 or value.strip(DIGITS):
        return INVALID_DATE, 0, "date must be digits"
    year = int(value[:year_digits])
    month = int(value[year_digits:year_digits + 2])
    day = int(value[year_digits + 2:])
    if not 1 <= month <= 12:
        return INVALID_DATE, year_digits, f"month {value[year_digits:year_digits + 2]} is not 01-12"
    if day == 0:
        if day_zero_allowed:
            return None
        return DATE_DAY_ZERO, year_digits + 2, "day 00 is not allowed in this date"
    last = _MONTH_DAYS[month]
    if month == 2:
        # Two-digit years fall in a -49/+50 window around today, where every 4th year leaps.
        leap = year % 4 == 0 if year_digits == 2 else (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
        last = 29 if leap else 28
    if day > last:
        return INVALID_DATE, year_digits + 2, f"day {value[-2:]} does not exist in that month"
    return None


# Every valid MMDD (with Feb 29), so that the common case is one set lookup.
_MMDD = frozenset(f"{m:02d}{d:02d}" for m in range(1, 13) for d in range(1, _MONTH_DAYS[m] + 1))
_MMD0 = _MMDD | {f"{m:02d}00" for m in range(1, 13)}


def yymmd0(value: str) -> LintResult:
    """YYMMDD where day 00 means "end of the month"."""
    mmdd = value[2:]
    if mmdd in _MMD0 and mmdd != "0229" and len(value) == 6 and not value[:2].strip(DIGITS):
        return None
    return _date(value, 2, True)


def yymmdd(value: str) -> LintResult:
    """YYMMDD, a real calendar date."""
    mmdd = value[2:]
    if mmdd in _MMDD and mmdd != "0229" and len(value) == 6 and not value[:2].strip(DIGITS):
        return None
    return _date(value, 2, False)


def yyyymmdd(value: str) -> LintResult:
    return _date(value, 4, False)


def yyyymmd0(value: str) -> LintResult:
    return _date(value, 4, True)


def _range(value: str, top: int, what: str, code: str = INVALID_TIME) -> LintResult:
    if len(value) != 2 or value.strip(DIGITS) or int(value) > top:
        return code, 0, f"{what} {value!r} is not 00-{top}"
    return None


def hh(value: str) -> LintResult:
    return _range(value, 23, "hour")


def mi(value: str) -> LintResult:
    return _range(value, 59, "minute")


def ss(value: str) -> LintResult:
    return _range(value, 59, "second")


def hhmi(value: str) -> LintResult:
    if len(value) != 4:
        return INVALID_TIME, 0, "time must be HHMM"
    return _range(value[:2], 23, "hour") or _shift(_range(value[2:], 59, "minute"), 2)


def _shift(result: LintResult, offset: int) -> LintResult:
    return None if result is None else (result[0], result[1] + offset, result[2])


def _member(codes: frozenset[str], what: str) -> Linter:
    def check(value: str) -> LintResult:
        if value in codes:
            return None
        return INVALID_VALUE, 0, f"{value!r} is not {what}"

    return check


iso3166 = _member(codelists.ISO3166_NUMERIC, "an ISO 3166 numeric country code")
iso3166999 = _member(codelists.ISO3166_NUMERIC | {"999"}, "an ISO 3166 numeric country code or 999")
iso3166alpha2 = _member(codelists.ISO3166_ALPHA2, "an ISO 3166 alpha-2 country code")
iso4217 = _member(codelists.ISO4217_NUMERIC, "an ISO 4217 numeric currency code")
iso5218 = _member(codelists.ISO5218, "an ISO/IEC 5218 sex code (0, 1, 2 or 9)")
mediatype = _member(codelists.MEDIA_TYPES, "an AIDC media type")
packagetype = _member(codelists.PACKAGE_TYPES, "a PackageTypeCode")
winding = _member(frozenset("019"), "a winding direction (0, 1 or 9)")
yesno = _member(frozenset("01"), "0 or 1")
zero = _member(frozenset("0"), "0")


def importeridx(value: str) -> LintResult:
    if len(value) == 1 and value in codelists.IMPORTER_INDEX_CHARS:
        return None
    return INVALID_VALUE, 0, f"{value!r} is not an importer index character"


def nonzero(value: str) -> LintResult:
    if value.strip("0"):
        return None
    return INVALID_VALUE, 0, "must not be zero"


def nozeroprefix(value: str) -> LintResult:
    if len(value) > 1 and value[0] == "0":
        return INVALID_VALUE, 0, "must not start with 0"
    return None


def hasnondigit(value: str) -> LintResult:
    if value.strip(DIGITS):
        return None
    return INVALID_VALUE, 0, "must contain at least one non-digit"


def hyphen(value: str) -> LintResult:
    if value.strip("-"):
        return INVALID_VALUE, first_outside(value, "-"), "only '-' is allowed here"
    return None


def pcenc(value: str) -> LintResult:
    """Percent-encoding in name and address AIs must be ``%`` + two hex digits."""
    i = value.find("%")
    while i != -1:
        pair = value[i + 1:i + 3]
        if len(pair) != 2 or pair.strip(HEX):
            return INVALID_VALUE, i, "'%' must be followed by two hex digits"
        i = value.find("%", i + 3)
    return None


def pieceoftotal(value: str) -> LintResult:
    half = len(value) // 2
    if len(value) % 2 or value.strip(DIGITS):
        return INVALID_VALUE, 0, "piece and total must be digits of equal width"
    piece, total = int(value[:half]), int(value[half:])
    if piece == 0:
        return INVALID_VALUE, 0, "piece number must not be zero"
    if total == 0:
        return INVALID_VALUE, half, "total must not be zero"
    if piece > total:
        return INVALID_VALUE, 0, f"piece {piece} is beyond the total {total}"
    return None


def posinseqslash(value: str) -> LintResult:
    pos, slash, end = value.partition("/")
    if not slash or not pos or not end or pos.strip(DIGITS) or end.strip(DIGITS):
        return INVALID_VALUE, 0, "must be position/end, e.g. 1/2"
    if int(pos) == 0 or int(end) == 0 or int(pos) > int(end):
        return INVALID_VALUE, 0, "position must be 1..end"
    return None


def latitude(value: str) -> LintResult:
    if len(value) != 10 or value.strip(DIGITS) or int(value) > 1_800_000_000:
        return INVALID_VALUE, 0, "latitude must be 0000000000-1800000000"
    return None


def longitude(value: str) -> LintResult:
    if len(value) != 10 or value.strip(DIGITS) or int(value) > 3_600_000_000:
        return INVALID_VALUE, 0, "longitude must be 0000000000-3600000000"
    return None


def iban(value: str) -> LintResult:
    n = len(value)
    if n < 4:
        return INVALID_VALUE, 0, "too short for an IBAN"
    if value[:2] not in codelists.ISO3166_ALPHA2:
        return INVALID_VALUE, 0, f"IBAN country {value[:2]!r} is not an ISO 3166 alpha-2 code"
    if n > 34:
        return INVALID_VALUE, 0, "too long for an IBAN"
    if n <= 10:
        return INVALID_VALUE, 0, "too short for an IBAN"
    total = 0
    for i in (*range(4, n), 0, 1, 2, 3):  # the IBAN check moves the first 4 to the end
        ch = value[i]
        if "0" <= ch <= "9":
            total = (total * 10 + ord(ch) - 48) % 97
        elif "A" <= ch <= "Z":
            total = (total * 100 + ord(ch) - 55) % 97
        else:
            return INVALID_VALUE, i, f"character {ch!r} is not allowed in an IBAN"
    if total != 1:
        return BAD_CHECK_DIGIT, 2, "IBAN check digits are wrong"
    return None


class _Coupon:
    """Cursor over a coupon value; each step raises :class:`_CouponError` on a fault."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.p = 0

    def fail(self, what: str, at: int | None = None) -> _CouponError:
        return _CouponError(INVALID_VALUE, self.p if at is None else at, what)

    def digit(self, what: str, allowed: str = DIGITS) -> int:
        if self.p >= len(self.value):
            raise self.fail(f"missing {what}", 0)
        ch = self.value[self.p]
        if ch not in allowed:
            raise self.fail(f"invalid {what} {ch!r}")
        self.p += 1
        return int(ch)

    def take(self, n: int, what: str) -> str:
        if len(self.value) - self.p < n:
            raise self.fail(f"truncated {what}")
        part = self.value[self.p:self.p + n]
        self.p += n
        return part

    def gcp(self, n: int, what: str) -> None:
        start = self.p
        if gcppos1(self.take(n, what)) is not None:
            raise self.fail(f"invalid {what}", start)

    def optional(self, flag: str) -> bool:
        if self.p < len(self.value) and self.value[self.p] == flag:
            self.p += 1
            return True
        return False

    def date(self, what: str) -> str:
        start = self.p
        part = self.take(6, what)
        if yymmdd(part) is not None:
            raise self.fail(f"invalid {what}", start)
        return part

    def end(self) -> None:
        if self.p != len(self.value):
            raise self.fail("excess data")


class _CouponError(Exception):
    def __init__(self, code: str, offset: int, detail: str) -> None:
        super().__init__(detail)
        self.result = (code, offset, detail)


def couponcode(value: str) -> LintResult:
    """North American coupon code in AI 8110 (GS1 US coupon guideline)."""
    if value.strip(DIGITS):
        return INVALID_VALUE, first_outside(value, DIGITS), "coupon data must be digits"
    c = _Coupon(value)
    try:
        c.gcp(c.digit("GCP length", "0123456") + 6, "GCP")
        c.take(6, "offer code")
        c.take(c.digit("save value length", "12345"), "save value")
        c.take(c.digit("1st purchase requirement length", "12345"), "1st purchase requirement")
        c.digit("1st purchase requirement code", "012349")
        c.take(3, "1st purchase family code")
        for field_no, ordinal in ((1, "2nd"), (2, "3rd")):
            if c.optional(str(field_no)):
                if field_no == 1:
                    c.digit("additional purchase rules code", "0123")
                c.take(c.digit(f"{ordinal} purchase requirement length", "12345"), f"{ordinal} purchase requirement")
                c.digit(f"{ordinal} purchase requirement code", "012349")
                c.take(3, f"{ordinal} purchase family code")
                vli = c.digit(f"{ordinal} purchase GCP length", "01234569")
                if vli != 9:
                    c.gcp(vli + 6, f"{ordinal} purchase GCP")
        expiry = c.date("expiration date") if c.optional("3") else None
        if c.optional("4"):
            start = c.date("start date")
            if expiry is not None and start > expiry:
                raise c.fail("expiration date is before start date", c.p - 14)
        if c.optional("5"):
            c.take(c.digit("serial number length") + 6, "serial number")
        if c.optional("6"):
            c.gcp(c.digit("retailer GCP/GLN length", "1234567") + 6, "retailer GCP/GLN")
        if c.optional("9"):
            c.digit("save value code", "01256")
            c.digit("save value applies to item", "012")
            c.digit("store coupon flag")
            c.digit("don't multiply flag", "01")
        c.end()
    except _CouponError as exc:
        return exc.result
    return None


def couponposoffer(value: str) -> LintResult:
    """Positive offer file coupon in AI 8112."""
    if value.strip(DIGITS):
        return INVALID_VALUE, first_outside(value, DIGITS), "coupon data must be digits"
    c = _Coupon(value)
    try:
        c.digit("format code", "01")
        c.take(c.digit("funder ID length", "0123456") + 6, "funder ID")
        c.take(6, "offer code")
        c.take(c.digit("serial number length") + 6, "serial number")
        c.end()
    except _CouponError as exc:
        return exc.result
    return None


#: Linter name (as used in the Syntax Dictionary) -> implementation.
LINTERS: dict[str, Linter] = {
    "csum": csum, "csumalpha": csumalpha, "gcppos1": gcppos1, "gcppos2": gcppos2,
    "yymmd0": yymmd0, "yymmdd": yymmdd, "yyyymmdd": yyyymmdd, "yyyymmd0": yyyymmd0,
    "hh": hh, "mi": mi, "ss": ss, "hhmi": hhmi,
    "iso3166": iso3166, "iso3166999": iso3166999, "iso3166alpha2": iso3166alpha2,
    "iso4217": iso4217, "iso5218": iso5218, "iban": iban, "mediatype": mediatype,
    "packagetype": packagetype, "importeridx": importeridx, "pieceoftotal": pieceoftotal,
    "posinseqslash": posinseqslash, "latitude": latitude, "longitude": longitude,
    "winding": winding, "yesno": yesno, "hyphen": hyphen, "pcenc": pcenc, "zero": zero,
    "nonzero": nonzero, "nozeroprefix": nozeroprefix, "hasnondigit": hasnondigit,
    "couponcode": couponcode, "couponposoffer": couponposoffer,
    "csetnumeric": charset("N"), "cset82": charset("X"), "cset39": charset("Y"), "cset64": cset64,
}
