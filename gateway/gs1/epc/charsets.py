"""Character sets of the EPC encodings and the URI escaping TDS prescribes for them.

7-bit "String" fields carry the 82 characters of TDS Table A-1; in EPC URIs exactly seven of
them are percent-escaped.  6-bit fields (Table G) carry ``A-Z 0-9 - / #``; in URIs ``/`` and
``#`` are escaped.  Digital Link uses RFC 3986 (everything outside the unreserved set).

>>> uri_escape('32a/b"%&<>?')
'32a%2Fb%22%25%26%3C%3E%3F'
>>> uri_unescape('32a%2Fb')
'32a/b'
>>> uri_escape_6bit('PQ7/Z#3')
'PQ7%2FZ%233'
>>> dl_escape("a/b!(x)")
'a%2Fb%21%28x%29'
"""

from __future__ import annotations

import re
import string

from gateway.gs1.epc.errors import InvalidCharacterError, InvalidURIError

# TDS Table A-1 (= GS1 "CSET 82")
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
# TDS Table G-1 (6-bit): the characters EPC schemes allow
CSET6 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/#")

_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_ESCAPE6_TABLE = str.maketrans({"/": "%2F", "#": "%23"})
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


def uri_escape(value: str) -> str:
    """Escape a 7-bit string field for an EPC URI (exactly the seven TDS escapes)."""
    return value.translate(_ESCAPE_TABLE)


def uri_escape_6bit(value: str) -> str:
    """Escape a 6-bit string field for an EPC URI (``/`` and ``#``)."""
    return value.translate(_ESCAPE6_TABLE)


def uri_unescape(value: str, charset: frozenset[str] = CSET82) -> str:
    """Undo ``%xx`` escapes; every character must end up in ``charset``.

    Unescaped characters must be legal in a URI component: the seven escaped characters of
    Table A-1 (and ``#``) must not appear raw."""
    if "%" not in value:
        for ch in value:
            if ch not in charset or ch in _ESCAPES or ch == "#":
                raise InvalidCharacterError(f"character {ch!r} not allowed unescaped in an EPC URI",
                                            input=value)
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "%":
            m = _PCT.match(value, i)
            if m is None:
                raise InvalidURIError("'%' not followed by two hex digits", input=value)
            ch = chr(int(m.group(1), 16))
            if ch not in charset:
                raise InvalidCharacterError(f"escaped character {ch!r} not allowed", input=value)
            out.append(ch)
            i += 3
            continue
        if ch not in charset or ch in _ESCAPES or ch == "#":
            raise InvalidCharacterError(f"character {ch!r} not allowed unescaped in an EPC URI", input=value)
        out.append(ch)
        i += 1
    return "".join(out)


def dl_escape(value: str) -> str:
    """RFC 3986 percent-encoding of a Digital Link path segment or query value."""
    if all(c in _UNRESERVED for c in value):
        return value
    return "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def dl_unescape(value: str) -> str:
    try:
        return _PCT.sub(lambda m: chr(int(m.group(1), 16)), value)
    except ValueError as exc:  # pragma: no cover - regex guarantees hex
        raise InvalidURIError(str(exc), input=value) from exc


def check_cset82(value: str, what: str) -> None:
    for ch in value:
        if ch not in CSET82:
            raise InvalidCharacterError(f"{what}: character {ch!r} is not in TDS Table A-1", input=value)


def check_cset6(value: str, what: str) -> None:
    for ch in value:
        if ch not in CSET6:
            raise InvalidCharacterError(f"{what}: character {ch!r} is not in TDS Table G-1", input=value)


# --- TDS 2.x alphabets -------------------------------------------------------------------

BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
BASE64URL_INDEX = {c: i for i, c in enumerate(BASE64URL)}
# URN Code 40 (TDS Table 14-8); index 0 is the pad character
CODE40 = "\0ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:0123456789"
CODE40_INDEX = {c: i for i, c in enumerate(CODE40) if i}
HEX_UPPER = frozenset("0123456789ABCDEF")
HEX_LOWER = frozenset("0123456789abcdef")
