"""Problems found in GS1 data, and the one exception that carries all of them.

Parsing never stops at the first fault: every problem found is collected as a
:class:`GS1Problem` (a stable ``code``, the AI, the character position in the input and a
message that names the input) and raised together in one :class:`GS1ParseError`:

>>> from gateway.gs1 import parse
>>> try:
...     parse("(01)09506000134353(17)201325")
... except GS1ParseError as exc:
...     [(p.code, p.ai, p.position) for p in exc.problems]
[('bad-check-digit', '01', 17), ('invalid-date', '17', 24)]

A :class:`Profile` decides which codes are only warnings (see :data:`LENIENT`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]

# Stable problem codes (part of the JSON output; never rename).
UNKNOWN_AI = "unknown-ai"
EMPTY_VALUE = "empty-value"
TOO_SHORT = "too-short"
TOO_LONG = "too-long"
BAD_CHARACTER = "bad-character"
BAD_CHECK_DIGIT = "bad-check-digit"
INVALID_DATE = "invalid-date"
DATE_DAY_ZERO = "date-day-zero"
INVALID_TIME = "invalid-time"
INVALID_VALUE = "invalid-value"  # a linter other than dates, check digits and character sets
REQ_MISSING = "req-missing"
EXCLUSIVE_AIS = "mutually-exclusive-ais"
REPEATED_AI_DIFFERS = "repeated-ai-differs"
DIGSIG_NEEDS_SERIAL = "digsig-needs-serialised-key"
NOT_GS1 = "not-gs1"
SYNTAX = "syntax"
HRI_AMBIGUOUS_PARENTHESIS = "hri-ambiguous-parenthesis"
DL_NO_PRIMARY_KEY = "dl-no-primary-key"
DL_QUALIFIER_ORDER = "dl-bad-qualifier-sequence"
DL_UNKNOWN_QUERY_AI = "dl-unknown-query-ai"
DL_NOT_AN_ATTRIBUTE = "dl-ai-not-an-attribute"
DL_QUALIFIER_IN_QUERY = "dl-qualifier-in-query"
DL_DUPLICATE_AI = "dl-duplicate-ai"
DL_BAD_PERCENT_ENCODING = "dl-bad-percent-encoding"
DL_GTIN_LENGTH = "dl-gtin-not-14-digits"
DL_COMPRESSED = "dl-bad-compressed-data"
DL_NOT_REPRESENTABLE = "dl-not-representable"
SCANNER_BAD_PRIMARY = "scanner-bad-primary-data"


def describe_input(data: str, limit: int = 60) -> str:
    """``repr`` of the input, shortened so that messages stay readable."""
    if len(data) > limit:
        return repr(data[: limit - 1]) + "…"
    return repr(data)


@dataclass(frozen=True, slots=True)
class GS1Problem:
    """One fault in one input; ``position`` is a 0-based character index into the input."""

    code: str
    ai: str | None
    position: int
    message: str
    severity: Severity = "error"

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "ai": self.ai, "position": self.position,
                "message": self.message, "severity": self.severity}


class GS1ParseError(ValueError):
    """The input is not valid GS1 data; :attr:`problems` lists every error found."""

    def __init__(self, data: str, problems: list[GS1Problem] | tuple[GS1Problem, ...],
                 warnings: tuple[GS1Problem, ...] = (), kind: str | None = None) -> None:
        self.data = data
        self.problems = tuple(problems)
        self.warnings = warnings
        self.kind = kind
        lines = "; ".join(p.message for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in GS1 data {describe_input(data)}: {lines}")


@dataclass(frozen=True, slots=True)
class Profile:
    """Which problem codes are reported as warnings instead of failing the parse.

    Field data is imperfect: a lenient lane may accept a batch label scanned without its
    GTIN label (``req`` rules) or a "day 00" in a date that does not allow it.
    """

    name: str
    warnings: frozenset[str] = field(default_factory=frozenset)

    def is_warning(self, code: str) -> bool:
        return code in self.warnings


#: Literal "(" in bracketed data is legal but worth a warning in every profile.
STRICT = Profile("strict", frozenset({HRI_AMBIGUOUS_PARENTHESIS}))
LENIENT = Profile("lenient", frozenset({REQ_MISSING, DATE_DAY_ZERO, HRI_AMBIGUOUS_PARENTHESIS}))


def problem(data: str, code: str, ai: str | None, position: int, detail: str) -> GS1Problem:
    """One problem found in ``data``, its message saying where."""
    where = f"AI ({ai}) " if ai else ""
    return GS1Problem(code, ai, position, f"{where}{detail}, at position {position} of {describe_input(data)}")
