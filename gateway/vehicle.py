"""Number plates and container codes: how they are compared, once, for every door they come through.

ANPR cameras print plates inconsistently (``B-XY 1234``, ``bxy1234``, ``B.XY.1234``) and declarations
do too, so a plate is compared by its *key*: upper case, letters and digits only (the research note's
advice, and how GVMS encodes its ids).  The camera's raw text is kept beside it as evidence.

>>> plate_key("b-xy 1234"), plate_key(" B.XY.1234 "), plate_key("Ö-AB 12")
('BXY1234', 'BXY1234', 'ÖAB12')

OCR confuses some characters with each other.  The groups are Genetec AutoVu's OCR-equivalence
groups (Security Center 5.12): 0/O/D/Q, 1/I, 2/Z, 5/S, 8/B, 6/G.  Two keys of the same length whose
characters fall in the same group at every position are *confusable*; :func:`confusable_distance`
counts the positions where they differ (``None``: not confusable at all).  The skeleton maps every
character to its group, so confusable keys share one skeleton and an index finds them in one probe.

>>> plate_skeleton("BXY1234"), plate_skeleton("8XY1Z34")
('8XY1234', '8XY1234')
>>> confusable_distance("BXY1234", "8XY1234"), confusable_distance("BXY1234", "BXY1235"), \
confusable_distance("AB1", "AB")
(1, None, None)

Countries come as ISO 3166 alpha-2 (``DE``), alpha-3 (Axis: ``DEU``), numeric (``276``) or a camera's
region string (Rekor: ``us-mo``); :func:`country_code` makes them alpha-2 (``None`` when it cannot tell):

>>> country_code("deu"), country_code("276"), country_code("us-mo"), country_code("DE"), country_code("zz")
('DE', 'DE', 'US', 'DE', None)

Container numbers (ISO 6346: owner code, category U/J/Z/R, six-digit serial, check digit) are checked
with ``python-stdnum``; a bad check digit is evidence with an error, never a key:

>>> container_code("CSQU 305438-3"), container_code("CSQU3054384")[1]
(('CSQU3054383', None), 'ISO 6346 check digit is wrong (CSQU3054384)')
>>> container_ok("MWCU6059784"), container_ok("MWCU6059785")
(True, False)

:func:`vehicle_read` builds the :class:`~gateway.reads.VehicleRead` every ANPR source delivers:

>>> v = vehicle_read("anpr-1", 5.0, "plate", " b-xy 1234", confidence=93.0, scale=100.0, country="deu")
>>> v.value, v.confidence, v.country, v.error
('BXY1234', 0.93, 'DE', None)
>>> vehicle_read("ocr-1", 5.0, "container", "CSQU3054384").error
'ISO 6346 check digit is wrong (CSQU3054384)'
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Iterable

from gateway.reads import VehicleKind, VehiclePosition, VehicleRead

#: Genetec AutoVu's OCR-equivalence groups; the first character of a group stands for it.
CONFUSABLE_GROUPS: tuple[str, ...] = ("0ODQ", "1I", "2Z", "5S", "8B", "6G")
_SKELETON = {ord(ch): group[0] for group in CONFUSABLE_GROUPS for ch in group}
MAX_PLATE_LENGTH = 35  # T006 identification of the means of transport is an..35


def plate_key(text: str) -> str:
    """The comparison key of a plate: NFKC, upper case, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if ch.isalnum())


def plate_skeleton(key: str) -> str:
    """``key`` with every confusable character replaced by its group's first character."""
    return key.translate(_SKELETON)


def confusable_distance(a: str, b: str) -> int | None:
    """Positions where two keys differ, if every difference is within one OCR-equivalence group."""
    if len(a) != len(b) or plate_skeleton(a) != plate_skeleton(b):
        return None
    return sum(1 for x, y in zip(a, b, strict=True) if x != y)


@functools.lru_cache(maxsize=512)
def country_code(code: str | None) -> str | None:
    """ISO 3166-1 alpha-2 for an alpha-2, alpha-3 or numeric code or a ``cc-region`` string."""
    if not code:
        return None
    text = code.strip()
    head = text.split("-", 1)[0].split("_", 1)[0]
    import pycountry  # loads its database on first use only

    for value in (text, head):
        if value.isdigit():
            found = pycountry.countries.get(numeric=value.zfill(3))
        elif len(value) == 2:
            found = pycountry.countries.get(alpha_2=value.upper())
        elif len(value) == 3:
            found = pycountry.countries.get(alpha_3=value.upper())
        else:
            found = None
        if found is not None:
            return str(found.alpha_2)
    return None


def _container_compact(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if ch.isalnum())


def container_code(text: str) -> tuple[str, str | None]:
    """``(code, error)``: the compact ISO 6346 code, and why it is not a valid one (``None`` when it is)."""
    from stdnum import iso6346
    from stdnum.exceptions import InvalidChecksum, ValidationError

    code = _container_compact(text)
    try:
        iso6346.validate(code)
    except InvalidChecksum:
        return code, f"ISO 6346 check digit is wrong ({code})"
    except ValidationError:
        return code, f"not an ISO 6346 container number ({code!r}: owner code, U/J/Z/R, 6 digits, check digit)"
    return code, None


def container_ok(text: str) -> bool:
    """A valid ISO 6346 container number (check digit included)."""
    return container_code(text)[1] is None


def confidence_01(value: float | None, scale: float | None = None) -> float | None:
    """A camera's confidence on 0..1: ``scale`` 100 for percentages, 1 for fractions, ``None`` to guess
    (a value above 1 is a percentage).  Values that are not finite, or negative, are unknown (``None``)."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    if scale is None:
        scale = 100.0 if value > 1.0 else 1.0
    return round(min(value / scale, 1.0), 4)


def vehicle_read(source: str, host_time: float, kind: VehicleKind, text: str, *,
                 confidence: float | None = None, scale: float | None = None, country: str | None = None,
                 position: VehiclePosition = "unknown", source_time: float | None = None,
                 direction: str | None = None, image_ref: str | None = None, event_id: str | None = None,
                 candidates: Iterable[tuple[str, float | None]] = ()) -> VehicleRead:
    """One plate or container reading as every ANPR source delivers it (normalised here, once)."""
    raw = text.strip()
    if kind == "container":
        value, error = container_code(raw)
        cands: tuple[tuple[str, float | None], ...] = ()
    else:
        value = plate_key(raw)
        error = None
        if not value:
            error = "empty plate"
        elif len(value) > MAX_PLATE_LENGTH:
            error = f"plate longer than {MAX_PLATE_LENGTH} characters"
        cands = tuple((plate_key(c), confidence_01(conf, scale)) for c, conf in candidates
                      if plate_key(c) and plate_key(c) != value)[:10]
    return VehicleRead(source=source, host_time=host_time, kind=kind, text=raw[:64], value=value[:64],
                       confidence=confidence_01(confidence, scale), country=country_code(country),
                       position=position, source_time=source_time, direction=direction, image_ref=image_ref,
                       event_id=event_id, error=error, candidates=cands)
