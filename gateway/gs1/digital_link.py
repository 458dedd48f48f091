"""GS1 Digital Link URIs, on any domain, parsed and generated.

>>> msg = parse_digital_link("https://example.com/shop/01/09506000134352/10/AB%2F1?17=201225&utm=x")
>>> msg.pairs, msg.extensions
((('01', '09506000134352'), ('10', 'AB/1'), ('17', '201225')), (('utm', 'x'),))
>>> msg.as_digital_link("https://id.example.org")
'https://id.example.org/01/09506000134352/10/AB%2F1?17=201225&utm=x'

Rules (DL URI Syntax standard, as the GS1 Syntax Engine applies them): the primary key is
found by scanning path pairs from the right; key qualifiers follow in the dictionary's order
(one alternative, e.g. 22/10/21 *or* 235); each path segment is percent-decoded after
splitting; numeric query keys must be AIs allowed as data attributes; other keys are kept as
non-GS1 extensions; a GTIN must have 14 digits; an AI may appear only once.  A path with
no plain key whose last segment is base64url is read as a compressed URI (see
:mod:`gateway.gs1.dl_compression`).
"""

from __future__ import annotations

from urllib.parse import quote, unquote, unquote_plus

from gateway.gs1.ai import APPLICATION_IDENTIFIERS
from gateway.gs1.errors import (
    DL_BAD_PERCENT_ENCODING,
    DL_DUPLICATE_AI,
    DL_GTIN_LENGTH,
    DL_NO_PRIMARY_KEY,
    DL_NOT_AN_ATTRIBUTE,
    DL_NOT_REPRESENTABLE,
    DL_QUALIFIER_IN_QUERY,
    DL_QUALIFIER_ORDER,
    DL_UNKNOWN_QUERY_AI,
    STRICT,
    SYNTAX,
    GS1ParseError,
    GS1Problem,
    Profile,
)
from gateway.gs1.message import GS1Message
from gateway.gs1.validate import finish, problem

KIND = "digital-link"
_AIS = APPLICATION_IDENTIFIERS
_HEX = "0123456789ABCDEFabcdef"
_DIGITS = "0123456789"
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:[]_~%!$&'()*+,;=@"


def is_digital_link(data: str) -> bool:
    head = data[:8].lower()
    return head.startswith("https://") or head.startswith("http://")


class _Split:
    __slots__ = ("extensions", "pairs", "positions")

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []
        self.positions: list[int] = []
        self.extensions: list[tuple[str, str]] = []


def _decode(source: str, segment: str, pos: int, plus: bool, problems: list[GS1Problem]) -> str:
    if "%" not in segment:
        return segment.replace("+", " ") if plus and "+" in segment else segment
    i = segment.find("%")
    while i != -1:
        pair = segment[i + 1:i + 3]
        if len(pair) != 2 or pair.strip(_HEX):
            problems.append(problem(source, DL_BAD_PERCENT_ENCODING, None, pos + i,
                                    "'%' must be followed by two hex digits"))
            return segment
        i = segment.find("%", i + 3)
    try:
        return (unquote_plus if plus else unquote)(segment, errors="strict")
    except UnicodeDecodeError:
        problems.append(problem(source, DL_BAD_PERCENT_ENCODING, None, pos, "percent-encoding is not UTF-8"))
        return segment


def _valid_sequence(qualifiers: list[str], alternatives: tuple[tuple[str, ...], ...]) -> bool:
    for alternative in alternatives:
        at = 0
        for q in qualifiers:
            try:
                at = alternative.index(q, at) + 1
            except ValueError:
                break
        else:
            return True
    return False


