"""Golden vectors (GenSpecs / Digital Link standard examples) through every input form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.gs1 import LENIENT, GS1ParseError, parse

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "gs1" / "vectors.json").read_text())


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["input"][:50])
def test_valid(case: dict[str, object]) -> None:
    msg = parse(str(case["input"]))
    assert [list(p) for p in msg.pairs] == case["pairs"]
    if "dl" in case:
        assert msg.as_digital_link() == case["dl"]
    if "extensions" in case:
        assert [list(e) for e in msg.extensions] == case["extensions"]
    if "symbology" in case:
        assert msg.symbology == case["symbology"]
    # Every output form parses back to the same elements.
    assert parse(msg.as_hri()).pairs == msg.pairs
    assert parse(msg.as_element_string()).pairs == msg.pairs


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["input"][:50])
def test_invalid(case: dict[str, object]) -> None:
    data = str(case["input"])
    with pytest.raises(GS1ParseError) as info:
        parse(data)
    assert sorted({p.code for p in info.value.problems}) == sorted(case["codes"])  # type: ignore[call-overload]
    for p in info.value.problems:
        assert repr(data)[:20] in p.message or data[:10] in p.message  # the message names the input
        assert 0 <= p.position <= len(data)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(GS1ParseError) as info:
        parse("(01)09506000134353(17)201325(10)" + "X" * 21)
    assert [(p.code, p.ai, p.position) for p in info.value.problems] == [
        ("bad-check-digit", "01", 17), ("invalid-date", "17", 24), ("too-long", "10", 52),
    ]


def test_missing_separator_is_too_long_never_truncated() -> None:
    with pytest.raises(GS1ParseError) as info:
        parse("0109506000134352" "10ABCDEFGHIJKLMNOPQRS" "21XYZ")
    (p,) = info.value.problems
    assert (p.code, p.ai) == ("too-long", "10")


def test_lenient_profile_turns_req_and_day_zero_into_warnings() -> None:
    for data, code in (("(10)ABC", "req-missing"), ("(01)09506000134352(7006)240200", "date-day-zero")):
        with pytest.raises(GS1ParseError):
            parse(data)
        msg = parse(data, profile=LENIENT)
        assert [w.code for w in msg.warnings] == [code]
        assert msg.warnings[0].severity == "warning"


def test_literal_parenthesis_unescaped_is_kept_with_warning() -> None:
    msg = parse("(01)09506000134352(10)A(B")
    assert msg.get("10") == "A(B"
    assert [w.code for w in msg.warnings] == ["hri-ambiguous-parenthesis"]
    assert msg.as_hri() == "(01)09506000134352(10)A\\(B"


def test_forced_form() -> None:
    assert parse("0109506000134352", form="element-string").kind == "element-string"
    with pytest.raises(GS1ParseError):
        parse("(01)09506000134352", form="element-string")
    with pytest.raises(GS1ParseError):
        parse("0109506000134352", form="digital-link")
    with pytest.raises(GS1ParseError):
        parse("0109506000134352", form="scanner")


@pytest.mark.parametrize("data", ["]Q3", "]d2", "]C1", "]e0"])
def test_an_empty_symbol_is_not_a_gs1_message(data: str) -> None:
    """A symbology identifier with nothing after it is an error, like an empty element string (issue 20)."""
    with pytest.raises(GS1ParseError) as info:
        parse(data)
    (p,) = info.value.problems
    assert (p.code, p.position, info.value.kind) == ("syntax", 3, "scanner")
    assert p.message.startswith(f"no data after the symbology identifier {data}")
    with pytest.raises(GS1ParseError):
        parse("")  # the empty element string, for comparison
