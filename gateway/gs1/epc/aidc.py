"""Binary coding of GS1 AI values per TDS 2.x section 14.5 and TDT Table F.

Used by the ``+``/``++`` schemes for their key AIs and for the +AIDC data appended after the
EPC (section 15.3).  The encoder picks the shortest variable-length encoding indicator.

>>> from gateway.gs1.epc.bits import BitWriter, BitReader
>>> w = BitWriter(); encode_ai_value(w, "21", "32a/b"); f"{w.value:011b}"[:8], w.length
('10000101', 43)
>>> decode_ai_value(BitReader(w.value, w.length), "21")
'32a/b'
"""

from __future__ import annotations

import calendar

from gateway.gs1.epc._tdt_tables import TABLE_F, TABLE_K
from gateway.gs1.epc.bits import BitReader, BitWriter
from gateway.gs1.epc.charsets import (
    BASE64URL,
    BASE64URL_INDEX,
    CODE40,
    CODE40_INDEX,
    CSET82,
    HEX_LOWER,
    HEX_UPPER,
)
from gateway.gs1.epc.errors import FieldOverflowError, InvalidCharacterError, InvalidValueError

Component = tuple[str, int, int, int, int]


def table_f(ai: str) -> tuple[Component, ...]:
    comps = TABLE_F.get(ai)
    if comps is None:
        raise InvalidValueError(f"AI ({ai}) has no binary encoding in TDT Table F", input=ai)
    return comps


def ai_length(first_two: str) -> int | None:
    """Length of the AI starting with these two digits (Table K), ``None`` if none exists."""
    return TABLE_K.get(first_two)


def _numeric_bits(n: int) -> int:
    return (POW10[n] - 1).bit_length() if n else 0


POW10 = tuple(10**i for i in range(100))


# ------------------------------------------------------------------------------ dates
def _check_date(yy: int, mm: int, dd: int, what: str) -> None:
    if not 1 <= mm <= 12 or dd > 31:
        raise InvalidValueError(f"{what}: implausible date {yy:02d}{mm:02d}{dd:02d}")
    # YY is interpreted in a 100-year window; Feb 29 is allowed (a leap year exists for any YY)
    days = 29 if mm == 2 else calendar.monthrange(2001, mm)[1]
    if dd > days:
        raise InvalidValueError(f"{what}: day {dd} exceeds month {mm}")
    if yy > 99:
        raise InvalidValueError(f"{what}: year {yy} > 99")


def read_date6(r: BitReader, what: str = "date") -> str:
    yy, mm, dd = r.read(7), r.read(4), r.read(5)
    _check_date(yy, mm, dd, what)
    return f"{yy:02d}{mm:02d}{dd:02d}"


def write_date6(w: BitWriter, value: str, what: str = "date") -> None:
    if len(value) != 6 or not value.isdigit():
        raise InvalidValueError(f"{what}: {value!r} is not YYMMDD", input=value)
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    _check_date(yy, mm, dd, what)
    w.write(yy, 7)
    w.write(mm, 4)
    w.write(dd, 5)


def _read_time(r: BitReader, parts: int, what: str) -> str:
    out = ""
    hh = r.read(5)
    out += f"{hh:02d}"
    mins = secs = 0
    if parts >= 2:
        mins = r.read(6)
        out += f"{mins:02d}"
    if parts >= 3:
        secs = r.read(6)
        out += f"{secs:02d}"
    if hh > 24 or mins > 59 or secs > 59 or (hh == 24 and (mins or secs)):
        raise InvalidValueError(f"{what}: implausible time {out}")
    return out


def _write_time(w: BitWriter, value: str, what: str) -> None:
    hh = int(value[:2])
    mins = int(value[2:4]) if len(value) >= 4 else 0
    secs = int(value[4:6]) if len(value) >= 6 else 0
    if hh > 24 or mins > 59 or secs > 59 or (hh == 24 and (mins or secs)):
        raise InvalidValueError(f"{what}: implausible time {value}", input=value)
    w.write(hh, 5)
    if len(value) >= 4:
        w.write(mins, 6)
    if len(value) >= 6:
        w.write(secs, 6)


