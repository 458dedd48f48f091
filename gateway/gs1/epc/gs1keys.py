"""GS1 key arithmetic shared by the EPC schemes: check digits and Digital Link paths.

>>> check_digit("0950600013435")
'2'
>>> digital_link((("01", "09506000134352"), ("21", "32a/b"), ("17", "220630")))
'https://id.gs1.org/01/09506000134352/21/32a%2Fb?17=220630'
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.gs1.epc.charsets import dl_escape

DEFAULT_DL_STEM = "https://id.gs1.org"

_CD_CACHE: dict[str, str] = {}


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit of ``body`` (weights 3,1,3,... from the right).

    Results are memoised in a small bounded dict: a reader sees the same few hundred items
    over and over, and the cache is exact (pure function of ``body``)."""
    cached = _CD_CACHE.get(body)
    if cached is not None:
        return cached
    b = body.encode()
    odd = b[-1::-2]
    even = b[-2::-2]
    result = "0123456789"[-(3 * (sum(odd) - 48 * len(odd)) + sum(even) - 48 * len(even)) % 10]
    if len(_CD_CACHE) >= 4096:
        _CD_CACHE.clear()
    _CD_CACHE[body] = result
    return result


# Primary key AI -> its key qualifiers in Digital Link path order (GS1 DL 1.4 section 4)
DL_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "01": ("22", "10", "21"),
    "8006": ("22", "10", "21"),
    "414": ("254",),
    "8010": ("8011",),
    "8017": ("8019",),
    "8018": ("8019",),
    "00": (),
    "8003": (),
    "8004": (),
    "253": (),
    "255": (),
    "417": ("7040",),
    "401": (),
    "402": (),
}


def digital_link(elements: Sequence[tuple[str, str]], stem: str = DEFAULT_DL_STEM) -> str | None:
    """Uncompressed GS1 Digital Link URI for ordered AI pairs (``None`` without a primary key)."""
    if not elements:
        return None
    key_ai, key_value = elements[0]
    qualifiers = DL_QUALIFIERS.get(key_ai)
    if qualifiers is None:
        return None
    rest = list(elements[1:])
    parts = [stem.rstrip("/"), "/", key_ai, "/", dl_escape(key_value)]
    for qualifier in qualifiers:
        for i, (ai, value) in enumerate(rest):
            if ai == qualifier:
                parts += ["/", ai, "/", dl_escape(value)]
                del rest[i]
                break
    if rest:
        parts.append("?")
        parts.append("&".join(f"{ai}={dl_escape(value)}" for ai, value in rest))
    return "".join(parts)


def element_string(elements: Sequence[tuple[str, str]]) -> str:
    """Bracketed human-readable element string ``(01)...(21)...``."""
    return "".join(f"({ai}){value}" for ai, value in elements)
