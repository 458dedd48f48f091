"""The result of parsing: a validated GS1 message and its elements.

>>> from gateway.gs1 import parse
>>> msg = parse("\\x1d010950600013435217201225\\x1d10ABC123")
>>> msg.kind, msg.pairs
('element-string', (('01', '09506000134352'), ('17', '201225'), ('10', 'ABC123')))
>>> msg.get("10"), msg.element("17").decoded
('ABC123', datetime.date(2020, 12, 25))
>>> msg.as_hri()
'(01)09506000134352(17)201225(10)ABC123'
>>> msg.as_digital_link()
'https://id.gs1.org/01/09506000134352/10/ABC123?17=201225'
>>> parse("(01)09506000134352(10)ABC123(17)201225").as_element_string(separator="|")
'010950600013435210ABC123|17201225'
>>> msg.to_identifier().key_type
'gtin'

Typed elements are built on first access (parsing itself only validates), so a lane that
needs just the key pays only for validation.  Every parser ends in :func:`finish`, which validates
the pairs it found (:mod:`gateway.gs1.validate`) and makes the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

from gateway.gs1._ai_table import DICTIONARY_RELEASE
from gateway.gs1.ai import APPLICATION_IDENTIFIERS, PREDEFINED_LENGTH
from gateway.gs1.dl_compression import compress
from gateway.gs1.dl_uri import build_uri
from gateway.gs1.errors import STRICT, SYNTAX, GS1ParseError, GS1Problem, Profile, problem
from gateway.gs1.validate import check_elements
from gateway.gs1.values import decode
from gateway.identity import Identifier

GS = "\x1d"
DEFAULT_DL_DOMAIN = "https://id.gs1.org"


@dataclass(frozen=True, slots=True)
class GS1Element:
    """One element string: the AI, its data title, the raw value and the decoded value.

    ``decoded`` is a ``date``/``datetime``, a ``Decimal`` (implied decimals applied), a
    :class:`~gateway.gs1.values.Money`, a :class:`~gateway.gs1.values.Country`, a key object
    from :mod:`gateway.gs1.keys` ... or ``None`` when the raw string is all there is.
    ``components`` splits the raw value as the dictionary does (e.g. 421: country, postcode).
    """

    ai: str
    title: str
    value: str
    decoded: object | None
    components: tuple[str, ...]

    def as_hri(self) -> str:
        return f"({self.ai}){escape_hri(self.value)}"


def escape_hri(value: str) -> str:
    """Escape literal ``(`` as ``\\(`` so that bracketed output parses back unchanged."""
    return value.replace("(", "\\(") if "(" in value else value


@dataclass(frozen=True, slots=True)
class GS1Message:
    """A validated GS1 message; ``pairs`` keeps every ``(ai, value)`` in input order."""

    data: str
    kind: str
    pairs: tuple[tuple[str, str], ...]
    symbology: str | None = None
    #: non-GS1 Digital Link query parameters, kept as given (never data of any AI)
    extensions: tuple[tuple[str, str], ...] = ()
    #: problems the profile downgraded (e.g. ``req`` rules under the lenient profile)
    warnings: tuple[GS1Problem, ...] = ()
    _elements: tuple[GS1Element, ...] | None = field(default=None, repr=False, compare=False)

    #: release of the GS1 Barcode Syntax Dictionary the data was validated against
    dictionary_release: ClassVar[str] = DICTIONARY_RELEASE

    @classmethod
    def from_elements(cls, pairs: Iterable[tuple[str, str]], *, profile: Profile | None = None,
                      data: str | None = None) -> GS1Message:
        """Validate ``(ai, value)`` pairs from another carrier (e.g. an EPC) as one message.

        >>> GS1Message.from_elements([("01", "09506000134352"), ("21", "ABC")]).as_hri()
        '(01)09506000134352(21)ABC'
        """
        pair_list = [(str(ai), str(value)) for ai, value in pairs]
        text = data if data is not None else "".join(f"({ai}){escape_hri(v)}" for ai, v in pair_list)
        positions = []
        pos = 0
        for ai, value in pair_list:
            pos += len(ai) + 2
            positions.append(pos)
            pos += len(escape_hri(value))
        return finish(text, "elements", pair_list, positions, [], profile or STRICT)

    @property
    def elements(self) -> tuple[GS1Element, ...]:
        if self._elements is None:
            # Built on first use only: parsing validates, decoding is paid for when needed.
            object.__setattr__(self, "_elements", tuple(_element(ai, value) for ai, value in self.pairs))
        return self._elements  # type: ignore[return-value]

    def get(self, ai: str) -> str | None:
        """The first value of ``ai``, or ``None``."""
        for element_ai, value in self.pairs:
            if element_ai == ai:
                return value
        return None

    def element(self, ai: str) -> GS1Element | None:
        for element in self.elements:
            if element.ai == ai:
                return element
        return None

    def filter(self, prefix: str) -> tuple[GS1Element, ...]:
        """Elements whose AI starts with ``prefix`` (e.g. ``"310"`` for every net weight)."""
        return tuple(e for e in self.elements if e.ai.startswith(prefix))

    def as_hri(self) -> str:
        """Bracketed form ``(01)...(10)...``; literal ``(`` in values is escaped ``\\(``."""
        return "".join(f"({ai}){escape_hri(value)}" for ai, value in self.pairs)

    def as_element_string(self, separator: str = GS) -> str:
        """Unbracketed data, with ``separator`` (FNC1 as GS) after variable-length AIs."""
        out: list[str] = []
        last = len(self.pairs) - 1
        for i, (ai, value) in enumerate(self.pairs):
            out.append(ai + value)
            if i != last and ai not in PREDEFINED_LENGTH:
                out.append(separator)
        return "".join(out)

    def as_digital_link(self, domain: str = DEFAULT_DL_DOMAIN) -> str:
        """Canonical GS1 Digital Link URI on ``domain`` (any stem, e.g. ``https://example.com/p``)."""
        return build_uri(self, domain)

    def to_compressed_digital_link(self, domain: str = DEFAULT_DL_DOMAIN, *, uncompressed_primary: bool = False,
                                   optimise: bool = False, compress_extensions: bool = False) -> str:
        """Compressed GS1 Digital Link URI (see :mod:`gateway.gs1.dl_compression`).

        ``uncompressed_primary`` keeps ``/{key AI}/{key}`` readable and packs the rest;
        ``optimise`` uses the one-byte codes for common AI sequences; ``compress_extensions``
        also packs non-GS1 query parameters (those it can; the others stay in the query).

        >>> GS1Message.from_elements([("01", "05412345000013"), ("10", "ABC123")]).to_compressed_digital_link()
        'https://id.gs1.org/AQnYUc1gmiCNV4JG'
        """
        return compress(self, domain, uncompressed_primary=uncompressed_primary, optimise=optimise,
                        compress_extensions=compress_extensions)

    def to_identifier(self) -> Identifier:
        """The lane's carrier-independent :class:`~gateway.identity.Identifier`."""
        try:
            uri: str | None = self.as_digital_link()
        except GS1ParseError:
            uri = None
        return Identifier.from_elements(self.pairs, uri=uri)

    def to_json(self, dl_domain: str = DEFAULT_DL_DOMAIN) -> dict[str, object]:
        """A JSON-ready dict: elements (raw, typed and components), all output forms."""
        try:
            dl: str | None = self.as_digital_link(dl_domain)
        except GS1ParseError:
            dl = None
        return {
            "kind": self.kind,
            "symbology": self.symbology,
            "dictionary_release": self.dictionary_release,
            "elements": [
                {"ai": e.ai, "title": e.title, "value": e.value, "decoded": _jsonable(e.decoded),
                 "components": list(e.components)}
                for e in self.elements
            ],
            "extensions": [list(kv) for kv in self.extensions],
            "hri": self.as_hri(),
            "element_string": self.as_element_string(),
            "digital_link": dl,
            "warnings": [w.to_json() for w in self.warnings],
        }


def finish(data: str, kind: str, pairs: list[tuple[str, str]], positions: list[int],
           problems: list[GS1Problem], profile: Profile = STRICT, *, symbology: str | None = None,
           extensions: tuple[tuple[str, str], ...] = ()) -> GS1Message:
    """The message a parser found: ``pairs`` (with the ``positions`` of their values in ``data``) checked
    against the dictionary, with the parser's own ``problems``; raises one :class:`GS1ParseError` with every
    error (the ``profile`` says which problems are only warnings)."""
    if not pairs and not problems:
        # Nothing but a symbology identifier (``]Q3``), FNC1s or separators: not a GS1 message.
        after = f" after the symbology identifier {symbology}" if symbology else ""
        problems.append(problem(data, SYNTAX, None, len(symbology or ""), f"no data{after}"))
    check_elements(data, pairs, positions, problems)
    warnings: tuple[GS1Problem, ...] = ()
    if problems:
        errors = [p for p in problems if not profile.is_warning(p.code)]
        warnings = tuple(
            GS1Problem(p.code, p.ai, p.position, p.message, "warning") for p in problems
            if profile.is_warning(p.code)
        )
        if errors:
            raise GS1ParseError(data, errors, warnings, kind)
    return GS1Message(data, kind, tuple(pairs), symbology, extensions, warnings)


def _element(ai: str, value: str) -> GS1Element:
    entry = APPLICATION_IDENTIFIERS[ai]
    return GS1Element(ai, entry.title, value, decode(ai, value), _split(entry.components, value))


def _split(components: Sequence[object], value: str) -> tuple[str, ...]:
    parts: list[str] = []
    pos = 0
    for comp in components:
        if pos >= len(value):
            break
        hi: int = comp.max_length  # type: ignore[attr-defined]
        parts.append(value[pos:pos + hi])
        pos += hi
    return tuple(parts)


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, (date, Decimal)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    return str(value)
