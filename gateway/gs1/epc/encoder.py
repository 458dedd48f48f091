"""Encode EPCs: from a tag URI alone, a pure-identity URI plus scheme and filter, or GS1 data
(element string, AI list, Digital Link) plus the GS1 Company Prefix length.

>>> encode("urn:epc:tag:sgtin-96:3.0614141.812345.6789").hex
'3074257BF7194E4000001A85'
>>> encode("urn:epc:id:sgtin:0614141.812345.06789", filter=3).scheme   # leading zero: long scheme
'sgtin-198'
>>> encode("(01)80614141123458(21)6789", filter=3, company_prefix_length=7).tag_uri
'urn:epc:tag:sgtin-96:3.0614141.812345.6789'
>>> encode("https://id.gs1.org/01/09506000134352/21/32a%2Fb", scheme="sgtin+", filter=3).hex
'F73095060001343528566CB0AFC4'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gateway.gs1.check_digit import check_digit
from gateway.gs1.epc.bits import BitWriter
from gateway.gs1.epc.charsets import CSET6, CSET82, dl_unescape, uri_unescape
from gateway.gs1.epc.classic import BY_NAME, encode_classic, fits_integer
from gateway.gs1.epc.decoder import decode
from gateway.gs1.epc.errors import (
    EPCError,
    FieldOverflowError,
    InvalidCharacterError,
    InvalidURIError,
    InvalidValueError,
)
from gateway.gs1.epc.gcp import CompanyPrefixTable, resolve_length
from gateway.gs1.epc.gs1keys import DEFAULT_DL_STEM
from gateway.gs1.epc.model import CLASSIC, EPC
from gateway.gs1.epc.plus import PLUS_BY_NAME, encode_plus

# URI name -> (96-bit scheme, long scheme) used by automatic choice
FAMILIES: dict[str, tuple[str, str | None]] = {
    "sgtin": ("sgtin-96", "sgtin-198"), "sscc": ("sscc-96", None), "sgln": ("sgln-96", "sgln-195"),
    "grai": ("grai-96", "grai-170"), "giai": ("giai-96", "giai-202"), "gsrn": ("gsrn-96", None),
    "gsrnp": ("gsrnp-96", None), "gdti": ("gdti-96", "gdti-174"), "cpi": ("cpi-96", "cpi-var"),
    "sgcn": ("sgcn-96", None), "itip": ("itip-110", "itip-212"), "gid": ("gid-96", None),
    "usdod": ("usdod-96", None), "adi": ("adi-var", None),
}
# URI name -> per-component charset for unescaping: n digits, s Table A-1, 6 Table G-1, c CAGE
_COMPONENTS = {"sgtin": "nns", "sscc": "nn", "sgln": "nns", "grai": "nns", "giai": "ns", "gsrn": "nn",
               "gsrnp": "nn", "gdti": "nns", "cpi": "n6n", "sgcn": "nnn", "itip": "nnnns", "gid": "nnn",
               "usdod": "6n", "adi": "666"}
# primary-key AI -> URI name
_KEY_AI = {"01": "sgtin", "00": "sscc", "414": "sgln", "8003": "grai", "8004": "giai", "8018": "gsrn",
           "8017": "gsrnp", "253": "gdti", "8010": "cpi", "255": "sgcn", "8006": "itip"}
_PLUS_FAMILY = {"01": "sgtin", "00": "sscc", "414": "sgln", "8003": "grai", "8004": "giai", "8018": "gsrn",
                "8017": "gsrnp", "253": "gdti", "8010": "cpi", "255": "sgcn", "8006": "itip"}
_TAG_URI = re.compile(r"^urn:epc:tag:((?:\[[^\]]*\])*:)?([a-z0-9+-]+):(.*)$")
_ELEMENT = re.compile(r"\((\d{2,4})\)([^(]*)")


def _split_uri(body: str, uri_name: str) -> tuple[str, ...]:
    kinds = _COMPONENTS[uri_name]
    parts = body.split(".", len(kinds) - 1)  # only the last component may contain dots
    if len(parts) != len(kinds):
        raise InvalidURIError(f"{uri_name} URI needs {len(kinds)} dot-separated components", input=body)
    out = []
    for kind, part in zip(kinds, parts, strict=False):
        if kind == "n":
            if part and not (part.isdigit() and part.isascii()):
                raise InvalidCharacterError(f"{uri_name}: component {part!r} must be digits", input=body)
            out.append(part)
        else:
            out.append(uri_unescape(part, CSET82 if kind == "s" else CSET6))
    return tuple(out)


def _choose(uri_name: str, fields: tuple[str, ...], scheme: str | None) -> str:
    short, long = FAMILIES[uri_name]
    if scheme and scheme not in ("auto", uri_name):
        if scheme not in BY_NAME or CLASSIC[scheme][0] != uri_name:
            raise InvalidValueError(f"scheme {scheme!r} does not encode {uri_name}", input=scheme)
        return scheme
    if long is None:
        return short
    if uri_name in ("sgtin", "grai", "itip"):
        ok = fits_integer(fields[-1], 38)
    elif uri_name in ("sgln", "gdti"):
        ok = fits_integer(fields[-1], 41)
    elif uri_name == "giai":
        bits = {12: 42, 11: 45, 10: 48, 9: 52, 8: 55, 7: 58, 6: 62}.get(len(fields[0]), 0)
        ok = fits_integer(fields[1], bits)
    else:  # cpi
        digits = {12: 3, 11: 4, 10: 5, 9: 6, 8: 7, 7: 8, 6: 9}.get(len(fields[0]), 0)
        ok = (fits_integer(fields[1], 31) and len(fields[1]) <= digits) and fits_integer(fields[2], 31)
    return short if ok else long


def _encoded(value: int, nbits: int, stem: str) -> EPC:
    w = BitWriter()
    w.write(value, nbits)
    return decode(w.hex(), dl_stem=stem)


def parse_element_string(text: str) -> tuple[tuple[str, str], ...]:
    """Bracketed element string ``(01)...(21)...`` into AI pairs."""
    text = text.strip()
    pairs = tuple(_ELEMENT.findall(text))
    if not pairs or "".join(f"({a}){v}" for a, v in pairs) != text:
        raise InvalidURIError("not a bracketed GS1 element string", input=text)
    return pairs


def parse_digital_link(uri: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """(hostname, AI pairs) of an uncompressed GS1 Digital Link URI."""
    m = re.match(r"^https?://([^/?#]+)(/[^?#]*)(?:\?([^#]*))?", uri)
    if m is None:
        raise InvalidURIError("not an http(s) URI", input=uri)
    host, path, query = m.group(1), m.group(2), m.group(3) or ""
    segs = [s for s in path.split("/") if s]
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(segs) and not (segs[i].isdigit() and 2 <= len(segs[i]) <= 4 and segs[i] in _DL_PATH_AIS):
        i += 1  # custom path prefix before the primary key
    if i >= len(segs) or (len(segs) - i) % 2:
        raise InvalidURIError("no GS1 primary key in the Digital Link path", input=uri)
    for j in range(i, len(segs), 2):
        pairs.append((segs[j], dl_unescape(segs[j + 1])))
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        if key.isdigit():
            pairs.append((key, dl_unescape(value)))
    return host, tuple(pairs)


_DL_PATH_AIS = frozenset(_KEY_AI) | {"417", "401", "402"}


def _classic_from_elements(elements: Sequence[tuple[str, str]], gcp_len: int | None,
                           table: CompanyPrefixTable | None) -> tuple[str, tuple[str, ...]]:
    values = dict(elements)
    key_ai = elements[0][0]
    name = _KEY_AI.get(key_ai)
    if name is None:
        raise InvalidValueError(f"AI ({key_ai}) is not an EPC primary key", input=elements)
    key = values[key_ai]

    def length(digits: str) -> int:
        return resolve_length(digits, gcp_len, table, f"({key_ai}){key}")

    def checked(body: str, cd: str) -> None:
        if not body.isdigit() or check_digit(body) != cd:
            raise InvalidValueError(f"({key_ai}) {key}: bad check digit", input=key)

    if name in ("sgtin", "itip"):
        gtin = key[:14]
        if len(gtin) != 14:
            raise InvalidValueError(f"({key_ai}) {key}: a GTIN-14 is needed", input=key)
        checked(gtin[:13], gtin[13])
        n = length(gtin[1:13])
        fields: tuple[str, ...] = (gtin[1:1 + n], gtin[0] + gtin[1 + n:13])
        if name == "itip":
            if len(key) != 18:
                raise InvalidValueError(f"(8006) {key}: 18 digits needed", input=key)
            fields += (key[14:16], key[16:18])
        serial = values.get("21")
        if serial is None:
            raise InvalidValueError(f"{name} needs a serial number (21)", input=elements)
        return name, (*fields, serial)
    if name == "sscc":
        checked(key[:17], key[17:])
        n = length(key[1:17])
        return name, (key[1:1 + n], key[0] + key[1 + n:17])
    if name == "sgln":
        checked(key[:12], key[12:])
        n = length(key[:12])
        return name, (key[:n], key[n:12], values.get("254", "0"))
    if name == "grai":
        checked(key[:13], key[13:14])
        n = length(key[1:13])
        serial = key[14:]
        if not serial:
            raise InvalidValueError("(8003) GRAI without serial number has no EPC", input=key)
        return name, (key[1:1 + n], key[1 + n:13], serial)
    if name == "giai":
        n = length(key)
        return name, (key[:n], key[n:])
    if name in ("gsrn", "gsrnp"):
        checked(key[:17], key[17:])
        n = length(key[:17])
        return name, (key[:n], key[n:17])
    if name in ("gdti", "sgcn"):
        checked(key[:12], key[12:13])
        n = length(key[:12])
        serial = key[13:]
        if not serial:
            raise InvalidValueError(f"({key_ai}) without serial number has no EPC", input=key)
        return name, (key[:n], key[n:12], serial)
    # cpi
    n = length(key)
    serial = values.get("8011")
    if serial is None:
        raise InvalidValueError("CPI needs a serial (8011)", input=elements)
    return name, (key[:n], key[n:], serial)


def encode(source: str | Sequence[tuple[str, str]], *, scheme: str | None = None, filter: int | None = None,
           company_prefix_length: int | None = None,
           company_prefix_table: CompanyPrefixTable | str | Path | None = None,
           hostname: str | None = None, dl_stem: str = DEFAULT_DL_STEM) -> EPC:
    """Encode an EPC and return it decoded (``.hex`` is the binary encoding).

    ``source`` is a tag URI (alone is enough), a pure-identity URI (give ``filter``, and
    ``scheme`` unless the automatic 96-bit/long choice is wanted), a bracketed element string,
    a Digital Link or a sequence of (AI, value) pairs.  GS1 data needs ``scheme`` for the
    ``+``/``++`` schemes (no GCP length needed) or the company-prefix length for classic ones.
    """
    table = (CompanyPrefixTable.load(company_prefix_table)
             if isinstance(company_prefix_table, (str, Path)) else company_prefix_table)
    if isinstance(source, str):
        text = source.strip()
        if text.startswith("urn:epc:tag:"):
            m = _TAG_URI.match(text)
            if m is None:
                raise InvalidURIError("malformed EPC tag URI", input=source)
            name, body = m.group(2), m.group(3)
            if name not in CLASSIC:
                raise InvalidURIError(f"unknown tag URI scheme {name!r}", input=source)
            uri_name = CLASSIC[name][0]
            filt: int | None = None
            if BY_NAME[name].filter_bits:
                head, _, body = body.partition(".")
                if not head.isdigit():
                    raise InvalidURIError("tag URI filter value must be a number", input=source)
                filt = int(head)
            fields = _split_uri(body, uri_name)
            value, nbits = encode_classic(name, filt, fields)
            return _encoded(value, nbits, dl_stem)
        if text.startswith("urn:epc:id:"):
            uri_name, _, body = text[11:].partition(":")
            if uri_name not in FAMILIES:
                raise InvalidURIError(f"unknown pure-identity URI type {uri_name!r}", input=source)
            fields = _split_uri(body, uri_name)
            name = _choose(uri_name, fields, scheme)
            if BY_NAME[name].filter_bits and filter is None:
                raise InvalidValueError("a pure-identity URI needs filter= to be encoded", input=source)
            value, nbits = encode_classic(name, filter, fields)
            return _encoded(value, nbits, dl_stem)
        if text.startswith("urn:epc:raw:"):
            m = re.match(r"^urn:epc:raw:(?:(?:\[[^\]]*\])*:)?(\d+)\.(?:x[0-9A-F]{2}\.)?x([0-9A-Fa-f]+)$", text)
            if m is None:
                raise InvalidURIError("malformed or unsupported EPC raw URI", input=source)
            return decode(m.group(2), dl_stem=dl_stem)
        if text.startswith(("http://", "https://")):
            host, elements = parse_digital_link(text)
            if hostname is None and scheme is not None and scheme.endswith("++") and host != "id.gs1.org":
                hostname = host
        elif text.startswith("("):
            elements = parse_element_string(text)
        else:
            raise InvalidURIError("expected an EPC URI, element string or Digital Link", input=source)
    else:
        elements = tuple((str(a), str(v)) for a, v in source)
    if not elements:
        raise InvalidValueError("no AI data", input=source)
    if scheme is not None and scheme in PLUS_BY_NAME:
        value, nbits = encode_plus(scheme, 0 if filter is None else filter, elements, hostname)
        return _encoded(value, nbits, dl_stem)
    if scheme is not None and scheme.endswith("+"):
        raise InvalidValueError(f"unknown scheme {scheme!r}", input=scheme)
    uri_name, fields = _classic_from_elements(elements, company_prefix_length, table)
    name = _choose(uri_name, fields, scheme)
    if filter is None:
        raise InvalidValueError("encoding GS1 data into a classic EPC scheme needs filter=", input=source)
    try:
        value, nbits = encode_classic(name, filter, fields)
    except FieldOverflowError:
        raise
    except EPCError:
        raise
    return _encoded(value, nbits, dl_stem)


def plus_scheme_for(elements: Sequence[tuple[str, str]], hostname: bool = False) -> str:
    """The ``+``/``++`` scheme that carries these elements' primary key (DSGTIN when dated)."""
    key = elements[0][0]
    family = _PLUS_FAMILY.get(key)
    if family is None:
        raise InvalidValueError(f"AI ({key}) has no '+' scheme", input=elements)
    return family + ("++" if hostname else "+")
