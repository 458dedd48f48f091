"""The GS1 mod-10 check digit (GS1 General Specifications §7.9.1): the one implementation.

GTIN, SSCC, GLN, GSIN, GSRN and the keys that embed one (GRAI, GDTI, GCN ...) end in it: weights
3, 1, 3, ... from the right of the digits before it.

>>> check_digit("0950600013435")
'2'
>>> is_valid("09506000134352"), is_valid("09506000134353"), is_valid("0950600013435x")
(True, False, False)
>>> with_check_digit("34012345000000001")
'340123450000000017'
"""

from __future__ import annotations

_CACHE: dict[str, str] = {}
_CACHE_SIZE = 4096


def check_digit(body: str) -> str:
    """The check digit of ``body`` (the digits without their check digit).

    Memoised in a small bounded dict: readers and cameras see the same few hundred keys over and over,
    and the result is a pure function of ``body``.
    """
    cached = _CACHE.get(body)
    if cached is not None:
        return cached
    b = body.encode("ascii", "replace")
    odd, even = b[-1::-2], b[-2::-2]  # each byte is 48 + digit
    result = "0123456789"[-(3 * (sum(odd) - 48 * len(odd)) + sum(even) - 48 * len(even)) % 10]
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[body] = result
    return result


def is_valid(digits: str) -> bool:
    """``digits`` (at least two ASCII digits) end in their check digit."""
    return len(digits) >= 2 and digits.isascii() and digits.isdigit() and check_digit(digits[:-1]) == digits[-1]


def with_check_digit(body: str) -> str:
    """``body`` followed by its check digit: a valid key from its digits (tests, benchmarks, simulators)."""
    return body + check_digit(body)
