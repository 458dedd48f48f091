"""The bracketed human-readable form, ``(01)09506000134352(10)ABC123``.

No standard defines how a literal ``(`` is written inside a value, so both common
conventions are accepted: the Syntax Engine's escape ``\\(``, and an unescaped ``(`` that
does not open ``(`` + known AI + ``)`` (kept as data, with an ambiguity warning):

>>> parse_hri("(01)09506000134352(10)AB\\\\(1)(21)X").pairs
(('01', '09506000134352'), ('10', 'AB(1)'), ('21', 'X'))

Nothing is ever cut or dropped: an empty value is an error, not a missing element.
"""

from __future__ import annotations

from gateway.gs1.ai import APPLICATION_IDENTIFIERS
from gateway.gs1.errors import HRI_AMBIGUOUS_PARENTHESIS, STRICT, SYNTAX, GS1Problem, Profile, problem
from gateway.gs1.message import GS1Message, finish

KIND = "hri"
_AIS = APPLICATION_IDENTIFIERS


def _opens_element(data: str, j: int) -> bool:
    k = data.find(")", j + 1, j + 6)
    return k != -1 and data[j + 1:k] in _AIS


def split_hri(data: str, problems: list[GS1Problem]) -> tuple[list[tuple[str, str]], list[int]]:
    pairs: list[tuple[str, str]] = []
    positions: list[int] = []
    n = len(data)
    if not data.startswith("("):
        problems.append(problem(data, SYNTAX, None, 0, "bracketed data must start with '(' AI ')'"))
        return pairs, positions
    pos = 0
    while pos < n:
        close = data.find(")", pos + 1, pos + 6)
        ai = data[pos + 1:close] if close != -1 else ""
        if not (2 <= len(ai) <= 4 and ai.isascii() and ai.isdigit()):
            problems.append(problem(data, SYNTAX, None, pos, "expected '(' + a 2-4 digit AI + ')'"))
            break
        start = i = close + 1
        parts: list[str] = []
        while True:
            j = data.find("(", i)
            if j == -1:
                parts.append(data[i:])
                i = n
                break
            if j > 0 and data[j - 1] == "\\":
                parts.append(data[i:j - 1])
                parts.append("(")
                i = j + 1
                continue
            if _opens_element(data, j):
                parts.append(data[i:j])
                i = j
                break
            problems.append(problem(data, HRI_AMBIGUOUS_PARENTHESIS, ai, j,
                                    "literal '(' kept as data; write it as '\\(' to be unambiguous"))
            parts.append(data[i:j + 1])
            i = j + 1
        pairs.append((ai, parts[0] if len(parts) == 1 else "".join(parts)))
        positions.append(start)
        pos = i
    return pairs, positions


def parse_hri(data: str, *, profile: Profile = STRICT) -> GS1Message:
    problems: list[GS1Problem] = []
    pairs, positions = split_hri(data, problems)
    return finish(data, KIND, pairs, positions, problems, profile)
