"""The TDS 2.x ``+`` schemes and the TDS 2.3 ``++`` schemes (with a custom hostname).

Layout: 8-bit header, 1-bit +AIDC data toggle, 3-bit filter, (DSGTIN: 4-bit date type and a
16-bit date), the scheme's AIs coded per Table F, (``++``: the hostname), then, when the toggle
is 1, +AIDC data (AI header + value, repeated) up to the end of the EPC bank.

>>> scheme, filt, toggle, elements, host = decode_plus(int("F73795211411234538566CB0AFC4", 16), 112)
>>> scheme, filt, toggle, elements, host
('sgtin+', 3, False, (('01', '79521141123453'), ('21', '32a/b')), None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.gs1.epc._tdt_tables import HOST_7BIT, HOST_14BIT
from gateway.gs1.epc.aidc import (
    decode_ai_value,
    encode_ai_value,
    read_ai_header,
    read_date6,
    write_ai_header,
    write_date6,
)
from gateway.gs1.epc.bits import BitReader, BitWriter
from gateway.gs1.epc.charsets import CODE40, CODE40_INDEX, CSET82
from gateway.gs1.epc.errors import (
    CapacityError,
    FieldOverflowError,
    InvalidCharacterError,
    InvalidValueError,
    TrailingDataError,
)


@dataclass(frozen=True, slots=True)
class PlusScheme:
    name: str
    header: int
    ais: tuple[str, ...]
    dated: bool = False
    hostname: bool = False


PLUS_SCHEMES: tuple[PlusScheme, ...] = (
    PlusScheme("sgtin+", 0xF7, ("01", "21")),
    PlusScheme("dsgtin+", 0xFB, ("01", "21"), dated=True),
    PlusScheme("sscc+", 0xF9, ("00",)),
    PlusScheme("sgln+", 0xF2, ("414", "254")),
    PlusScheme("grai+", 0xF1, ("8003",)),
    PlusScheme("giai+", 0xFA, ("8004",)),
    PlusScheme("gsrn+", 0xF4, ("8018",)),
    PlusScheme("gsrnp+", 0xF5, ("8017",)),
    PlusScheme("gdti+", 0xF6, ("253",)),
    PlusScheme("cpi+", 0xF0, ("8010", "8011")),
    PlusScheme("sgcn+", 0xF8, ("255",)),
    PlusScheme("itip+", 0xF3, ("8006", "21")),
    PlusScheme("sgtin++", 0xFD, ("01", "21"), hostname=True),
    PlusScheme("dsgtin++", 0xFC, ("01", "21"), dated=True, hostname=True),
    PlusScheme("sscc++", 0xEF, ("00",), hostname=True),
    PlusScheme("sgln++", 0xE9, ("414", "254"), hostname=True),
    PlusScheme("grai++", 0xEB, ("8003",), hostname=True),
    PlusScheme("giai++", 0xEE, ("8004",), hostname=True),
    PlusScheme("gsrn++", 0xE7, ("8018",), hostname=True),
    PlusScheme("gsrnp++", 0xE8, ("8017",), hostname=True),
    PlusScheme("gdti++", 0xEA, ("253",), hostname=True),
    PlusScheme("cpi++", 0xE6, ("8010", "8011"), hostname=True),
    PlusScheme("sgcn++", 0xEC, ("255",), hostname=True),
    PlusScheme("itip++", 0xED, ("8006", "21"), hostname=True),
)
PLUS_BY_HEADER = {s.header: s for s in PLUS_SCHEMES}
PLUS_BY_NAME = {s.name: s for s in PLUS_SCHEMES}

# TDS 14.5.3 prioritised date: 4-bit type -> AI
DATE_TYPES = ("11", "13", "15", "16", "17", "7006", "7007")
MAX_BITS = 496  # EPC bank capacity with a 5-bit PC length (464 with XPC_W1)


# ------------------------------------------------------------------------------ hostname
def read_hostname(r: BitReader) -> str:
    """TDS 14.5.16: 1-bit indicator (0 URN Code 40, 1 optimised 7-bit), 6-bit length, data.

    For the 7-bit form the length counts encoded sequences: a character, a 7-bit optimisation
    (``id.``, ``.com`` ...) or a 14-bit TLD sequence each count once."""
    optimised = r.read(1)
    n = r.read(6)
    if not optimised:
        out = []
        for _ in range((n + 2) // 3):
            v = r.read(16) - 1
            if not 0 <= v < 64000:
                raise InvalidValueError("hostname: bad URN Code 40 triplet")
            out += [CODE40[i] for i in (v // 1600, (v // 40) % 40, v % 40) if i]
        return "".join(out)[:n].lower()
    parts = []
    for _ in range(n):
        code = r.read(7)
        text = HOST_14BIT.get(code << 7 | r.read(7)) if code < 4 else HOST_7BIT.get(code)
        if text is None:
            raise InvalidValueError(f"hostname: reserved 7-bit sequence {code:07b}")
        parts.append(text)
    return "".join(parts)


_TOKENS = sorted(((text, (1, code, 7)) for code, text in HOST_7BIT.items() if len(text) > 1),
                 key=lambda t: -len(t[0]))
_TOKENS14 = sorted(((text, (1, code, 14)) for code, text in HOST_14BIT.items()), key=lambda t: -len(t[0]))
_CHAR7 = {text: code for code, text in HOST_7BIT.items() if len(text) == 1}


def write_hostname(w: BitWriter, host: str) -> None:
    """Encode with the optimised 7-bit table (greedy: longest optimisation sequence first)."""
    if not host or len(host) > 253 or any(c not in CSET82 for c in host):
        raise InvalidCharacterError(f"hostname {host!r} cannot be encoded", input=host)
    seqs: list[tuple[int, int]] = []
    i = 0
    while i < len(host):
        for text, (_, code, nbits) in _TOKENS14 + _TOKENS:
            # TLD sequences only at a label end; 'id.'/'www.'/'qr.' anywhere a label starts
            if host.startswith(text, i) and _token_fits(host, i, text):
                seqs.append((code, nbits))
                i += len(text)
                break
        else:
            ch = host[i]
            seqs.append((_CHAR7.get(ch, ord(ch)), 7))
            i += 1
    if len(seqs) > 63:
        raise FieldOverflowError(f"hostname {host!r} needs {len(seqs)} sequences, at most 63", input=host)
    w.write(1, 1)
    w.write(len(seqs), 6)
    for code, nbits in seqs:
        w.write(code, nbits)


def _token_fits(host: str, i: int, text: str) -> bool:
    if text.startswith("."):  # a TLD: must end the hostname or a label
        end = i + len(text)
        return end == len(host) or host[end] == "."
    return i == 0 or host[i - 1] == "."  # 'id.', 'www.', 'qr.': start a label


def write_hostname_code40(w: BitWriter, host: str) -> None:
    up = host.upper()
    if any(c not in CODE40_INDEX for c in up):
        raise InvalidCharacterError(f"hostname {host!r} cannot use URN Code 40", input=host)
    w.write(0, 1)
    w.write(len(up), 6)
    for i in range(0, len(up), 3):
        idx = [CODE40_INDEX[c] for c in up[i:i + 3]] + [0, 0]
        w.write(1600 * idx[0] + 40 * idx[1] + idx[2] + 1, 16)


# ------------------------------------------------------------------------------ decode
def decode_plus(value: int, nbits: int) -> tuple[str, int, bool, tuple[tuple[str, str], ...], str | None]:
    """(scheme, filter, +AIDC toggle, ordered AI pairs, hostname)."""
    header = value >> (nbits - 8)
    scheme = PLUS_BY_HEADER[header]
    r = BitReader(value, nbits, 8)
    toggle = bool(r.read(1))
    filt = r.read(3)
    elements: list[tuple[str, str]] = []
    date: tuple[str, str] | None = None
    if scheme.dated:
        kind = r.read(4)
        if kind >= len(DATE_TYPES):
            raise InvalidValueError(f"{scheme.name}: reserved date type {kind:04b}")
        date = (DATE_TYPES[kind], read_date6(r, "prioritised date"))
    for ai in scheme.ais:
        elements.append((ai, decode_ai_value(r, ai)))
    if date is not None:
        elements.append(date)
    host: str | None = read_hostname(r) if scheme.hostname else None
    if toggle:
        while True:
            if r.rest_is_zero():
                break
            extra_ai = read_ai_header(r)
            if extra_ai is None:
                break
            elements.append((extra_ai, decode_ai_value(r, extra_ai)))
    elif not r.rest_is_zero():
        raise TrailingDataError(f"{scheme.name}: non-zero bits after bit {r.pos} with the +AIDC toggle 0")
    return scheme.name, filt, toggle, tuple(elements), host


# ------------------------------------------------------------------------------ encode
def encode_plus(name: str, filt: int, elements: Sequence[tuple[str, str]], hostname: str | None = None,
                xpc: bool = False) -> tuple[int, int]:
    """Encode ordered AI pairs; the scheme's AIs must be present, any others become +AIDC data."""
    scheme = PLUS_BY_NAME[name]
    if not 0 <= filt <= 7:
        raise FieldOverflowError(f"{name}: filter {filt} out of range", input=filt)
    values = list(elements)
    own: dict[str, str] = {}
    for ai in scheme.ais:
        for i, (e_ai, e_value) in enumerate(values):
            if e_ai == ai:
                own[ai] = e_value
                del values[i]
                break
        else:
            raise InvalidValueError(f"{name} needs AI ({ai})", input=elements)
    date: tuple[str, str] | None = None
    if scheme.dated:
        for i, (e_ai, e_value) in enumerate(values):
            if e_ai in DATE_TYPES:
                date = (e_ai, e_value)
                del values[i]
                break
        else:
            raise InvalidValueError(f"{name} needs a date AI among {DATE_TYPES}", input=elements)
    w = BitWriter()
    w.write(scheme.header, 8)
    w.write(1 if values else 0, 1)
    w.write(filt, 3)
    if date is not None:
        w.write(DATE_TYPES.index(date[0]), 4)
        write_date6(w, date[1], f"AI ({date[0]})")
    for ai in scheme.ais:
        encode_ai_value(w, ai, own[ai])
    if scheme.hostname:
        if not hostname:
            raise InvalidValueError(f"{name} needs a hostname", input=elements)
        write_hostname(w, hostname)
    elif hostname:
        raise InvalidValueError(f"{name} cannot carry a hostname; use the '++' scheme", input=hostname)
    for ai, value in values:
        write_ai_header(w, ai)
        encode_ai_value(w, ai, value)
    cap = MAX_BITS - 32 if xpc else MAX_BITS
    if w.length > cap:
        raise CapacityError(f"{name}: {w.length} bits exceed the EPC bank capacity of {cap} bits",
                            input=elements)
    return w.value, w.length
