"""Compressed GS1 Digital Link URIs: the DL standard's binary packing, read and written.

A compressed URI carries its element strings as bits in one base64url path segment, either
all of them (*fully compressed*) or everything but the primary key, which stays readable
(*partially compressed*).  :func:`gateway.gs1.parse` recognises both on any domain:

>>> from gateway.gs1 import parse
>>> parse("https://id.gs1.org/AQnYUc1gmiCNV4JG").pairs
(('01', '05412345000013'), ('10', 'ABC123'))
>>> parse("https://example.com/01/05412345000013/EEarwSM").pairs
(('01', '05412345000013'), ('10', 'ABC123'))
>>> msg = parse("(01)05412345000013(10)ABC123(17)290331")
>>> msg.to_compressed_digital_link()
'https://id.gs1.org/AQnYUc1gmiCNV4JGLo3DY'
>>> msg.to_compressed_digital_link("https://example.com", uncompressed_primary=True)
'https://example.com/01/05412345000013/EEarwSMXRuGw'

The bit layout (as in GS1DigitalLinkToolkit.js and its Python port gs1-compression):

* An element starts with its AI, one 4-bit nibble per digit; the first two digits give the AI
  length (table P, here :data:`~gateway.gs1.ai.AI_LENGTH_BY_PREFIX`).  A first byte that is
  not two decimal digits is an *optimisation code* standing for a fixed AI sequence
  (:data:`OPTIMISATIONS`, e.g. ``0B`` = 01 then 10), or, with first nibble ``F``, a non-GS1
  ``key=value`` pair: 7-bit key length, key in 6-bit base64url characters, then the value as
  variable-length text with a 7-bit length.
* The value follows its AI's format (table F, :func:`value_format`): numeric parts as one
  binary number of ``ceil(n * log2(10) + 0.01)`` bits (variable parts first give their digit
  count), text parts as a 3-bit encoding - 0 digits, 1 lower-case hex, 2 upper-case hex,
  3 base64url (6 bits a character), 4 ASCII (7 bits) - then the length (variable parts
  only), then the characters.
* The bits are padded with zeros to a multiple of 6 and written in base64url.

Both reference implementations drop the leading zeros of numeric-encoded values on decoding
(a lot ``0012`` comes back as ``12``); here the digit count that the data carries is kept,
so nothing is ever truncated or guessed.  Any fault in the bits is a
:class:`~gateway.gs1.errors.GS1ParseError` with code ``dl-bad-compressed-data``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from urllib.parse import quote

from gateway.gs1.ai import AI_LENGTH_BY_PREFIX, APPLICATION_IDENTIFIERS
from gateway.gs1.dl_uri import Elements, Split, decode_segment
from gateway.gs1.errors import (
    DL_COMPRESSED,
    DL_DUPLICATE_AI,
    DL_GTIN_LENGTH,
    DL_NO_PRIMARY_KEY,
    DL_NOT_AN_ATTRIBUTE,
    DL_NOT_REPRESENTABLE,
    DL_QUALIFIER_ORDER,
    GS1ParseError,
    GS1Problem,
    problem,
)

__all__ = ["ALPHABET", "OPTIMISATIONS", "CompressedDataError", "compress", "decode_payload", "encode_payload",
           "looks_compressed", "split_compressed", "value_format"]

_AIS = APPLICATION_IDENTIFIERS

#: base64url (RFC 4648 section 5) without padding: character index = 6-bit value
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_SIX_BITS = {c: format(i, "06b") for i, c in enumerate(ALPHABET)}
_DIGITS = frozenset("0123456789")
_UPPER_HEX = frozenset("0123456789ABCDEF")
_LOWER_HEX = frozenset("0123456789abcdef")
_B64 = frozenset(ALPHABET)

#: Optimisation codes of the DL toolkit (its ``tableOpt``), in its order: one byte for a common
#: AI sequence.  The order matters: the encoder takes the first of equally good candidates.
OPTIMISATIONS: dict[str, tuple[str, ...]] = {
    "0A": ("01", "22"), "0B": ("01", "10"), "0C": ("01", "21"), "0D": ("01", "17"), "0E": ("01", "7003"),
    "0F": ("01", "30"), "1A": ("01", "10", "21", "17"), "1B": ("01", "15"), "1C": ("01", "11"),
    "1D": ("01", "16"), "1E": ("01", "91"), "1F": ("01", "10", "15"),
    **{f"2{x}": ("01", f"310{d}") for d, x in enumerate("ABCDEF")},
    **{f"3{x}": ("01", f"320{d}") for d, x in enumerate("ABCDEF")},
    "9A": ("8010", "8011"), "9B": ("8017", "8019"), "9C": ("8018", "8019"), "9D": ("414", "254"),
    **{f"A{d}": ("01", f"392{d}") for d in range(10)},
    **{f"C{d}": ("255", f"390{d}") for d in range(10)},
    **{f"C{x}": ("255", f"394{d}") for d, x in enumerate("ABCD")},
}


def _value_bits(digits: int) -> int:
    # The toolkit's formula, float for float: the +0.01 makes it differ from the exact bit
    # count for some lengths (59 digits get 197 bits, not 196), and the wire format follows it.
    return math.ceil(digits * math.log(10) / math.log(2) + 0.01)


def _length_bits(max_length: int) -> int:
    return math.ceil(math.log(max_length) / math.log(2) + 0.01)


_VALUE_BITS = tuple(_value_bits(n) for n in range(128))

# (numeric, length, variable): a fixed part has exactly ``length`` characters, a variable one
# at most ``length`` (which sets the width of its length field).
Part = tuple[bool, int, bool]

# Where the toolkit's table F is not what the dictionary's components give (older AI
# definitions that the compressed format froze, and 723n whose two text parts it joins):
# the wire format must follow the toolkit.
_TOOLKIT_FORMATS: dict[str, tuple[Part, ...]] = {
    "8007": ((False, 24, True),),
    "8013": ((False, 30, True),),
    **{f"723{d}": ((False, 30, True),) for d in range(10)},
}


@cache
def value_format(ai: str) -> tuple[Part, ...]:
    """Table F for ``ai``: the dictionary's components, merged the way the DL toolkit does.

    Adjacent components of the same kind (numeric, or any text set) are merged: the
    mandatory fixed-length ones at the start of a run make one fixed part, the rest of the
    run (optional or variable-length) one variable part.

    >>> value_format("01"), value_format("8008"), value_format("253")
    (((True, 14, False),), ((True, 8, False), (True, 4, True)), ((True, 13, False), (False, 17, True)))
    """
    known = _TOOLKIT_FORMATS.get(ai)
    if known is not None:
        return known
    runs: list[list[tuple[int, int, bool]]] = []
    kinds: list[bool] = []
    for comp in _AIS[ai].components:
        numeric = comp.kind == "N"
        if not kinds or kinds[-1] != numeric:
            kinds.append(numeric)
            runs.append([])
        runs[-1].append((comp.min_length, comp.max_length, comp.optional))
    parts: list[Part] = []
    for numeric, run in zip(kinds, runs, strict=True):
        fixed = 0
        i = 0
        while i < len(run) and run[i][0] == run[i][1] and not run[i][2]:
            fixed += run[i][0]
            i += 1
        if fixed:
            parts.append((numeric, fixed, False))
        if i < len(run):
            parts.append((numeric, sum(hi for _, hi, _ in run[i:]), True))
    return tuple(parts)


class CompressedDataError(Exception):
    """Malformed compressed data: ``bit`` is where the fault was found."""

    def __init__(self, bit: int, detail: str, ai: str | None = None) -> None:
        super().__init__(detail)
        self.bit = bit
        self.detail = detail
        self.ai = ai


class _Reader:
    __slots__ = ("ai", "bits", "pos")

    def __init__(self, segment: str) -> None:
        self.bits = "".join([_SIX_BITS[c] for c in segment])
        self.pos = 0
        self.ai: str | None = None

    def read(self, n: int) -> int:
        end = self.pos + n
        if end > len(self.bits):
            raise CompressedDataError(self.pos, f"the data ends inside a field ({n} more bits needed, "
                                                f"{len(self.bits) - self.pos} left)", self.ai)
        chunk = self.bits[self.pos:end]
        self.pos = end
        return int(chunk, 2) if n else 0

    def digits(self, n: int) -> str:
        start = self.pos
        number = self.read(_VALUE_BITS[n])
        if n == 0:
            return ""
        if number >= 10 ** n:
            raise CompressedDataError(start, f"the number {number} does not fit in {n} digits", self.ai)
        return str(number).zfill(n)

    def text(self, encoding: int, n: int) -> str:
        if encoding == 0:
            return self.digits(n)
        if encoding in (1, 2):
            alphabet = "0123456789abcdef" if encoding == 1 else "0123456789ABCDEF"
            return "".join([alphabet[self.read(4)] for _ in range(n)])
        if encoding == 3:
            return "".join([ALPHABET[self.read(6)] for _ in range(n)])
        if encoding == 4:
            return "".join([chr(self.read(7)) for _ in range(n)])
        raise CompressedDataError(self.pos, f"unknown character encoding {encoding} (0-4 are defined)", self.ai)

    def value(self, ai: str) -> str:
        self.ai = ai
        out: list[str] = []
        for numeric, length, variable in value_format(ai):
            if numeric:
                n = self.read(_length_bits(length)) if variable else length
                out.append(self.digits(n))
            else:
                encoding = self.read(3)
                n = self.read(_length_bits(length)) if variable else length
                out.append(self.text(encoding, n))
        self.ai = None
        return "".join(out)


def decode_payload(segment: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """GS1 ``(ai, value)`` pairs and non-GS1 ``(key, value)`` pairs packed in ``segment``.

    >>> decode_payload("AQnYUc1gmg")
    ([('01', '05412345000013')], [])

    Raises :class:`CompressedDataError` on anything malformed.
    """
    bad = next((i for i, c in enumerate(segment) if c not in _B64), None)
    if bad is not None:
        raise CompressedDataError(6 * bad, f"{segment[bad]!r} is not a base64url character")
    reader = _Reader(segment)
    total = len(reader.bits)
    pairs: list[tuple[str, str]] = []
    extensions: list[tuple[str, str]] = []
    while total - reader.pos > 8:  # anything shorter is padding (no element fits in 8 bits)
        start = reader.pos
        h1 = reader.read(4)
        h2 = reader.read(4)
        if h1 < 10 and h2 < 10:
            ai = f"{h1}{h2}"
            length = AI_LENGTH_BY_PREFIX.get(ai)
            if length is None:
                raise CompressedDataError(start, f"no Application Identifier starts with {ai}")
            while len(ai) < length:
                digit = reader.read(4)
                if digit > 9:
                    raise CompressedDataError(start, f"AI {ai}{digit:X}... is not all digits")
                ai += str(digit)
            if ai not in _AIS:
                raise CompressedDataError(start, f"({ai}) is not a known Application Identifier", ai)
            pairs.append((ai, reader.value(ai)))
        elif h1 == 15:
            key_length = h2 << 3 | reader.read(3)
            if key_length == 0:
                raise CompressedDataError(start, "a non-GS1 key is empty")
            key = "".join([ALPHABET[reader.read(6)] for _ in range(key_length)])
            if not set(key) - _DIGITS:
                raise CompressedDataError(start, f"non-GS1 key {key!r} is numeric (AIs are not packed so)")
            encoding = reader.read(3)
            extensions.append((key, reader.text(encoding, reader.read(7))))
        else:
            code = f"{h1:X}{h2:X}"
            sequence = OPTIMISATIONS.get(code)
            if sequence is None:
                raise CompressedDataError(start, f"{code} is neither an AI prefix nor an optimisation code")
            for ai in sequence:
                pairs.append((ai, reader.value(ai)))
    tail = reader.bits[reader.pos:]
    if len(tail) >= 6 or "1" in tail:
        raise CompressedDataError(reader.pos, f"{len(tail)} trailing bits {tail!r} are not zero padding")
    return pairs, extensions


class _Writer:
    __slots__ = ("bits", "what")

    def __init__(self) -> None:
        self.bits: list[str] = []
        self.what = ""

    def number(self, digits: str) -> None:
        self.bits.append(format(int(digits or "0"), f"0{_VALUE_BITS[len(digits)]}b"))

    def text(self, value: str, length_width: int) -> None:
        chars = set(value)
        if not value:
            encoding = 4  # as the toolkit does for an absent optional component
        elif chars <= _DIGITS:
            encoding = 0
        elif chars <= _UPPER_HEX:
            encoding = 2
        elif chars <= _LOWER_HEX:
            encoding = 1
        elif chars <= _B64:
            encoding = 3
        elif all(ord(c) < 128 for c in value):
            encoding = 4
        else:
            raise ValueError(f"{self.what}: {value!r} has characters outside 7-bit ASCII")
        self.bits.append(format(encoding, "03b"))
        if length_width:
            if len(value) >= 1 << length_width:
                raise ValueError(f"{self.what}: {len(value)} characters do not fit a {length_width}-bit length")
            self.bits.append(format(len(value), f"0{length_width}b"))
        if encoding == 0:
            self.number(value)
        elif encoding in (1, 2):
            self.bits.append("".join([format(int(c, 16), "04b") for c in value]))
        elif encoding == 3:
            self.bits.append("".join([_SIX_BITS[c] for c in value]))
        else:
            self.bits.append("".join([format(ord(c), "07b") for c in value]))

    def key(self, code: str) -> None:
        self.bits.append("".join([format(int(c, 16), "04b") for c in code]))

    def value(self, ai: str, value: str) -> None:
        self.what = f"AI ({ai})"
        pos = 0
        for numeric, length, variable in value_format(ai):
            # a variable part takes the rest, as in the toolkit: its length field decides what fits
            chunk = value[pos:] if variable else value[pos:pos + length]
            pos += len(chunk)
            if not variable and len(chunk) != length:
                raise ValueError(f"AI ({ai}): {value!r} is too short for the compressed format")
            if numeric:
                if not set(chunk) <= _DIGITS:
                    raise ValueError(f"AI ({ai}): {chunk!r} is not all digits")
                if variable:
                    width = _length_bits(length)
                    if len(chunk) >= 1 << width:
                        raise ValueError(f"AI ({ai}): {len(chunk)} digits do not fit a {width}-bit length")
                    self.bits.append(format(len(chunk), f"0{width}b"))
                self.number(chunk)
            else:
                self.text(chunk, _length_bits(length) if variable else 0)
        if pos != len(value):
            raise ValueError(f"AI ({ai}): {value!r} is too long for the compressed format")

    def extension(self, key: str, value: str) -> None:
        self.what = f"non-GS1 key {key!r}"
        self.bits.append("1111" + format(len(key), "07b") + "".join([_SIX_BITS[c] for c in key]))
        self.text(value, 7)

    def base64(self) -> str:
        bits = "".join(self.bits)
        bits += "0" * (-len(bits) % 6)
        return "".join([ALPHABET[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6)])


def _optimised(ais: list[str]) -> list[str]:
    """The toolkit's greedy choice: the code saving the most AI digits first, repeatedly."""
    codes: list[str] = []
    left = set(ais)
    while True:
        best, saved = "", 0
        for code, sequence in OPTIMISATIONS.items():
            if left.issuperset(sequence) and sum(map(len, sequence)) > saved:
                best, saved = code, sum(map(len, sequence))
        if not best:
            return codes
        codes.append(best)
        left.difference_update(OPTIMISATIONS[best])


