"""Validation shared by every input form: per-element linting plus message rules.

Each parser splits its input into ``(ai, value)`` pairs with the character position of each
value, collects its own syntax problems, and hands over to :func:`gateway.gs1.message.finish`,
which applies :func:`check_elements` here -- the dictionary (lengths, character sets, linters),
then the message-level rules (``req``, ``ex``, repeated AIs, 8030) -- and the profile, and either
raises one :class:`GS1ParseError` with every error or returns the :class:`GS1Message`.

>>> problems = []
>>> check_elements("(01)09506000134353", [("01", "09506000134353")], [4], problems)
>>> [p.code for p in problems], problems[0].message
(['bad-check-digit'], "AI (01) GTIN: check digit should be 2, not 3, at position 17 of '(01)09506000134353'")
"""

from __future__ import annotations

from functools import cache

from gateway.gs1.ai import APPLICATION_IDENTIFIERS, matches
from gateway.gs1.errors import (
    DIGSIG_NEEDS_SERIAL,
    EMPTY_VALUE,
    EXCLUSIVE_AIS,
    REPEATED_AI_DIFFERS,
    REQ_MISSING,
    UNKNOWN_AI,
    GS1Problem,
    problem,
)

_AIS = APPLICATION_IDENTIFIERS


@cache
def _expand(pattern: str) -> frozenset[str]:
    """Concrete AIs of the dictionary matching ``pattern`` (itself when it has no wildcard)."""
    if "n" not in pattern:
        return frozenset({pattern})
    head = pattern[:pattern.index("n")]
    return frozenset(ai for ai in _AIS if ai.startswith(head) and matches(pattern, ai))


def _req_text(instance: tuple[tuple[str, ...], ...]) -> str:
    return " or ".join("+".join(f"({a})" for a in alt) for alt in instance)


# Per AI, precompiled: req instances as (alternatives of (sets of which one must be present)),
# and the set of AIs excluded (never itself).
_REQ: dict[str, tuple[tuple[tuple[tuple[frozenset[str], ...], ...], str], ...]] = {
    ai: tuple((tuple(tuple(_expand(p) for p in alt) for alt in inst), _req_text(inst)) for inst in e.req)
    for ai, e in _AIS.items() if e.req
}
_EX: dict[str, frozenset[str]] = {
    ai: frozenset().union(*(_expand(p) for p in e.ex)) - {ai} for ai, e in _AIS.items() if e.ex
}

RuleFinding = tuple[str, str, str]  # code, ai, detail
_RULE_CACHE: dict[tuple[str, ...], tuple[RuleFinding, ...]] = {}
_RULE_CACHE_LIMIT = 4096


def _rules_for(ais: tuple[str, ...]) -> tuple[RuleFinding, ...]:
    """``req``/``ex``/8030 findings; they depend only on which AIs are present, so cache them."""
    present = set(ais)
    findings: list[RuleFinding] = []
    reported: set[frozenset[str]] = set()
    for ai in dict.fromkeys(ais):
        for alternatives, text in _REQ.get(ai, ()):
            if not any(all(not options.isdisjoint(present) for options in alt) for alt in alternatives):
                findings.append((REQ_MISSING, ai, f"requires {text}"))
        excluded = _EX.get(ai)
        if excluded is not None and not excluded.isdisjoint(present):
            for other in sorted(excluded & present):
                pair = frozenset((ai, other))
                if pair not in reported:
                    reported.add(pair)
                    findings.append((EXCLUSIVE_AIS, ai, f"must not appear together with AI ({other})"))
    return tuple(findings)


def rules_pass(ais: tuple[str, ...]) -> bool:
    """Fast check: no ``req``/``ex`` finding, no repeated AI and no 8030 for these AIs."""
    findings = _RULE_CACHE.get(ais)
    if findings is None:
        if len(_RULE_CACHE) >= _RULE_CACHE_LIMIT:
            _RULE_CACHE.clear()
        findings = _RULE_CACHE[ais] = _rules_for(ais)
    return not findings and len(set(ais)) == len(ais) and "8030" not in ais


def _message_rules(data: str, pairs: list[tuple[str, str]], positions: list[int],
                   problems: list[GS1Problem]) -> None:
    ais = tuple([ai for ai, _ in pairs])
    findings = _RULE_CACHE.get(ais)
    if findings is None:
        if len(_RULE_CACHE) >= _RULE_CACHE_LIMIT:
            _RULE_CACHE.clear()
        findings = _RULE_CACHE[ais] = _rules_for(ais)
    repeats = len(set(ais)) != len(ais)
    if not findings and not repeats and "8030" not in ais:
        return
    seen: dict[str, str] = {}
    where: dict[str, int] = {}
    for (ai, value), pos in zip(pairs, positions, strict=True):
        old = seen.get(ai)
        if old is None:
            seen[ai] = value
            where[ai] = pos
        elif old != value:
            problems.append(problem(data, REPEATED_AI_DIFFERS, ai, pos,
                                    f"repeated with a different value ({old!r} then {value!r})"))
    for code, ai, detail in findings:
        problems.append(problem(data, code, ai, where[ai], detail))
    if "8030" in seen and not _has_serialised_key(seen):
        problems.append(problem(data, DIGSIG_NEEDS_SERIAL, "8030", where["8030"],
                                "digital signature needs a key with its serial component"))


def _has_serialised_key(seen: dict[str, str]) -> bool:
    return bool(
        "00" in seen or "8004" in seen or "8017" in seen or "8018" in seen
        or ("21" in seen and ("01" in seen or "8006" in seen))
        or ("8010" in seen and "8011" in seen)
        or len(seen.get("253", "")) > 13 or len(seen.get("255", "")) > 13 or len(seen.get("8003", "")) > 14
    )


_VALIDATORS = {ai: entry.validate for ai, entry in _AIS.items()}
_TITLES = {ai: entry.title for ai, entry in _AIS.items()}


def check_elements(data: str, pairs: list[tuple[str, str]], positions: list[int],
                   problems: list[GS1Problem]) -> None:
    """Lint every value against its AI's components, then the message-level rules."""
    validators = _VALIDATORS
    for (ai, value), pos in zip(pairs, positions, strict=True):
        validate = validators.get(ai)
        if validate is None:
            problems.append(problem(data, UNKNOWN_AI, ai, pos, "is not a known Application Identifier"))
            continue
        found = validate(value)
        if found is not None:
            if not value:
                problems.append(problem(data, EMPTY_VALUE, ai, pos, "has an empty value"))
                continue
            for code, offset, detail in found:
                problems.append(problem(data, code, ai, pos + offset, f"{_TITLES[ai]}: {detail}"))
    _message_rules(data, pairs, positions, problems)
