"""Raw scanner data with an ISO/IEC 15424 symbology identifier (``]`` + letter + modifier).

>>> parse_scanner("]C1010950600013435217201225").pairs
(('01', '09506000134352'), ('17', '201225'))
>>> parse_scanner("]E09506000134352").pairs    # EAN-13 carries a GTIN without an AI
(('01', '09506000134352'),)
>>> parse_scanner("]Q1https://id.gs1.org/01/09506000134352").kind
'scanner'
>>> parse_scanner("]C0HELLO")
Traceback (most recent call last):
...
gateway.gs1.errors.GS1ParseError: 1 problem(s) in GS1 data ']C0HELLO': not GS1 data: symbology \
identifier ]C0 (Code 128) does not carry GS1 data, at position 0 of ']C0HELLO'

FNC1 in first position is never transmitted: the identifier says "GS1" instead (``]C1``
GS1-128, ``]e0`` DataBar, ``]d2`` DataMatrix, ``]Q3`` QR, ``]J1`` DotCode).  Digital Link
URIs are plain data in ``]d1``, ``]Q1`` and ``]J0``.  EAN/UPC (``]E0``, ``]E4``) and ITF-14
(``]I1``) carry a bare GTIN, mapped to AI (01); a composite follows as ``|]e0...``.
"""

from __future__ import annotations

from gateway.gs1.digital_link import is_digital_link, split_digital_link
from gateway.gs1.element_strings import split_element_string
from gateway.gs1.errors import NOT_GS1, SCANNER_BAD_PRIMARY, STRICT, GS1Problem, Profile, problem
from gateway.gs1.message import GS1Message, finish

KIND = "scanner"
ELEMENT_STRING_SYMBOLOGIES = {"]C1": "GS1-128", "]e0": "GS1 DataBar", "]d2": "GS1 DataMatrix",
                              "]Q3": "GS1 QR Code", "]J1": "GS1 DotCode"}
DIGITAL_LINK_SYMBOLOGIES = {"]d1": "Data Matrix", "]Q1": "QR Code", "]J0": "DotCode"}
GTIN_SYMBOLOGIES = {"]E0": ("EAN-13/UPC", 13), "]E4": ("EAN-8", 8), "]I1": ("ITF-14", 14)}
_NAMES = {"]C0": "Code 128", "]A0": "Code 39", "]I0": "ITF", "]Q0": "QR Code model 1", "]d0": "Data Matrix"}


def parse_scanner(data: str, *, profile: Profile = STRICT) -> GS1Message:
    problems: list[GS1Problem] = []
    sid = data[:3]
    body = data[3:]
    extensions: tuple[tuple[str, str], ...] = ()
    pairs: list[tuple[str, str]] = []
    positions: list[int] = []
    if len(sid) < 3 or sid[0] != "]":
        problems.append(problem(data, NOT_GS1, None, 0, "not GS1 data: no ']' symbology identifier"))
    elif sid in ELEMENT_STRING_SYMBOLOGIES:
        pairs, positions = split_element_string(body, problems, offset=3, source=data)
    elif sid in GTIN_SYMBOLOGIES:
        name, digits = GTIN_SYMBOLOGIES[sid]
        primary, bar, composite = body.partition("|]e0")
        if len(primary) != digits or not (primary.isascii() and primary.isdigit()):
            problems.append(problem(data, SCANNER_BAD_PRIMARY, "01", 3,
                                    f"{name} data must be {digits} digits, got {primary!r}"))
        else:
            pairs, positions = [("01", primary.rjust(14, "0"))], [3 - (14 - digits)]
        if bar:
            more, more_pos = split_element_string(composite, problems, offset=3 + len(primary) + 4, source=data)
            pairs += more
            positions += more_pos
    elif sid in DIGITAL_LINK_SYMBOLOGIES:
        if is_digital_link(body):
            split = split_digital_link(body, problems, offset=3, source=data)
            pairs, positions, extensions = split.pairs, split.positions, tuple(split.extensions)
        else:
            problems.append(problem(data, NOT_GS1, None, 3, f"not GS1 data: {DIGITAL_LINK_SYMBOLOGIES[sid]} "
                                    f"({sid}) data that is not a GS1 Digital Link URI"))
    else:
        name = _NAMES.get(sid, "unknown or non-GS1 symbology")
        problems.append(problem(data, NOT_GS1, None, 0,
                                f"not GS1 data: symbology identifier {sid} ({name}) does not carry GS1 data"))
    return finish(data, KIND, pairs, positions, problems, profile, symbology=sid if sid[:1] == "]" else None,
                  extensions=extensions)
