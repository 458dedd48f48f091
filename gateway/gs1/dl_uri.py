"""The pieces of a GS1 Digital Link URI shared by its parser, its compressor and the message.

:func:`build_uri` writes the canonical URI of a message's elements; :func:`decode_segment`
percent-decodes one path segment or query part, noting what is wrong with it; :class:`Split` is
what splitting a URI finds.  Nothing here knows the :class:`~gateway.gs1.message.GS1Message`
class: any object with ``data``, ``pairs`` and ``extensions`` will do (:class:`Elements`).

>>> from gateway.gs1.message import GS1Message
>>> msg = GS1Message("(01)09506000134352(10)AB/1", "hri", (("01", "09506000134352"), ("10", "AB/1")))
>>> build_uri(msg, "https://example.com/p")
'https://example.com/p/01/09506000134352/10/AB%2F1'
>>> problems = []
>>> decode_segment("src", "AB%2F1", 0, False, problems), decode_segment("src", "AB%2", 0, False, problems)
('AB/1', 'AB%2')
>>> [p.code for p in problems]
['dl-bad-percent-encoding']
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote, unquote, unquote_plus

from gateway.gs1.ai import APPLICATION_IDENTIFIERS
from gateway.gs1.errors import DL_BAD_PERCENT_ENCODING, DL_NOT_REPRESENTABLE, GS1ParseError, GS1Problem, problem

_AIS = APPLICATION_IDENTIFIERS
_HEX = "0123456789ABCDEFabcdef"


class Elements(Protocol):
    """A message's elements as a URI needs them (a :class:`~gateway.gs1.message.GS1Message`)."""

    @property
    def data(self) -> str: ...

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def extensions(self) -> tuple[tuple[str, str], ...]: ...


class Split:
    """The pairs (with their positions in the input) and non-GS1 query parameters of a URI."""

    __slots__ = ("extensions", "pairs", "positions")

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []
        self.positions: list[int] = []
        self.extensions: list[tuple[str, str]] = []


def decode_segment(source: str, segment: str, pos: int, plus: bool, problems: list[GS1Problem]) -> str:
    """``segment`` percent-decoded (``plus``: ``+`` is a space, as in a query); a bad escape is noted."""
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


def build_uri(msg: Elements, domain: str) -> str:
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