def split_digital_link(data: str, problems: list[GS1Problem], *, offset: int = 0,
                       source: str | None = None) -> _Split:
    source = data if source is None else source
    out = _Split()
    head = data[:8].lower()
    if head.startswith("https://"):
        at = 8
    elif head.startswith("http://"):
        at = 7
    else:
        problems.append(problem(source, SYNTAX, None, offset, "a Digital Link URI starts with http:// or https://"))
        return out
    hash_at = data.find("#")
    body = data if hash_at == -1 else data[:hash_at]  # the fragment is not data
    q_at = body.find("?")
    path_end = len(body) if q_at == -1 else q_at
    slash = body.find("/", at, path_end)
    host = body[at:path_end if slash == -1 else slash]
    if not host or host.strip(_HOST_CHARS):
        problems.append(problem(source, SYNTAX, None, offset + at, "the URI has no valid host"))
        return out
    if slash == -1:
        problems.append(problem(source, DL_NO_PRIMARY_KEY, None, offset + path_end, "the URI has no path"))
        return out
    segments = body[slash + 1:path_end].split("/")
    starts = []
    p = slash + 1
    for seg in segments:
        starts.append(p)
        p += len(seg) + 1

    key_index = -1
    for i in range(len(segments) - 2, -1, -2):
        entry = _AIS.get(segments[i])
        if entry is None:
            break
        if entry.dl_qualifiers is not None:
            key_index = i
            break
    if key_index == -1:
        from gateway.gs1.dl_compression import split_compressed  # only paid for when no plain key

        if split_compressed(segments, starts, out, problems, offset, source):
            key_ai = out.pairs[0][0] if out.pairs else ""
            qualifiers: tuple[tuple[str, ...], ...] = ()
            if key_ai in _AIS:
                qualifiers = _AIS[key_ai].dl_qualifiers or ()
            _query(body, q_at, out, problems, offset, source, qualifiers)
            return out
        problems.append(problem(source, DL_NO_PRIMARY_KEY, None, offset + slash,
                                "no GS1 primary key (e.g. /01/<GTIN>) in the URI path"))
        return out

    key_ai = segments[key_index]
    alternatives = _AIS[key_ai].dl_qualifiers or ()
    names = segments[key_index + 2::2]
    if not _valid_sequence(names, alternatives):
        allowed = " or ".join("/".join(alt) for alt in alternatives if alt) or "none"
        problems.append(problem(source, DL_QUALIFIER_ORDER, key_ai, offset + starts[key_index],
                                f"key qualifiers {'/'.join(names)} are not in an allowed order ({allowed})"))
    for i in range(key_index, len(segments), 2):
        ai = segments[i]
        raw = segments[i + 1]
        value = _decode(source, raw, offset + starts[i + 1], False, problems)
        if ai in dict(out.pairs):
            problems.append(problem(source, DL_DUPLICATE_AI, ai, offset + starts[i], "appears twice in the URI"))
        out.pairs.append((ai, value))
        out.positions.append(offset + starts[i + 1])
    gtin = out.pairs[0][1] if key_ai == "01" else None
    if gtin is not None and len(gtin) != 14:
        problems.append(problem(source, DL_GTIN_LENGTH, "01", offset + starts[key_index + 1],
                                f"a GTIN in a Digital Link must have 14 digits, not {len(gtin)}"))
    _query(body, q_at, out, problems, offset, source, alternatives)
    return out


def _query(body: str, q_at: int, out: _Split, problems: list[GS1Problem], offset: int, source: str,
           alternatives: tuple[tuple[str, ...], ...]) -> None:
    if q_at == -1:
        return
    qualifier_set = {q for alt in alternatives for q in alt}
    seen = {ai for ai, _ in out.pairs}
    pos = q_at + 1
    for param in body[q_at + 1:].split("&"):
        start = pos
        pos += len(param) + 1
        if not param:
            continue
        key, _, raw = param.partition("=")
        if key and not key.strip(_DIGITS):
            value_pos = offset + start + len(key) + 1
            if key not in _AIS:
                problems.append(problem(source, DL_UNKNOWN_QUERY_AI, key, offset + start,
                                        "numeric query key is not a known AI"))
                continue
            if key in qualifier_set:
                problems.append(problem(source, DL_QUALIFIER_IN_QUERY, key, offset + start,
                                        "is a key qualifier and belongs in the URI path"))
                continue
            if not _AIS[key].dl_attribute:
                problems.append(problem(source, DL_NOT_AN_ATTRIBUTE, key, offset + start,
                                        "is not allowed as a Digital Link data attribute"))
                continue
            if key in seen:
                problems.append(problem(source, DL_DUPLICATE_AI, key, offset + start, "appears twice in the URI"))
                continue
            seen.add(key)
            out.pairs.append((key, _decode(source, raw, value_pos, True, problems)))
            out.positions.append(value_pos)
        else:
            out.extensions.append((_decode(source, key, offset + start, True, problems),
                                   _decode(source, raw, offset + start + len(key) + 1, True, problems)))


def parse_digital_link(data: str, *, profile: Profile = STRICT) -> GS1Message:
    problems: list[GS1Problem] = []
    split = split_digital_link(data, problems)
    return finish(data, KIND, split.pairs, split.positions, problems, profile,
                  extensions=tuple(split.extensions))


def build_uri(msg: GS1Message, domain: str) -> str:
    """Canonical Digital Link for ``msg`` on ``domain`` (which may carry a path prefix)."""
    values: dict[str, str] = {}
    for ai, value in msg.pairs:
        values.setdefault(ai, value)
    key_ai = next((ai for ai in values if ai in _AIS and _AIS[ai].dl_qualifiers is not None), None)
    if key_ai is None:
        raise GS1ParseError(msg.data, [problem(msg.data, DL_NOT_REPRESENTABLE, None, 0,
                                               "no GS1 primary key to put in a Digital Link path")])
    alternatives = _AIS[key_ai].dl_qualifiers or ((),)
    best = max(alternatives, key=lambda alt: sum(q in values for q in alt))
    parts = [domain.rstrip("/"), "/", key_ai, "/", quote(values[key_ai], safe="")]
    used = {key_ai}
    for q in best:
        if q in values:
            parts += ["/", q, "/", quote(values[q], safe="")]
            used.add(q)
    query: list[str] = []
    for ai, value in values.items():
        if ai in used:
            continue
        entry = _AIS.get(ai)
        if entry is None or not entry.dl_attribute:
            raise GS1ParseError(msg.data, [problem(msg.data, DL_NOT_REPRESENTABLE, ai, 0,
                                                   "cannot be carried in a Digital Link URI")])
        query.append(f"{ai}={quote(value, safe='')}")
    query += [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in msg.extensions]
    if query:
        parts += ["?", "&".join(query)]
    return "".join(parts)