def encode_payload(pairs: Sequence[tuple[str, str]], extensions: Sequence[tuple[str, str]] = (), *,
                   optimise: bool = False) -> str:
    """Pack ``pairs`` (AIs in ascending order, as the toolkit does) and non-GS1 ``extensions``.

    >>> encode_payload([("01", "05412345000013")])
    'AQnYUc1gmg'

    Raises ``ValueError`` for values the format cannot carry.
    """
    values = dict(pairs)
    writer = _Writer()
    ais = sorted(values)
    if optimise:
        for code in _optimised(ais):
            writer.key(code)
            for ai in OPTIMISATIONS[code]:
                writer.value(ai, values[ai])
                ais.remove(ai)
    for ai in ais:
        writer.key(ai)
        writer.value(ai, values[ai])
    for key, value in extensions:
        if not _packable_extension(key, value):
            raise ValueError(f"non-GS1 key {key!r} cannot be packed (1-127 base64url characters, not numeric)")
        writer.extension(key, value)
    return writer.base64()


def _packable_extension(key: str, value: str) -> bool:
    return (0 < len(key) < 128 and set(key) <= _B64 and not set(key) <= _DIGITS and len(value) < 128
            and all(ord(c) < 128 for c in value))


def compress(msg: Elements, domain: str, *, uncompressed_primary: bool = False, optimise: bool = False,
             compress_extensions: bool = False) -> str:
    """Compressed Digital Link URI for ``msg`` (see :meth:`GS1Message.to_compressed_digital_link`)."""
    values: dict[str, str] = {}
    for ai, value in msg.pairs:
        values.setdefault(ai, value)

    def refuse(ai: str | None, detail: str) -> GS1ParseError:
        return GS1ParseError(msg.data, [problem(msg.data, DL_NOT_REPRESENTABLE, ai, 0, detail)])

    key_ai = next((ai for ai in values if _AIS[ai].dl_qualifiers is not None), None)
    if key_ai is None:
        raise refuse(None, "no GS1 primary key to put in a Digital Link")
    qualifiers = {q for alt in _AIS[key_ai].dl_qualifiers or () for q in alt}
    for ai in values:
        if ai != key_ai and ai not in qualifiers and not _AIS[ai].dl_attribute:
            raise refuse(ai, "cannot be carried in a Digital Link URI")
    packed = [(ai, v) for ai, v in values.items() if not (uncompressed_primary and ai == key_ai)]
    inline = [kv for kv in msg.extensions if compress_extensions and _packable_extension(*kv)]
    query = [kv for kv in msg.extensions if kv not in inline]
    try:
        payload = encode_payload(packed, inline, optimise=optimise)
    except ValueError as exc:
        raise refuse(None, str(exc)) from None
    parts = [domain.rstrip("/")]
    if uncompressed_primary:
        parts += ["/", key_ai, "/", quote(values[key_ai], safe="")]
    if payload:
        parts += ["/", payload]
    if query:
        parts += ["?", "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)]
    return "".join(parts)


def looks_compressed(segment: str, *, partial: bool = False) -> bool:
    """Could ``segment`` be a compressed payload?  (4+ base64url characters; 3+ after a key.)

    A fully compressed URI needs at least 4 characters for its primary key, so short path
    words such as ``/products/123`` still get "no primary key".  An all-digit segment would
    start with a non-GS1 pair, never with a key, so it is not taken for compressed data
    either (``/410/5060917510004`` is a plain URI with an AI that is not a key).
    """
    chars = set(segment)
    return len(segment) >= (3 if partial else 4) and chars <= _B64 and not chars <= _DIGITS


def split_compressed(segments: list[str], starts: list[int], out: Split, problems: list[GS1Problem],
                     offset: int, source: str) -> bool:
    """Fill ``out`` from a compressed URI path; ``False`` when the path does not look compressed.

    ``segments``/``starts`` are the path segments and their positions.  The partially
    compressed form is ``.../{key AI}/{key}/{payload}``; otherwise the last segment is the
    whole payload and anything before it is the URI stem.
    """
    entry = _AIS.get(segments[-3]) if len(segments) >= 3 else None
    partial = entry is not None and entry.dl_qualifiers is not None
    if not looks_compressed(segments[-1], partial=partial):
        return False
    at = offset + starts[-1]
    try:
        pairs, extensions = decode_payload(segments[-1])
    except CompressedDataError as exc:
        problems.append(problem(source, DL_COMPRESSED, exc.ai, at + exc.bit // 6,
                                f"no GS1 key in the path, and {_short(segments[-1])} is not valid compressed "
                                f"Digital Link data: {exc.detail}"))
        return True
    positions = [at] * len(pairs)
    if partial:
        key_ai = segments[-3]
        key_at = offset + starts[-2]
        key_value = decode_segment(source, segments[-2], key_at, False, problems)
        if key_ai == "01" and len(key_value) != 14:
            problems.append(problem(source, DL_GTIN_LENGTH, "01", key_at,
                                    f"a GTIN in a Digital Link must have 14 digits, not {len(key_value)}"))
        pairs.insert(0, (key_ai, key_value))
        positions.insert(0, key_at)
    _arrange(pairs, positions, out, problems, source, at)
    out.extensions.extend(extensions)
    return True


def _short(segment: str) -> str:
    return repr(segment) if len(segment) <= 24 else repr(segment[:23]) + "…"


def _arrange(pairs: list[tuple[str, str]], positions: list[int], out: Split, problems: list[GS1Problem],
             source: str, at: int) -> None:
    """Key first, its qualifiers in the dictionary's order, then the attributes (as in a plain URI)."""
    seen: set[str] = set()
    unique: list[tuple[tuple[str, str], int]] = []
    for pair, pos in zip(pairs, positions, strict=True):
        if pair[0] in seen:
            problems.append(problem(source, DL_DUPLICATE_AI, pair[0], pos, "appears twice in the compressed data"))
            continue
        seen.add(pair[0])
        unique.append((pair, pos))
    keys = [ai for (ai, _), _ in unique if _AIS[ai].dl_qualifiers is not None]
    if not keys:
        problems.append(problem(source, DL_NO_PRIMARY_KEY, None, at, "the compressed data has no GS1 primary key"))
        return
    key_ai = next((k for k in keys if _fits(k, seen)), keys[0])
    alternatives = _AIS[key_ai].dl_qualifiers or ()
    present = [q for alt in alternatives for q in alt if q in seen]
    order = next((alt for alt in alternatives if set(present) <= set(alt)), None)
    if order is None:
        problems.append(problem(source, DL_QUALIFIER_ORDER, key_ai, at,
                                f"key qualifiers {'/'.join(dict.fromkeys(present))} cannot be combined"))
        order = tuple(dict.fromkeys(present))
    rank = {key_ai: -1, **{q: i for i, q in enumerate(order)}}
    unique.sort(key=lambda item: rank.get(item[0][0], len(rank)))  # stable: attributes keep their order
    for (ai, value), pos in unique:
        if ai not in rank and not _AIS[ai].dl_attribute:
            problems.append(problem(source, DL_NOT_AN_ATTRIBUTE, ai, pos,
                                    "is not allowed as a Digital Link data attribute"))
            continue
        out.pairs.append((ai, value))
        out.positions.append(pos)


def _fits(key_ai: str, ais: set[str]) -> bool:
    qualifiers = {q for alt in _AIS[key_ai].dl_qualifiers or () for q in alt}
    return all(ai == key_ai or ai in qualifiers or _AIS[ai].dl_attribute for ai in ais)
