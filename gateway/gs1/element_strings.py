"""Unbracketed GS1 element strings, as scanners deliver them (FNC1 separators as GS).

>>> parse_element_string("010950600013435217201225" "10ABC123\\x1d21XYZ").pairs
(('01', '09506000134352'), ('17', '201225'), ('10', 'ABC123'), ('21', 'XYZ'))

A leading FNC1 marker (GS, or ``^`` as in the GS1 Syntax Engine's data strings, where ``^``
then stands for every FNC1) and superfluous separators after predefined-length AIs are
tolerated.  A variable-length value runs to the next separator or the end, never to its
maximum length, so a missing separator is reported, not guessed:

>>> try:
...     parse_element_string("0109506000134352" "10ABCDEFGHIJ123" "17201225")
... except GS1ParseError as exc:
...     print(exc.problems[0].message)
AI (10) BATCH/LOT: value has 21 characters, allows at most 20, at position 38 of \
'010950600013435210ABCDEFGHIJ12317201225'
"""

from __future__ import annotations

from gateway.gs1.ai import AI_LENGTH_BY_PREFIX, APPLICATION_IDENTIFIERS, PREDEFINED_LENGTH
from gateway.gs1.errors import STRICT, UNKNOWN_AI, GS1ParseError, GS1Problem, Profile, problem
from gateway.gs1.message import GS1Message, finish
from gateway.gs1.validate import rules_pass

GS = "\x1d"
# AI -> predefined value length, 0 when a separator ends the value; unknown AIs are absent.
_FIXED = {ai: PREDEFINED_LENGTH.get(ai, 0) for ai in APPLICATION_IDENTIFIERS}
KIND = "element-string"
__all__ = ["GS1ParseError", "parse_element_string", "split_element_string"]


def split_element_string(data: str, problems: list[GS1Problem], *, offset: int = 0,
                         source: str | None = None) -> tuple[list[tuple[str, str]], list[int]]:
    """Split ``data`` into ``(ai, value)`` pairs and value positions (plus ``offset``)."""
    source = data if source is None else source
    if data.startswith("^"):
        data = data.replace("^", GS)  # "^" is FNC1 throughout a Syntax Engine data string
    pairs: list[tuple[str, str]] = []
    positions: list[int] = []
    n = len(data)
    pos = 0
    while pos < n and data[pos] == GS:
        pos += 1
    ai_length = AI_LENGTH_BY_PREFIX.get
    fixed_length = _FIXED.get
    find = data.find
    while pos < n:
        ai_len = ai_length(data[pos:pos + 2])
        ai = data[pos:pos + ai_len] if ai_len else ""
        fixed = fixed_length(ai)
        if fixed is None:
            shown = ai or data[pos:pos + 4]
            problems.append(problem(source, UNKNOWN_AI, None, offset + pos,
                                    f"no known AI starts the data {shown!r}; cannot read further"))
            break
        start = pos + ai_len  # type: ignore[operator]
        if fixed:
            # A short value (cut by GS or the end) is left for validation to report.
            end = find(GS, start, start + fixed)
            if end == -1:
                end = start + fixed if start + fixed < n else n
        else:
            end = find(GS, start)
            if end == -1:
                end = n
        pairs.append((ai, data[start:end]))
        positions.append(offset + start)
        pos = end
        while pos < n and data[pos] == GS:
            pos += 1
    return pairs, positions


_FAST = {ai: (_FIXED[ai], entry.validate) for ai, entry in APPLICATION_IDENTIFIERS.items()}


def _fast_pairs(data: str, ais: list[str]) -> list[tuple[str, str]] | None:
    """Split and lint in one pass; ``None`` as soon as anything is off (then the full path
    runs again to collect every problem with its position)."""
    pairs: list[tuple[str, str]] = []
    n = len(data)
    pos = 0
    while pos < n and data[pos] == GS:
        pos += 1
    ai_length = AI_LENGTH_BY_PREFIX.get
    plan = _FAST.get
    find = data.find
    while pos < n:
        ai_len = ai_length(data[pos:pos + 2])
        if ai_len is None:
            return None
        ai = data[pos:pos + ai_len]
        step = plan(ai)
        if step is None:
            return None
        fixed, validate = step
        start = pos + ai_len
        if fixed:
            end = start + fixed
            if end > n:
                return None
        else:
            end = find(GS, start)
            if end == -1:
                end = n
        value = data[start:end]
        if validate(value) is not None:
            return None
        pairs.append((ai, value))
        ais.append(ai)
        pos = end
        while pos < n and data[pos] == GS:
            pos += 1
    return pairs


def parse_element_string(data: str, *, profile: Profile = STRICT) -> GS1Message:
    if data[:1] != "^":
        ais: list[str] = []
        pairs = _fast_pairs(data, ais)
        if pairs and rules_pass(tuple(ais)):
            return GS1Message(data, KIND, tuple(pairs))
    problems: list[GS1Problem] = []
    pairs, positions = split_element_string(data, problems)
    return finish(data, KIND, pairs, positions, problems, profile)
