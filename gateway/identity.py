"""One kind of identifier, whatever the carrier.

A barcode and an RFID tag both end up as an ordered list of GS1 element strings
(AI, value).  :class:`Identifier` names the GS1 key those elements carry so that the
lane engine and enrichment can group and match without knowing the carrier:

>>> ident = Identifier.from_elements((("01", "09506000134352"), ("21", "32a%b")))
>>> ident.key_type, ident.key
('sgtin', '09506000134352.32a%b')
>>> Identifier.from_elements((("00", "106141411234567897"),)).key_type
'sscc'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

KeyType = Literal[
    "sscc", "gtin", "sgtin", "grai", "giai", "gsin", "ginc", "gln", "sgln", "gdti",
    "gsrn", "gsrnp", "sgcn", "cpi", "itip", "gid", "usdod", "adi", "other",
]

# Primary-key AI -> key type.  Order matters only for messages that carry two keys
# (e.g. an SSCC label that also shows a content GTIN in AI 02): the first primary key wins.
_PRIMARY_KEYS: dict[str, KeyType] = {
    "00": "sscc",
    "01": "gtin",
    "8003": "grai",
    "8004": "giai",
    "402": "gsin",
    "401": "ginc",
    "414": "gln",
    "253": "gdti",
    "8018": "gsrn",
    "8017": "gsrnp",
    "255": "sgcn",
    "8010": "cpi",
    "8006": "itip",
}


@dataclass(frozen=True, slots=True)
class Identifier:
    """A GS1 key seen on a carrier, with the element strings it came with.

    ``key`` is the canonical value used for matching: the bare key for SSCC, GTIN, GLN,
    GSIN, GINC, GRAI, GIAI ...; ``GTIN.serial`` for a serialised GTIN; ``GLN.ext`` for a
    GLN with extension (AI 254) or ``GRAI``/``GDTI`` with their serial already inside.
    """

    key_type: KeyType
    key: str
    elements: tuple[tuple[str, str], ...]
    uri: str | None = None

    @classmethod
    def from_elements(
        cls, elements: Sequence[tuple[str, str]], uri: str | None = None
    ) -> Identifier:
        pairs = tuple((str(ai), str(value)) for ai, value in elements)
        values = dict(pairs)
        for ai, value in pairs:
            key_type = _PRIMARY_KEYS.get(ai)
            if key_type is None:
                continue
            key = value
            if key_type == "gtin" and "21" in values:
                return cls("sgtin", f"{value}.{values['21']}", pairs, uri)
            if key_type == "gln" and "254" in values:
                return cls("sgln", f"{value}.{values['254']}", pairs, uri)
            if key_type == "gsin" or key_type == "ginc":
                key = value
            if key_type == "cpi" and "8011" in values:
                key = f"{value}.{values['8011']}"
            if key_type == "sgcn":
                key = value
            return cls(key_type, key, pairs, uri)
        if "02" in values:  # content GTIN without its own key
            return cls("gtin", values["02"], pairs, uri)
        raise ValueError(f"no GS1 key among AIs {[ai for ai, _ in pairs]!r}")

    @property
    def gtin(self) -> str | None:
        """The GTIN for trade items (``01`` or content ``02``), else ``None``."""
        values = dict(self.elements)
        return values.get("01") or values.get("02")

    def value(self, ai: str) -> str | None:
        """The first value of ``ai`` among the elements, or ``None``."""
        for element_ai, value in self.elements:
            if element_ai == ai:
                return value
        return None
