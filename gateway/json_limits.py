"""JSON from outside, bounded: nesting depth is checked *before* parsing, and every failure is one typed error.

Every door that takes JSON from a client (HTTP API bodies, the MQTT intake, the Impinj webhook, vendor
MQTT feeds, the demo console) parses it through :func:`loads`, so that none of them can be made to
recurse until Python gives up.  Python's parser (and ``orjson``, whose own limit is 1,024 levels) would
build a 1,000-deep document and leave the recursion to whatever walks it next (pydantic, ``json.dumps``,
a mapper); the bracket scan here refuses it first, cheaply: string literals are cut out with one regular
expression, the brackets left are counted as +1/-1 bytes, and the running sum is taken in C
(:func:`itertools.accumulate` over a signed byte array).  Nothing is parsed or allocated per element.

Numbers are left to the validation layer (a declaration's ``grossMassKg`` of ``1e999`` is refused by its
model with the field path); only what the parser itself cannot take becomes a :class:`JsonLimitError`:
an integer of more than 4,300 digits (Python's own limit on ``int`` from text) or a syntax error.

>>> loads(b'{"a": [1, 2, {"b": "[[[[ not counted ]]]]"}]}')
{'a': [1, 2, {'b': '[[[[ not counted ]]]]'}]}
>>> depth(b'[[{"x": "]]]]"}]]')
3
>>> loads(b"[" * 100 + b"]" * 100)
Traceback (most recent call last):
...
gateway.json_limits.JsonLimitError: JSON nested deeper than 64 levels
>>> loads("9" * 5000)
Traceback (most recent call last):
...
gateway.json_limits.JsonLimitError: a number has more than 4300 digits
>>> loads("{not json")
Traceback (most recent call last):
...
gateway.json_limits.JsonLimitError: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 \
(char 1)
"""

from __future__ import annotations

import json
import re
import sys
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64  # a declaration nests 7 deep, a vendor event 4: 64 leaves room and stays far from recursion limits

# A JSON string literal (escapes included), unrolled so that long strings match in one pass without backtracking.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
# Brackets -> +1 / -1 as signed bytes; every other byte is deleted by bytes.translate.
_TABLE = bytearray(256)
_TABLE[ord("[")] = _TABLE[ord("{")] = 1
_TABLE[ord("]")] = _TABLE[ord("}")] = 0xFF
_TABLE_BYTES = bytes(_TABLE)
_DELETE = bytes(b for b in range(256) if b not in b"[]{}")


class JsonLimitError(ValueError):
    """The document is not JSON, nests deeper than allowed, or holds a number the parser refuses."""


def depth(data: bytes | str) -> int:
    """The deepest bracket nesting outside string literals (0 for a scalar)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    brackets = array("b")
    brackets.frombytes(_STRING.sub(b"", raw).translate(_TABLE_BYTES, _DELETE))
    return max(accumulate(brackets), default=0)


def check_depth(data: bytes | str, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`JsonLimitError` when ``data`` nests deeper than ``max_depth``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # fast path: a document with fewer opening brackets than the limit cannot nest deeper than it
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth(raw) > max_depth:
        raise JsonLimitError(f"JSON nested deeper than {max_depth} levels")


def loads(data: bytes | bytearray | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON from outside; :class:`JsonLimitError` (a ``ValueError``) for anything it cannot take."""
    check_depth(bytes(data) if isinstance(data, bytearray) else data, max_depth)
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise JsonLimitError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise JsonLimitError(f"not JSON: {exc}") from None
    except ValueError as exc:  # int() refusing a number longer than sys.get_int_max_str_digits()
        raise JsonLimitError(f"a number has more than {sys.get_int_max_str_digits()} digits") from exc
    except RecursionError:  # unreachable with a sane max_depth; kept so that no door ever sees it
        raise JsonLimitError(f"JSON nested deeper than {max_depth} levels") from None
