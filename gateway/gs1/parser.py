"""``parse()``: auto-detect the form of GS1 data, or force it.

>>> parse("(01)09506000134352(10)ABC").kind, parse("https://id.gs1.org/00/106141411234567897").kind
('hri', 'digital-link')
>>> parse("0109506000134352", form="element-string").pairs
(('01', '09506000134352'),)

Detection: ``]`` starts scanner data, ``(`` the bracketed form, ``http(s)://`` a Digital
Link URI; anything else is an element string.
"""

from __future__ import annotations

from gateway.gs1.digital_link import is_digital_link, parse_digital_link
from gateway.gs1.element_strings import parse_element_string
from gateway.gs1.errors import STRICT, SYNTAX, GS1ParseError, Profile, problem
from gateway.gs1.hri import parse_hri
from gateway.gs1.message import GS1Message
from gateway.gs1.scanner import parse_scanner

FORMS = ("auto", "element-string", "hri", "digital-link", "scanner")

__all__ = ["FORMS", "detect", "parse", "parse_digital_link", "parse_element_string", "parse_hri",
           "parse_scanner"]


def detect(data: str) -> str:
    """The input form ``parse`` would use for ``data``."""
    first = data[:1]
    if first == "]":
        return "scanner"
    if first == "(":
        return "hri"
    if first in "hH" and is_digital_link(data):
        return "digital-link"
    return "element-string"


def parse(data: str, *, profile: Profile | None = None, form: str = "auto") -> GS1Message:
    """Parse and validate GS1 data; raises :class:`GS1ParseError` with every problem found."""
    if not isinstance(data, str):
        raise TypeError(f"GS1 data must be str, not {type(data).__name__}")
    profile = profile or STRICT
    if form == "auto":
        form = detect(data)
    if not data:
        raise GS1ParseError(data, [problem(data, SYNTAX, None, 0, "no data")], kind=form)
    if form == "element-string":
        return parse_element_string(data, profile=profile)
    if form == "hri":
        return parse_hri(data, profile=profile)
    if form == "digital-link":
        return parse_digital_link(data, profile=profile)
    if form == "scanner":
        return parse_scanner(data, profile=profile)
    raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")
