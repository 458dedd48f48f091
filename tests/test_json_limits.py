"""The bracket scan of :mod:`gateway.json_limits` measures the depth the parser would build, strings aside."""

from __future__ import annotations

import doctest
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.json_limits as json_limits
from gateway.json_limits import MAX_DEPTH, JsonLimitError, check_depth, depth, loads

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    alphabet=st.sampled_from('[]{}"\\ab,:\u00e9\n'))
_documents = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(alphabet=st.sampled_from('[]{}"\\k'), max_size=4), inner, max_size=3), max_leaves=30)


def _real_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_real_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_real_depth(v) for v in value.values()), default=0)
    return 0


def test_doctests() -> None:
    result = doctest.testmod(json_limits)
    assert result.failed == 0 and result.attempted > 0


@settings(max_examples=300, deadline=None)
@given(_documents, st.booleans())
def test_depth_equals_the_nesting_the_parser_builds(document: Any, ascii_only: bool) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    assert depth(text) == _real_depth(document)
    assert depth(text.encode("utf-8")) == _real_depth(document)
    assert loads(text) == document


def test_the_limit_is_exact_and_checked_before_parsing() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    check_depth(at_limit)
    assert loads(at_limit) is not None
    for hostile in ("[" * (MAX_DEPTH + 1), "[" * 100_000, '{"a":' * 5000):  # not even valid JSON: refused first
        try:
            loads(hostile)
        except JsonLimitError as exc:
            assert str(exc) == f"JSON nested deeper than {MAX_DEPTH} levels"
        else:
            raise AssertionError("accepted")


def test_every_failure_is_one_typed_error() -> None:
    for bad in (b"\xff\xfe", b"{", b"[1,]", b"9" * 5000, b"", b"[" * 70000):
        try:
            loads(bad)
        except JsonLimitError:
            continue
        raise AssertionError(f"{bad[:10]!r} accepted")
