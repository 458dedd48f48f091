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
:mod:`gateway.gs1.dl_compression`).  Writing a URI is :func:`gateway.gs1.dl_uri.build_uri` (what
``GS1Message.as_digital_link`` calls).
"""

from __future__ import annotations

from gateway.gs1.ai import APPLICATION_IDENTIFIERS
from gateway.gs1.dl_compression import split_compressed
from gateway.gs1.dl_uri import Split, decode_segment
from gateway.gs1.errors import (
    DL_DUPLICATE_AI,
    DL_GTIN_LENGTH,
    DL_NO_PRIMARY_KEY,
    DL_NOT_AN_ATTRIBUTE,
    DL_QUALIFIER_IN_QUERY,
    DL_QUALIFIER_ORDER,
    DL_UNKNOWN_QUERY_AI,
    STRICT,
    SYNTAX,
    GS1Problem,
    Profile,
    problem,
)
from gateway.gs1.message import GS1Message, finish

KIND = "digital-link"
_AIS = APPLICATION_IDENTIFIERS
_DIGITS = "0123456789"
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:[]_~%!$&'()*+,;=@"


def is_digital_link(data: str) -> bool:
    head = data[:8].lower()
    return head.startswith("https://") or head.startswith("http://")


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
                       source: str | None = None) -> Split:
    source = data if source is None else source
    out = Split()
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
        value = decode_segment(source, raw, offset + starts[i + 1], False, problems)
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


def _query(body: str, q_at: int, out: Split, problems: list[GS1Problem], offset: int, source: str,
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
            out.pairs.append((key, decode_segment(source, raw, value_pos, True, problems)))
            out.positions.append(value_pos)
        else:
            out.extensions.append((decode_segment(source, key, offset + start, True, problems),
                                   decode_segment(source, raw, offset + start + len(key) + 1, True, problems)))


def parse_digital_link(data: str, *, profile: Profile = STRICT) -> GS1Message:
    problems: list[GS1Problem] = []
    split = split_digital_link(data, problems)
    return finish(data, KIND, split.pairs, split.positions, problems, profile,
                  extensions=tuple(split.extensions))