# ------------------------------------------------------------------------------ variable-length
def read_alnum(r: BitReader, li_bits: int, max_chars: int, what: str) -> str:
    """TDS 14.5.6: 3-bit encoding indicator, length indicator, data."""
    ind = r.read(3)
    n = r.read(li_bits) if li_bits else 1
    if n > max_chars:
        raise FieldOverflowError(f"{what}: length {n} exceeds {max_chars}")
    if ind == 0:
        v = r.read(_numeric_bits(n))
        if v >= POW10[n]:
            raise FieldOverflowError(f"{what}: numeric value has more than {n} digits")
        return f"{v:0{n}d}" if n else ""
    if ind in (1, 2):
        v = r.read(4 * n)
        s = f"{v:0{n}X}" if n else ""
        return s if ind == 1 else s.lower()
    if ind == 3:
        return "".join(BASE64URL[r.read(6)] for _ in range(n))
    if ind == 4:
        chars = []
        for _ in range(n):
            ch = chr(r.read(7))
            if ch not in CSET82:
                raise InvalidValueError(f"{what}: 7-bit value 0x{ord(ch):02X} is not in the GS1 character set")
            chars.append(ch)
        return "".join(chars)
    if ind == 5:
        out = []
        for _ in range((n + 2) // 3):
            v = r.read(16) - 1
            if not 0 <= v < 64000:
                raise InvalidValueError(f"{what}: bad URN Code 40 triplet")
            for idx in (v // 1600, (v // 40) % 40, v % 40):
                if idx:
                    out.append(CODE40[idx])
        s = "".join(out)
        if len(s) != n:
            raise InvalidValueError(f"{what}: URN Code 40 data length {len(s)} != {n}")
        return s
    raise InvalidValueError(f"{what}: reserved encoding indicator {ind}")


def write_alnum(w: BitWriter, value: str, li_bits: int, max_chars: int, what: str) -> None:
    n = len(value)
    if n > max_chars or (li_bits and n >= 1 << li_bits):
        raise FieldOverflowError(f"{what}: {n} characters, at most {max_chars}", input=value)
    options: list[tuple[int, int]] = []  # (bits, indicator)
    if value.isdigit() and value.isascii():
        options.append((_numeric_bits(n), 0))
    chars = set(value)
    if chars <= HEX_UPPER:
        options.append((4 * n, 1))
    if chars <= HEX_LOWER:
        options.append((4 * n, 2))
    if all(c in BASE64URL_INDEX for c in value):
        options.append((6 * n, 3))
    if all(c in CODE40_INDEX for c in value):
        options.append((16 * ((n + 2) // 3), 5))
    if chars <= CSET82:
        options.append((7 * n, 4))
    if not options:
        bad = next(c for c in value if c not in CSET82)
        raise InvalidCharacterError(f"{what}: character {bad!r} is not in the GS1 character set", input=value)
    bits, ind = min(options)
    w.write(ind, 3)
    if li_bits:
        w.write(n, li_bits)
    if ind == 0:
        w.write(int(value) if n else 0, bits)
    elif ind in (1, 2):
        w.write(int(value, 16) if n else 0, bits)
    elif ind == 3:
        for c in value:
            w.write(BASE64URL_INDEX[c], 6)
    elif ind == 4:
        for c in value:
            w.write(ord(c), 7)
    else:
        for i in range(0, n, 3):
            idx = [CODE40_INDEX[c] for c in value[i:i + 3]] + [0, 0]
            w.write(1600 * idx[0] + 40 * idx[1] + idx[2] + 1, 16)


def read_varnum(r: BitReader, li_bits: int, max_chars: int, what: str) -> str:
    """TDS 14.5.13: length indicator then the digits as one integer (leading zeros kept)."""
    n = r.read(li_bits) if li_bits else 1
    if n > max_chars:
        raise FieldOverflowError(f"{what}: length {n} exceeds {max_chars}")
    v = r.read(_numeric_bits(n))
    if v >= POW10[n]:
        raise FieldOverflowError(f"{what}: value has more than {n} digits")
    return f"{v:0{n}d}" if n else ""


def write_varnum(w: BitWriter, value: str, li_bits: int, max_chars: int, what: str) -> None:
    if not (value.isdigit() and value.isascii()) and value:
        raise InvalidCharacterError(f"{what}: {value!r} is not numeric", input=value)
    n = len(value)
    if n > max_chars or (li_bits and n >= 1 << li_bits):
        raise FieldOverflowError(f"{what}: {n} digits, at most {max_chars}", input=value)
    if li_bits:
        w.write(n, li_bits)
    w.write(int(value) if n else 0, _numeric_bits(n))


# ------------------------------------------------------------------------------ one component
def _read_component(r: BitReader, comp: Component, what: str) -> str:
    fmt, chars, nbits, li_bits, max_chars = comp
    if fmt == "fln":
        v = r.read(nbits)
        s = f"{v:0{chars}X}"
        if not s.isdigit():
            raise InvalidValueError(f"{what}: non-decimal nibble in a fixed-length numeric field")
        return s
    if fmt == "fbn":
        v = r.read(nbits)
        if v >= POW10[chars]:
            raise FieldOverflowError(f"{what}: {v} has more than {chars} digits")
        return f"{v:0{chars}d}"
    if fmt == "van":
        return read_alnum(r, li_bits, max_chars, what)
    if fmt == "vnn":
        return read_varnum(r, li_bits, max_chars, what)
    if fmt == "dtn":
        digits = []
        while True:
            nib = r.read(4)
            if nib <= 9:
                digits.append(chr(48 + nib))
                if len(digits) > max_chars:
                    raise FieldOverflowError(f"{what}: more than {max_chars} characters")
            elif nib == 0xF:
                return "".join(digits)
            elif nib == 0xE:
                rest = read_alnum(r, li_bits or 5, max_chars, what)
                return "".join(digits) + rest
            else:
                raise InvalidValueError(f"{what}: nibble {nib:X} in delimited numeric data")
    if fmt == "d6":
        return read_date6(r, what)
    if fmt == "d10":
        return read_date6(r, what) + _read_time(r, 2, what)
    if fmt == "vdr":
        first = read_date6_after(r, what)
        return first
    if fmt == "vdt":
        ind = r.read(2)
        date = read_date6(r, what)
        return date if ind == 3 else date + _read_time(r, ind + 1, what)
    if fmt == "cc":
        a, b = r.read(6), r.read(6)
        if a > 25 or b > 25:
            raise InvalidValueError(f"{what}: country code letter out of A-Z")
        return chr(65 + a) + chr(65 + b)
    if fmt == "bit":
        return str(r.read(1))
    if fmt == "minus":
        return "-" if r.read(1) else ""
    if fmt == "seq":
        a, b = r.read(4), r.read(4)
        if not (1 <= a <= 9 and 1 <= b <= 9):
            raise InvalidValueError(f"{what}: sequence indicator digits out of 1-9")
        return f"{a}/{b}"
    raise InvalidValueError(f"{what}: unsupported Table F format {fmt}")  # pragma: no cover


def read_date6_after(r: BitReader, what: str) -> str:
    """TDS 14.5.10: 1-bit format indicator, then one date or a date range."""
    if r.read(1):
        return read_date6(r, what) + read_date6(r, what)
    return read_date6(r, what)


def _write_component(w: BitWriter, comp: Component, value: str, what: str) -> None:
    fmt, chars, nbits, li_bits, max_chars = comp
    if fmt in ("fln", "fbn"):
        if len(value) != chars or not (value.isdigit() and value.isascii()):
            raise InvalidValueError(f"{what}: {value!r} must be exactly {chars} digits", input=value)
        w.write(int(value, 16 if fmt == "fln" else 10), nbits)
    elif fmt == "van":
        write_alnum(w, value, li_bits, max_chars, what)
    elif fmt == "vnn":
        write_varnum(w, value, li_bits, max_chars, what)
    elif fmt == "dtn":
        i = 0
        while i < len(value) and "0" <= value[i] <= "9":
            i += 1
        if len(value) > max_chars:
            raise FieldOverflowError(f"{what}: more than {max_chars} characters", input=value)
        for ch in value[:i]:
            w.write(ord(ch) - 48, 4)
        if i == len(value):
            w.write(0xF, 4)
        else:
            w.write(0xE, 4)
            write_alnum(w, value[i:], li_bits or 5, max_chars, what)
    elif fmt == "d6":
        write_date6(w, value, what)
    elif fmt == "d10":
        if len(value) != 10 or not value.isdigit():
            raise InvalidValueError(f"{what}: {value!r} is not YYMMDDhhmm", input=value)
        write_date6(w, value[:6], what)
        _write_time(w, value[6:], what)
    elif fmt == "vdr":
        if len(value) not in (6, 12):
            raise InvalidValueError(f"{what}: {value!r} is not YYMMDD or YYMMDDYYMMDD", input=value)
        w.write(len(value) == 12, 1)
        write_date6(w, value[:6], what)
        if len(value) == 12:
            write_date6(w, value[6:], what)
    elif fmt == "vdt":
        if len(value) not in (6, 8, 10, 12) or not value.isdigit():
            raise InvalidValueError(f"{what}: {value!r} is not a date or date+time", input=value)
        w.write({6: 3, 8: 0, 10: 1, 12: 2}[len(value)], 2)
        write_date6(w, value[:6], what)
        if len(value) > 6:
            _write_time(w, value[6:], what)
    elif fmt == "cc":
        if len(value) != 2 or not all("A" <= c <= "Z" for c in value):
            raise InvalidValueError(f"{what}: {value!r} is not an ISO 3166 alpha-2 code", input=value)
        w.write(ord(value[0]) - 65, 6)
        w.write(ord(value[1]) - 65, 6)
    elif fmt == "bit":
        if value not in ("0", "1"):
            raise InvalidValueError(f"{what}: {value!r} is not 0 or 1", input=value)
        w.write(int(value), 1)
    elif fmt == "minus":
        if value not in ("", "-"):
            raise InvalidValueError(f"{what}: {value!r} is not '' or '-'", input=value)
        w.write(value == "-", 1)
    elif fmt == "seq":
        if len(value) != 3 or value[1] != "/" or not all("1" <= c <= "9" for c in value[::2]):
            raise InvalidValueError(f"{what}: {value!r} is not n/m", input=value)
        w.write(int(value[0]), 4)
        w.write(int(value[2]), 4)
    else:  # pragma: no cover
        raise InvalidValueError(f"{what}: unsupported Table F format {fmt}")


# ------------------------------------------------------------------------------ AI values
def decode_ai_value(r: BitReader, ai: str) -> str:
    what = f"AI ({ai})"
    return "".join(_read_component(r, comp, what) for comp in table_f(ai))


def encode_ai_value(w: BitWriter, ai: str, value: str) -> None:
    comps = table_f(ai)
    what = f"AI ({ai})"
    if len(comps) == 1:
        _write_component(w, comps[0], value, what)
        return
    first = comps[0]
    split = first[1] if first[1] else len(value)
    _write_component(w, first, value[:split], what)
    _write_component(w, comps[1], value[split:], what)


def read_ai_header(r: BitReader) -> str | None:
    """+AIDC data header (15.3): 2 BCD digits, plus 4 or 8 bits per Table K.

    ``None`` means the end of the data: a nibble A-F (special/reserved header) or too few bits."""
    if r.remaining < 8:
        return None
    head = r.peek(8)
    hi, lo = head >> 4, head & 0xF
    if hi > 9 or lo > 9:
        return None
    first = f"{hi}{lo}"
    length = ai_length(first)
    if length is None:
        raise InvalidValueError(f"+AIDC data: no GS1 AI starts with {first}")
    r.read(8)
    ai = first
    for _ in range(length - 2):
        nib = r.read(4)
        if nib > 9:
            raise InvalidValueError(f"+AIDC data: AI ({ai}...) has a non-decimal digit")
        ai += str(nib)
    return ai


def write_ai_header(w: BitWriter, ai: str) -> None:
    if ai_length(ai[:2]) != len(ai) or not ai.isdigit():
        raise InvalidValueError(f"AI ({ai}) cannot be encoded as +AIDC data", input=ai)
    for ch in ai:
        w.write(ord(ch) - 48, 4)
