"""GS1 keys as the EPC schemes write them: element strings and Digital Link paths (check digits are
:mod:`gateway.gs1.check_digit`'s).

>>> digital_link((("01", "09506000134352"), ("21", "32a/b"), ("17", "220630")))
'https://id.gs1.org/01/09506000134352/21/32a%2Fb?17=220630'
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.gs1.epc.charsets import dl_escape

DEFAULT_DL_STEM = "https://id.gs1.org"

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
