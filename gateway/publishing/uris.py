"""Canonical GS1 Digital Link URIs (on ``https://id.gs1.org``) for the identifiers a lane reads.

EPCIS 2.0 accepts EPC URNs or Digital Link URIs; the CBV 2.0 event hash normalises both to the
canonical Digital Link, so the gateway emits that form directly:

>>> from gateway.identity import Identifier
>>> instance_uri(Identifier.from_elements([("00", "340123450000000017")]))
'https://id.gs1.org/00/340123450000000017'
>>> instance_uri(Identifier.from_elements([("01", "09506000134352"), ("21", "32a%b")]))
'https://id.gs1.org/01/09506000134352/21/32a%25b'
>>> instance_uri(Identifier.from_elements([("01", "09506000134352"), ("10", "L1"), ("21", "7")]))
'https://id.gs1.org/01/09506000134352/21/7'
>>> class_uri(Identifier.from_elements([("01", "9506000134352"), ("10", "L1")]))
'https://id.gs1.org/01/09506000134352/10/L1'
>>> gln_uri("4012345000009", "LANE03")
'https://id.gs1.org/414/4012345000009/254/LANE03'

An instance is named at its finest level only, as the EPC's Digital Link equivalent: a GTIN with a
serial is ``/01/{gtin}/21/{serial}``, without the batch (``10``) or CPV (``22``) read beside it.  The
CBV 2.0 hash canonicalises URIs to that constrained form, so emitting the batch would make our
``eventID`` differ from the hash any other implementation computes for the same event.  Classes
(quantity elements) keep the batch: ``/01/{gtin}/10/{lot}``.  Each value is percent-encoded except
the unreserved characters ``A-Z a-z 0-9 - . _ ~``.
"""

from __future__ import annotations

from urllib.parse import quote

from gateway.identity import Identifier

DOMAIN = "https://id.gs1.org"

# Primary key AI -> the key qualifier AIs of an instance, in Digital Link path order (finest level only:
# a serialised GTIN/ITIP drops its CPV and batch, see the module docstring).
_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "01": ("21",),
    "00": (),
    "414": ("254",),
    "8003": (),
    "8004": (),
    "253": (),
    "255": (),
    "8010": ("8011",),
    "8006": ("21",),
    "8017": ("8019",),
    "8018": ("8019",),
    "402": (),
    "401": (),
}
# Key types that name one physical instance (they go into epcList / childEPCs).
INSTANCE_TYPES = frozenset({"sscc", "sgtin", "grai", "giai", "gdti", "gsrn", "gsrnp", "sgcn", "cpi", "itip"})
# Key types that name a class (they go into quantityList with a count).
CLASS_TYPES = frozenset({"gtin"})


def _segment(value: str) -> str:
    # Most GS1 keys and serials are digits (or letters): nothing to percent-encode, skip the general path.
    return value if value.isascii() and value.isalnum() else quote(value, safe="")


def _path(pairs: list[tuple[str, str]]) -> str:
    return DOMAIN + "".join(f"/{ai}/{_segment(value)}" for ai, value in pairs)


def _key_pairs(identifier: Identifier, qualifiers: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    values = dict(identifier.elements)
    for ai, value in identifier.elements:
        if ai in _QUALIFIERS:
            if ai in ("01", "8006"):
                value = value.zfill(14)
            pairs = [(ai, value)]
            for q in _QUALIFIERS[ai] if qualifiers is None else qualifiers:
                if q in values:
                    pairs.append((q, values[q]))
            return pairs
    if "02" in values:  # content GTIN on a logistic label: the class of the contents
        pairs = [("01", values["02"].zfill(14))]
        if "10" in values:
            pairs.append(("10", values["10"]))
        return pairs
    raise ValueError(f"no Digital Link primary key among AIs {[ai for ai, _ in identifier.elements]!r}")


def instance_uri(identifier: Identifier) -> str | None:
    """The Digital Link of one physical object, or ``None`` when ``identifier`` names a class.

    Non-GS1 EPCs (GID, USDoD, ADI) keep the EPC URN the decoder attached, if any.
    """
    if identifier.key_type in INSTANCE_TYPES:
        return _path(_key_pairs(identifier))
    if identifier.key_type in ("gid", "usdod", "adi", "other"):
        return identifier.uri
    return None


def class_uri(identifier: Identifier) -> str | None:
    """The Digital Link of a product class (GTIN, or LGTIN with AI 10) for a quantity element."""
    if identifier.key_type not in CLASS_TYPES:
        return None
    return _path(_key_pairs(identifier, qualifiers=("10",)))


def transaction_uri(identifier: Identifier) -> str | None:
    """GSIN (AI 402) and GINC (AI 401) read on a label are business transactions, not objects."""
    if identifier.key_type in ("gsin", "ginc"):
        return _path(_key_pairs(identifier))
    return None


def gln_uri(gln: str, extension: str | None = None) -> str:
    """A location: GLN, with the lane or reader as GLN extension (AI 254)."""
    return _path([("414", gln)] + ([("254", extension)] if extension else []))
