"""The classic (TDS 1.x-era) binary schemes: SGTIN-96 ... ADI-var, decode and encode.

Each scheme is a header, an optional filter, an optional partition segment and a list of tail
segments; ``tests/epc/test_tdt_tables.py`` checks these tables against the GS1 TDT 2.2 files.

>>> decode_classic(0x3074257BF7194E4000001A85, 96)[:3]
('sgtin-96', 3, ('0614141', '812345', '6789'))
>>> f"{encode_classic('sgtin-96', 3, ('0614141', '812345', '6789'))[0]:024X}"
'3074257BF7194E4000001A85'
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.gs1.epc.bits import BitReader, BitWriter
from gateway.gs1.epc.charsets import CSET6, CSET82
from gateway.gs1.epc.errors import (
    EPCError,
    FieldOverflowError,
    InvalidCharacterError,
    InvalidNumericStringError,
    InvalidPartitionError,
    InvalidStringError,
    InvalidValueError,
    SerialLeadingZeroError,
    TrailingDataError,
    TruncatedError,
)

# partition value -> (GCP digits L, GCP bits M)
GCP = ((12, 40), (11, 37), (10, 34), (9, 30), (8, 27), (7, 24), (6, 20))

# partition families -> per partition value (other-field digits/chars, other-field bits)
PARTITIONS: dict[str, tuple[tuple[int, int], ...]] = {
    "sgtin": ((1, 4), (2, 7), (3, 10), (4, 14), (5, 17), (6, 20), (7, 24)),  # padded digits
    "sscc": ((5, 18), (6, 21), (7, 24), (8, 28), (9, 31), (10, 34), (11, 38)),
    "sgln": ((0, 1), (1, 4), (2, 7), (3, 11), (4, 14), (5, 17), (6, 21)),
    "grai": ((0, 4), (1, 7), (2, 10), (3, 14), (4, 17), (5, 20), (6, 24)),
    "giai96": ((13, 42), (14, 45), (15, 48), (16, 52), (17, 55), (18, 58), (19, 62)),  # unpadded int
    "cpi96": ((3, 11), (4, 14), (5, 17), (6, 21), (7, 24), (8, 27), (9, 31)),  # unpadded int < 10^K
    "giai202": ((18, 148), (19, 151), (20, 154), (21, 158), (22, 161), (23, 164), (24, 168)),  # 7-bit
    "cpivar": ((18, 114), (19, 120), (20, 126), (21, 132), (22, 138), (23, 144), (24, 150)),  # 6-bit var
}
# how the partition's second field is coded
PART_KIND = {"sgtin": "pad", "sscc": "pad", "sgln": "pad", "grai": "pad", "giai96": "int",
             "cpi96": "int", "giai202": "str7", "cpivar": "str6"}


@dataclass(frozen=True, slots=True)
class ClassicScheme:
    name: str
    header: int
    bits: int | None  # None: variable length (CPI-var, ADI-var)
    filter_bits: int
    partition: str | None
    tail: tuple[tuple[str, int], ...]  # (kind, bits|max chars)

    @property
    def long(self) -> bool:
        return self.bits is None or self.bits > 96


SCHEMES: tuple[ClassicScheme, ...] = (
    ClassicScheme("sgtin-96", 0x30, 96, 3, "sgtin", (("int", 38),)),
    ClassicScheme("sgtin-198", 0x36, 198, 3, "sgtin", (("str7", 140),)),
    ClassicScheme("sscc-96", 0x31, 96, 3, "sscc", (("zero", 24),)),
    ClassicScheme("sgln-96", 0x32, 96, 3, "sgln", (("int", 41),)),
    ClassicScheme("sgln-195", 0x39, 195, 3, "sgln", (("str7", 140),)),
    ClassicScheme("grai-96", 0x33, 96, 3, "grai", (("int", 38),)),
    ClassicScheme("grai-170", 0x37, 170, 3, "grai", (("str7", 112),)),
    ClassicScheme("giai-96", 0x34, 96, 3, "giai96", ()),
    ClassicScheme("giai-202", 0x38, 202, 3, "giai202", ()),
    ClassicScheme("gsrn-96", 0x2D, 96, 3, "sscc", (("zero", 24),)),
    ClassicScheme("gsrnp-96", 0x2E, 96, 3, "sscc", (("zero", 24),)),
    ClassicScheme("gdti-96", 0x2C, 96, 3, "sgln", (("int", 41),)),
    ClassicScheme("gdti-113", 0x3A, 113, 3, "sgln", (("numstr", 58),)),
    ClassicScheme("gdti-174", 0x3E, 174, 3, "sgln", (("str7", 119),)),
    ClassicScheme("cpi-96", 0x3C, 96, 3, "cpi96", (("int", 31),)),
    ClassicScheme("cpi-var", 0x3D, None, 3, "cpivar", (("int12", 40),)),
    ClassicScheme("sgcn-96", 0x3F, 96, 3, "sgln", (("numstr", 41),)),
    ClassicScheme("itip-110", 0x40, 110, 3, "sgtin", (("fw2", 7), ("fw2", 7), ("int", 38))),
    ClassicScheme("itip-212", 0x41, 212, 3, "sgtin", (("fw2", 7), ("fw2", 7), ("str7", 140))),
    ClassicScheme("gid-96", 0x35, 96, 0, None, (("int", 28), ("int", 24), ("int", 36))),
    ClassicScheme("usdod-96", 0x2F, 96, 4, None, (("cage8", 48), ("int", 36))),
    ClassicScheme("adi-var", 0x3B, None, 6, None, (("cage6", 36), ("str6:0", 32), ("str6:1", 30))),
)
BY_HEADER = {s.header: s for s in SCHEMES}
BY_NAME = {s.name: s for s in SCHEMES}
POW10 = tuple(10**i for i in range(40))


# ------------------------------------------------------------------------------ strings
def decode_str7(value: int, nbits: int) -> str:
    """TDS 14.4.2 "String" decoding: 7-bit chars, non-empty, zero-terminated, Table A-1 only."""
    chars: list[str] = []
    n = nbits // 7
    ended = False
    for i in range(n):
        code = (value >> (nbits - 7 * (i + 1))) & 0x7F
        if code == 0:
            ended = True
            continue
        if ended:
            raise InvalidStringError("non-zero character after the string terminator")
        ch = chr(code)
        if ch not in CSET82:
            raise InvalidStringError(f"character 0x{code:02X} is not in TDS Table A-1")
        chars.append(ch)
    if value & ((1 << (nbits - 7 * n)) - 1):
        raise InvalidStringError("non-zero padding after the last 7-bit character")
    if not chars:
        raise InvalidStringError("empty string field")
    return "".join(chars)


def encode_str7(value: str, nbits: int, what: str) -> int:
    if not value:
        raise InvalidCharacterError(f"{what}: empty string", input=value)
    if len(value) > nbits // 7:
        raise FieldOverflowError(f"{what}: {len(value)} characters, at most {nbits // 7}", input=value)
    out = 0
    for ch in value:
        if ch not in CSET82:
            raise InvalidCharacterError(f"{what}: character {ch!r} is not in TDS Table A-1", input=value)
        out = (out << 7) | ord(ch)
    return out << (nbits - 7 * len(value))


def _char6(code: int) -> str:
    # Table G-1: 6-bit value -> ASCII 0x40-0x5F for 0-31, 0x20-0x3F for 32-63
    return chr(code + 0x40 if code < 32 else code)


def read_str6(r: BitReader, max_chars: int, min_chars: int, what: str) -> str:
    """TDS 14.4.8: 6-bit characters up to a ``000000`` terminator."""
    chars: list[str] = []
    while True:
        code = r.read(6)
        if code == 0:
            break
        ch = _char6(code)
        if ch not in CSET6:
            raise InvalidStringError(f"{what}: 6-bit value {code} is not an allowed character")
        chars.append(ch)
        if len(chars) > max_chars:
            raise FieldOverflowError(f"{what}: more than {max_chars} characters")
    if len(chars) < min_chars:
        raise InvalidStringError(f"{what}: fewer than {min_chars} characters")
    return "".join(chars)


def write_str6(w: BitWriter, value: str, max_chars: int, min_chars: int, what: str) -> None:
    if not min_chars <= len(value) <= max_chars:
        raise FieldOverflowError(f"{what}: {len(value)} characters, allowed {min_chars}..{max_chars}",
                                 input=value)
    for ch in value:
        if ch not in CSET6:
            raise InvalidCharacterError(f"{what}: character {ch!r} is not in TDS Table G-1", input=value)
        w.write(ord(ch) & 0x3F, 6)
    w.write(0, 6)


_CAGE_CHARS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")  # no I, O


def _check_cage(cage: str, what: str, decoding: bool) -> str:
    if len(cage) not in (5, 6) or any(ch not in _CAGE_CHARS for ch in cage):
        msg = f"{what}: {cage!r} is not a 5-character CAGE or 6-character DoDAAC"
        if decoding:
            raise InvalidStringError(msg)
        raise InvalidCharacterError(msg, input=cage)
    return cage


# ------------------------------------------------------------------------------ decode
def decode_classic(value: int, nbits: int) -> tuple[str, int | None, tuple[str, ...]]:
    """Decode the bits of a classic scheme: (scheme, filter, URI components)."""
    header = value >> (nbits - 8)
    scheme = BY_HEADER[header]
    if scheme.bits is not None and nbits < scheme.bits:
        raise TruncatedError(f"{scheme.name} needs {scheme.bits} bits, got {nbits}")
    r = BitReader(value, nbits, 8)
    filt = r.read(scheme.filter_bits) if scheme.filter_bits else None
    fields: list[str] = []
    if scheme.partition is not None:
        p = r.read(3)
        if p > 6:
            raise InvalidPartitionError(f"{scheme.name}: partition value {p}")
        digits, mbits = GCP[p]
        c = r.read(mbits)
        if c >= POW10[digits]:
            raise FieldOverflowError(f"{scheme.name}: company prefix {c} has more than {digits} digits")
        fields.append(f"{c:0{digits}d}")
        k, nb = PARTITIONS[scheme.partition][p]
        kind = PART_KIND[scheme.partition]
        if kind == "str6":
            fields.append(read_str6(r, k, 1, f"{scheme.name} component/part reference"))
        elif kind == "str7":
            text = decode_str7(r.read(nb), nb)
            if len(text) > k:
                raise FieldOverflowError(f"{scheme.name}: {len(text)} characters, at most {k} at partition {p}")
            fields.append(text)
        else:
            d = r.read(nb)
            if kind == "pad":
                if d >= POW10[k]:
                    raise FieldOverflowError(f"{scheme.name}: partition {p} field {d} has more than {k} digits")
                fields.append(f"{d:0{k}d}" if k else "")
            else:
                if d >= POW10[k]:
                    raise FieldOverflowError(f"{scheme.name}: field {d} has more than {k} digits")
                fields.append(str(d))
    for kind, n in scheme.tail:
        if kind == "int":
            fields.append(str(r.read(n)))
        elif kind == "str7":
            fields.append(decode_str7(r.read(n), n))
        elif kind == "zero":
            if r.read(n):
                raise InvalidValueError(f"{scheme.name}: reserved bits are not zero")
        elif kind == "numstr":
            s = str(r.read(n))
            if s[0] != "1" or len(s) < 2:
                raise InvalidNumericStringError(f"{scheme.name}: numeric string {s} does not start with 1")
            fields.append(s[1:])
        elif kind == "fw2":
            v = r.read(n)
            if v > 99:
                raise FieldOverflowError(f"{scheme.name}: piece/total {v} has more than 2 digits")
            fields.append(f"{v:02d}")
        elif kind == "int12":
            v = r.read(n)
            if v >= POW10[12]:
                raise FieldOverflowError(f"{scheme.name}: serial {v} has more than 12 digits")
            fields.append(str(v))
        elif kind == "cage8":
            raw = r.read(n).to_bytes(6, "big")
            if raw[0] == 0x20:
                raw = raw[1:]
            fields.append(_check_cage(raw.decode("latin-1"), "CAGE/DoDAAC", True))
        elif kind == "cage6":
            codes = [(r.read(6)) for _ in range(6)]
            if codes[0] == 0x20:
                codes = codes[1:]
            fields.append(_check_cage("".join(_char6(c) for c in codes), "CAGE/DoDAAC", True))
        else:  # str6:min
            fields.append(read_str6(r, n, int(kind[5:]), f"{scheme.name} field"))
    if not r.rest_is_zero():
        raise TrailingDataError(f"{scheme.name}: non-zero bits after bit {r.pos}")
    return scheme.name, filt, tuple(fields)


# ------------------------------------------------------------------------------ encode
def _digits(value: str, what: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise InvalidCharacterError(f"{what}: {value!r} is not all digits", input=value)
    return int(value)


def integer_serial(value: str, nbits: int, what: str) -> int:
    """TDS 14.3.1 "Integer" encoding: digits, no leading zero (unless "0"), < 2^nbits."""
    v = _digits(value, what)
    if len(value) > 1 and value[0] == "0":
        raise SerialLeadingZeroError(f"{what}: {value!r} has a leading zero; use the long scheme", input=value)
    if v >= 1 << nbits:
        raise FieldOverflowError(f"{what}: {value} does not fit in {nbits} bits", input=value)
    return v


def fits_integer(value: str, nbits: int) -> bool:
    try:
        integer_serial(value, nbits, "serial")
    except EPCError:
        return False
    return True


def encode_classic(name: str, filt: int | None, fields: tuple[str, ...]) -> tuple[int, int]:
    """Encode URI components into (value, bit length)."""
    scheme = BY_NAME[name]
    w = BitWriter()
    w.write(scheme.header, 8)
    if scheme.filter_bits:
        if filt is None or not 0 <= filt < 1 << scheme.filter_bits:
            raise FieldOverflowError(f"{name}: filter {filt} out of range", input=filt)
        w.write(filt, scheme.filter_bits)
    pos = 0
    if scheme.partition is not None:
        if len(fields) < 2:
            raise InvalidValueError(f"{name}: too few URI components", input=fields)
        gcp, other = fields[0], fields[1]
        _digits(gcp, "company prefix")
        p = next((i for i, (d, _) in enumerate(GCP) if d == len(gcp)), None)
        if p is None:
            raise FieldOverflowError(f"{name}: company prefix must have 6-12 digits, got {len(gcp)}", input=gcp)
        w.write(p, 3)
        w.write(int(gcp), GCP[p][1])
        k, nb = PARTITIONS[scheme.partition][p]
        kind = PART_KIND[scheme.partition]
        what = f"{name} partition field"
        if kind == "pad":
            if len(other) != k or (k and not other.isdigit()):
                raise FieldOverflowError(f"{what}: {other!r} must have exactly {k} digits for a "
                                         f"{len(gcp)}-digit company prefix", input=other)
            w.write(int(other) if k else 0, nb)
        elif kind == "int":
            v = integer_serial(other, nb, what)
            if v >= POW10[k]:
                raise FieldOverflowError(f"{what}: {other} has more than {k} digits", input=other)
            w.write(v, nb)
        elif kind == "str7":
            if len(other) > k:
                raise FieldOverflowError(f"{what}: {len(other)} characters, at most {k}", input=other)
            w.write(encode_str7(other, nb, what), nb)
        else:
            write_str6(w, other, k, 1, what)
        pos = 2
    tail = list(fields[pos:])
    specs = scheme.tail
    if len(tail) != sum(kind != "zero" for kind, _ in specs):
        raise InvalidValueError(f"{name}: wrong number of URI components", input=fields)
    for kind, n in specs:
        value = "" if kind == "zero" else tail.pop(0)
        what = f"{name} field {value!r}"
        if kind == "int":
            w.write(integer_serial(value, n, what), n)
        elif kind == "str7":
            w.write(encode_str7(value, n, what), n)
        elif kind == "zero":
            w.write(0, n)
        elif kind == "numstr":
            if value:
                _digits(value, what)
            if not value or 2 * POW10[len(value)] >= 1 << n:  # TDS 14.3.6: 2 x 10^D < 2^b
                raise FieldOverflowError(f"{what}: numeric string too long or empty", input=value)
            w.write(int("1" + value), n)
        elif kind == "fw2":
            if len(value) != 2:
                raise FieldOverflowError(f"{what}: piece/total must be 2 digits", input=value)
            w.write(_digits(value, what), n)
        elif kind == "int12":
            v = integer_serial(value, n, what)
            if v >= POW10[12]:
                raise FieldOverflowError(f"{what}: more than 12 digits", input=value)
            w.write(v, n)
        elif kind == "cage8":
            cage = _check_cage(value, "CAGE/DoDAAC", False)
            w.write(int.from_bytes(cage.rjust(6).encode(), "big"), 48)
        elif kind == "cage6":
            cage = _check_cage(value, "CAGE/DoDAAC", False)
            if len(cage) == 5:
                w.write(0x20, 6)
            for ch in cage:
                w.write(ord(ch) & 0x3F, 6)
        else:
            write_str6(w, value, n, int(kind[5:]), what)
    if scheme.bits is not None:
        w.write(0, scheme.bits - w.length)
    return w.value, w.length
