"""Arbitrary text only ever raises GS1ParseError (never IndexError, TypeError ...)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.gs1 import LENIENT, GS1ParseError, parse
from gateway.gs1.parser import FORMS
from tests.support.fuzz import FUZZ_EXAMPLES

pytestmark = pytest.mark.fuzz  # ./run.sh fuzz (-m fuzz, the long profile) must include the GS1 parser

# Text biased towards GS1 syntax so that the fuzzer gets deep into every parser.
_PIECES = st.sampled_from(["01", "09506000134352", "17", "10", "21", "(", ")", "\\(", "\x1d", "^", "]C1", "]E0",
                           "]Q1", "]d2", "https://id.gs1.org/", "/01/", "/10/", "?", "&", "=", "%", "%2F", "%G",
                           "3103", "000525", "7007", "8030", "#", "+", "23", "99", "00", "8003", "0"])
GS1ISH = st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=12).map("".join)


def _check(data: str, form: str, lenient: bool) -> None:
    try:
        msg = parse(data, form=form, profile=LENIENT if lenient else None)
    except GS1ParseError as exc:
        assert exc.problems
        return
    # Whatever parses must also render and decode without surprises.
    msg.as_hri()
    msg.as_element_string()
    _ = msg.elements
    try:
        msg.as_digital_link()
    except GS1ParseError:
        pass


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=200), st.sampled_from(FORMS), st.booleans())
def test_arbitrary_text_only_raises_gs1_parse_error(data: str, form: str, lenient: bool) -> None:
    _check(data, form, lenient)


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(GS1ISH, st.sampled_from(FORMS), st.booleans())
def test_gs1_like_text_only_raises_gs1_parse_error(data: str, form: str, lenient: bool) -> None:
    _check(data, form, lenient)
