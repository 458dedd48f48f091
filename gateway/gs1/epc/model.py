"""The decoded :class:`EPC`: scheme, filter and fields, with every output form derived losslessly.

The object is an immutable named tuple holding only what was read; URIs, element strings and
the Digital Link are computed on access (cheap f-strings), which keeps decoding fast.

>>> from gateway.gs1.epc import decode
>>> epc = decode("3074257BF7194E4000001A85")
>>> epc.scheme, epc.filter, epc.pure_uri
('sgtin-96', 3, 'urn:epc:id:sgtin:0614141.812345.6789')
>>> epc.tag_uri
'urn:epc:tag:sgtin-96:3.0614141.812345.6789'
>>> epc.element_string
'(01)80614141123458(21)6789'
>>> epc.digital_link
'https://id.gs1.org/01/80614141123458/21/6789'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from gateway.gs1.check_digit import check_digit
from gateway.gs1.epc.charsets import uri_escape, uri_escape_6bit
from gateway.gs1.epc.gs1keys import DEFAULT_DL_STEM, digital_link, element_string
from gateway.gs1.epc.pc import PCWord, raw_uri

if TYPE_CHECKING:
    from gateway.identity import Identifier

PLUS_URI_NOTE = ("TDS 2.x defines no EPC pure-identity or tag URI for the '+'/'++' schemes "
                 "(the GS1 Company Prefix length is not encoded); use the element string or Digital Link")

# classic scheme -> (URI name, per-component escaping: n = none, s = 7-bit string, 6 = 6-bit string)
CLASSIC: dict[str, tuple[str, str]] = {
    "sgtin-96": ("sgtin", "nnn"), "sgtin-198": ("sgtin", "nns"),
    "sscc-96": ("sscc", "nn"),
    "sgln-96": ("sgln", "nnn"), "sgln-195": ("sgln", "nns"),
    "grai-96": ("grai", "nnn"), "grai-170": ("grai", "nns"),
    "giai-96": ("giai", "nn"), "giai-202": ("giai", "ns"),
    "gsrn-96": ("gsrn", "nn"), "gsrnp-96": ("gsrnp", "nn"),
    "gdti-96": ("gdti", "nnn"), "gdti-113": ("gdti", "nnn"), "gdti-174": ("gdti", "nns"),
    "cpi-96": ("cpi", "nnn"), "cpi-var": ("cpi", "n6n"),
    "sgcn-96": ("sgcn", "nnn"),
    "itip-110": ("itip", "nnnnn"), "itip-212": ("itip", "nnnns"),
    "gid-96": ("gid", "nnn"),
    "usdod-96": ("usdod", "nn"),
    "adi-var": ("adi", "666"),
}


_PLAIN = frozenset(name for name, (_, kinds) in CLASSIC.items() if set(kinds) == {"n"})


def _uri_body(scheme: str, fields: tuple[str, ...]) -> str:
    if scheme in _PLAIN:
        return ".".join(fields)
    kinds = CLASSIC[scheme][1]
    parts = []
    for kind, value in zip(kinds, fields, strict=False):
        parts.append(value if kind == "n" else uri_escape(value) if kind == "s" else uri_escape_6bit(value))
    return ".".join(parts)


def classic_elements(uri_name: str, f: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """GS1 element strings (AI, value) of a classic EPC from its URI components."""
    if uri_name == "sgtin":
        body = f[1][:1] + f[0] + f[1][1:]
        return (("01", body + check_digit(body)), ("21", f[2]))
    if uri_name == "sscc":
        body = f[1][:1] + f[0] + f[1][1:]
        return (("00", body + check_digit(body)),)
    if uri_name == "sgln":
        body = f[0] + f[1]
        gln = (("414", body + check_digit(body)),)
        return gln if f[2] == "0" else (*gln, ("254", f[2]))
    if uri_name == "grai":
        body = "0" + f[0] + f[1]
        return (("8003", body + check_digit(body) + f[2]),)
    if uri_name == "giai":
        return (("8004", f[0] + f[1]),)
    if uri_name in ("gsrn", "gsrnp"):
        body = f[0] + f[1]
        return (("8018" if uri_name == "gsrn" else "8017", body + check_digit(body)),)
    if uri_name in ("gdti", "sgcn"):
        body = f[0] + f[1]
        return (("253" if uri_name == "gdti" else "255", body + check_digit(body) + f[2]),)
    if uri_name == "cpi":
        return (("8010", f[0] + f[1]), ("8011", f[2]))
    if uri_name == "itip":
        body = f[1][:1] + f[0] + f[1][1:]
        return (("8006", body + check_digit(body) + f[2] + f[3]), ("21", f[4]))
    return ()  # gid, usdod, adi: not GS1 keys


class EPC(NamedTuple):
    """A decoded EPC.  ``fields`` are the unescaped URI components (classic schemes) or the
    values of the scheme's AIs in order (``+``/``++`` schemes)."""

    scheme: str
    filter: int | None
    fields: tuple[str, ...]
    hex: str  # the EPC bits as read (upper-case hex, including any zero fill)
    bits: int
    pc: PCWord | None = None
    crc_ok: bool | None = None
    hostname: str | None = None  # '++' schemes
    aidc_toggle: bool | None = None  # '+'/'++' schemes
    extra: tuple[tuple[str, str], ...] = ()  # '+'/'++': the scheme's own AI pairs, then +AIDC data
    dl_stem: str = DEFAULT_DL_STEM
    warnings: tuple[str, ...] = ()

    # ----------------------------------------------------------------- derived forms
    @property
    def is_plus(self) -> bool:
        return self.scheme.endswith("+")

    @property
    def uri_name(self) -> str | None:
        info = CLASSIC.get(self.scheme)
        return info[0] if info else None

    @property
    def pure_uri(self) -> str | None:
        if self.scheme == "sgtin-96":  # the commonest tag, kept short
            f = self.fields
            return f"urn:epc:id:sgtin:{f[0]}.{f[1]}.{f[2]}"
        info = CLASSIC.get(self.scheme)
        if info is None:
            return None
        return f"urn:epc:id:{info[0]}:{_uri_body(self.scheme, self.fields)}"

    @property
    def tag_uri(self) -> str | None:
        if self.scheme not in CLASSIC:
            return None
        ctrl = self.pc.control_fields() if self.pc is not None else ""
        body = _uri_body(self.scheme, self.fields)
        if self.filter is None:
            return f"urn:epc:tag:{ctrl}{self.scheme}:{body}"
        return f"urn:epc:tag:{ctrl}{self.scheme}:{self.filter}.{body}"

    @property
    def uri_note(self) -> str | None:
        """Why ``pure_uri``/``tag_uri`` are ``None`` (``None`` when they are not)."""
        return PLUS_URI_NOTE if self.scheme not in CLASSIC else None

    @property
    def raw_uri(self) -> str:
        return raw_uri(int(self.hex, 16) if self.hex else 0, self.bits, self.pc)

    @property
    def elements(self) -> tuple[tuple[str, str], ...]:
        """Ordered (AI, value) pairs: the GS1 element strings this EPC stands for."""
        info = CLASSIC.get(self.scheme)
        if info is None:
            return self.extra
        return classic_elements(info[0], self.fields)

    @property
    def element_string(self) -> str:
        if self.scheme == "sgtin-96":
            f = self.fields
            body = f[1][:1] + f[0] + f[1][1:]
            return f"(01){body}{check_digit(body)}(21){f[2]}"
        return element_string(self.elements)

    @property
    def digital_link(self) -> str | None:
        """GS1 Digital Link; a ``++`` hostname wins over the configured stem."""
        stem = f"https://{self.hostname}" if self.hostname else self.dl_stem
        return digital_link(self.elements, stem)

    # ----------------------------------------------------------------- conversions
    def to_identifier(self) -> Identifier:
        """The carrier-independent :class:`gateway.identity.Identifier`."""
        from gateway.identity import Identifier

        elements = self.elements
        if elements:
            return Identifier.from_elements(elements, uri=self.pure_uri)
        key_type = {"gid": "gid", "usdod": "usdod", "adi": "adi"}[self.uri_name or ""]
        return Identifier(key_type, ".".join(self.fields), (), self.pure_uri)  # type: ignore[arg-type]

    def to_gs1_message(self) -> Any:
        """The GS1 core's message model for these elements (imported lazily)."""
        from gateway.gs1 import message as gs1_message

        cls: Any = gs1_message.GS1Message
        if hasattr(cls, "from_elements"):
            return cls.from_elements(self.elements)
        from gateway.gs1 import parse

        return parse(self.element_string)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": True,
            "scheme": self.scheme,
            "filter": self.filter,
            "pure_uri": self.pure_uri,
            "tag_uri": self.tag_uri,
            "elements": [{"ai": ai, "value": value} for ai, value in self.elements],
            "element_string": self.element_string,
            "digital_link": self.digital_link,
            "raw_uri": self.raw_uri,
            "hex": self.hex,
        }
        if self.uri_note:
            out["uri_note"] = self.uri_note
        if self.hostname is not None:
            out["hostname"] = self.hostname
        if self.aidc_toggle is not None:
            out["aidc_toggle"] = self.aidc_toggle
        if self.pc is not None:
            out["pc"] = self.pc.to_json()
        if self.crc_ok is not None:
            out["crc_ok"] = self.crc_ok
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out
