"""Application Identifiers, as the GS1 Barcode Syntax Dictionary defines them.

Built once at import from the generated table :mod:`gateway.gs1._ai_table`; each AI gets a
precompiled validator so that parsing is a dictionary lookup plus a few C-level string
operations per element:

>>> ai = APPLICATION_IDENTIFIERS["17"]
>>> ai.title, ai.fnc1_required, ai.min_length, ai.max_length
('USE BY or EXPIRY', False, 6, 6)
>>> ai_length("4307...")  # the AI length follows from its first two digits
4
>>> APPLICATION_IDENTIFIERS["01"].dl_qualifiers
(('22', '10', '21'), ('235',))
>>> ai.validate("201325")
[('invalid-date', 2, 'month 13 is not 01-12')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.gs1._ai_table import AI_TABLE, DICTIONARY_RELEASE
from gateway.gs1.errors import TOO_LONG, TOO_SHORT
from gateway.gs1.linters import CHARSETS, LINTERS, Linter, LintResult, charset, cset64

Problems = list[tuple[str, int, str]]
Validator = Callable[[str], Problems | None]


@dataclass(frozen=True, slots=True)
class Component:
    """One part of an AI value: type ``N``/``X``/``Y``/``Z``, length range, linters."""

    kind: str
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ApplicationIdentifier:
    ai: str
    title: str
    predefined_length: bool
    dl_attribute: bool
    components: tuple[Component, ...]
    req: tuple[tuple[tuple[str, ...], ...], ...]
    ex: tuple[str, ...]
    dl_qualifiers: tuple[tuple[str, ...], ...] | None
    spec: str
    validate: Validator

    @property
    def fnc1_required(self) -> bool:
        """A separator must follow the value unless it ends the message."""
        return not self.predefined_length

    @property
    def is_dl_primary_key(self) -> bool:
        return self.dl_qualifiers is not None

    @property
    def min_length(self) -> int:
        return sum(c.min_length for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        return sum(c.max_length for c in self.components)

    @property
    def decimal_places(self) -> int | None:
        """Implied decimal position of 31nn-36nn and 390n-395n, else ``None``."""
        if len(self.ai) == 4 and ("310" <= self.ai[:3] <= "369" or "390" <= self.ai[:3] <= "395"):
            return int(self.ai[3])
        return None


def matches(pattern: str, ai: str) -> bool:
    """``True`` when ``ai`` matches a dictionary pattern such as ``310n`` or ``35nn``."""
    return len(pattern) == len(ai) and all(p == "n" or p == a for p, a in zip(pattern, ai, strict=True))


# Linters that cannot fail once an all-digit component of at least this length passed.
_IMPLIED_BY_DIGITS = {"gcppos1": 4, "gcppos2": 5, "csetnumeric": 1}


def _component_checks(kind: str, linter_names: tuple[str, ...], min_length: int = 0) -> tuple[Linter, ...]:
    cset = cset64 if kind == "Z" else charset(kind)
    names = [n for n in linter_names
             if not (kind == "N" and min_length >= _IMPLIED_BY_DIGITS.get(n, 1_000))]
    return (cset, *(LINTERS[name] for name in names))


def _compile(components: tuple[Component, ...]) -> Validator:
    if len(components) == 1:
        (comp,) = components
        lo, hi = comp.min_length, comp.max_length
        allowed = CHARSETS[comp.kind]
        checks = _component_checks(comp.kind, comp.linters, lo)
        cset_check, lints = checks[0], checks[1:]
        plain = comp.kind != "Z"

        def validate_one(value: str) -> Problems | None:
            n = len(value)
            if n < lo:
                return [(TOO_SHORT, n, f"value has {n} characters, needs at least {lo}")]
            if n > hi:
                return [(TOO_LONG, hi, f"value has {n} characters, allows at most {hi}")]
            if not plain or value.strip(allowed):
                bad = cset_check(value)
                if bad is not None:
                    return [bad]
            for lint in lints:
                result = lint(value)
                if result is not None:
                    return [result]
            return None

        return validate_one

    plan = tuple((c.min_length, c.max_length, c.optional, _component_checks(c.kind, c.linters, c.min_length))
                 for c in components)
    total_min = sum(c.min_length for c in components if not c.optional)
    total_max = sum(c.max_length for c in components)

    def validate_many(value: str) -> Problems | None:
        n = len(value)
        if n < total_min:
            return [(TOO_SHORT, n, f"value has {n} characters, needs at least {total_min}")]
        if n > total_max:
            return [(TOO_LONG, total_max, f"value has {n} characters, allows at most {total_max}")]
        problems: Problems = []
        pos = 0
        for lo, hi, optional, checks in plan:
            if pos >= n and optional:
                break
            take = min(hi, n - pos)
            if take < lo:
                problems.append((TOO_SHORT, n, f"component at {pos} needs {lo} characters, has {take}"))
                break
            part = value[pos:pos + take]
            for check in checks:
                result: LintResult = check(part)
                if result is not None:
                    problems.append((result[0], pos + result[1], result[2]))
                    break
            pos += take
        return problems or None

    return validate_many


def _build() -> dict[str, ApplicationIdentifier]:
    table: dict[str, ApplicationIdentifier] = {}
    for ai, (title, predefined, dl_attr, comps, req, ex, dlpkey, spec) in AI_TABLE.items():
        components = tuple(Component(*c) for c in comps)
        table[ai] = ApplicationIdentifier(ai, title, predefined, dl_attr, components, req, ex, dlpkey,
                                          spec, _compile(components))
    return table


#: Every AI of the dictionary, by its digits.
APPLICATION_IDENTIFIERS: dict[str, ApplicationIdentifier] = _build()

#: First two digits -> AI length (the dictionary guarantees one length per prefix).
AI_LENGTH_BY_PREFIX: dict[str, int] = {ai[:2]: len(ai) for ai in APPLICATION_IDENTIFIERS}

#: Fixed value length of the predefined-length AIs (no separator needed after them).
PREDEFINED_LENGTH: dict[str, int] = {
    ai: entry.max_length for ai, entry in APPLICATION_IDENTIFIERS.items() if entry.predefined_length
}

__all__ = ["AI_LENGTH_BY_PREFIX", "APPLICATION_IDENTIFIERS", "DICTIONARY_RELEASE", "ApplicationIdentifier",
           "Component", "ai_length", "matches"]


def ai_length(data: str) -> int | None:
    """Length of the AI at the start of ``data``, or ``None`` for an unknown prefix."""
    return AI_LENGTH_BY_PREFIX.get(data[:2])
