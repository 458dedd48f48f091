"""GS1 labels drawn with an independent encoder (zxing-cpp's writer, i.e. zint), with ground truth.

Each label is a grayscale image at :data:`BASE_PX` pixels per module plus the codes printed on
it, each with the data a conforming reader must return (identifier + data with GS) and where it
sits on the label:

>>> import random
>>> label = make_label("sscc-label", random.Random(1))
>>> [c.symbology for c in label.codes]
['GS1-128', 'GS1-128', 'GS1-128']
>>> label.codes[-1].raw.startswith("]C100")
True

Labels with explicit content (the scripted camera of :mod:`simulators.camera_sim.timeline`):

>>> [c.raw for c in single_label("datamatrix", parse_hri("(01)04012345000023(10)LOT7(17)250200")).codes]
[']d2010401234500002310LOT7\\x1d17250200']
>>> [c.hri for c in logistic_label_for(parse_hri("(00)340123450000002011(02)04012345000023(37)24")).codes]
['(02)04012345000023(37)24', '(00)340123450000002011']

Expected data is built here from the element values with the GS1 rules (FNC1 after every
variable-length element that is not last), never by running a decoder.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import cv2
import numpy as np
import zxingcpp

from gateway.gs1.check_digit import check_digit, with_check_digit

BASE_PX = 4  # pixels per module on the label before the scene scales it
GS = "\x1d"
# AI prefixes with a predefined length (GS1 General Specifications figure 7.8.5-1): no FNC1 after them.
_PREDEFINED = frozenset({"00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20",
                         "31", "32", "33", "34", "35", "36", "41"})


def element_string(pairs: Sequence[tuple[str, str]]) -> str:
    parts = []
    for i, (ai, value) in enumerate(pairs):
        parts.append(ai + value)
        if ai[:2] not in _PREDEFINED and i < len(pairs) - 1:
            parts.append(GS)
    return "".join(parts)


def hri(pairs: Sequence[tuple[str, str]]) -> str:
    return "".join(f"({ai}){value}" for ai, value in pairs)


def parse_hri(text: str) -> tuple[tuple[str, str], ...]:
    """``"(01)04012345000023(10)LOT7"`` -> ``(("01", "04012345000023"), ("10", "LOT7"))``."""
    parts = re.split(r"\((\d{2,4})\)", text.strip())
    if len(parts) < 3 or parts[0]:
        raise ValueError(f"{text!r}: expected a bracketed element string such as (01)04012345000023(10)LOT7")
    pairs = tuple(zip(parts[1::2], parts[2::2], strict=True))
    empty = [ai for ai, value in pairs if not value]
    if empty:
        raise ValueError(f"{text!r}: AI ({empty[0]}) has no value")
    return pairs


# Digital Link: primary keys and their key qualifiers, in URI path order (GS1 Digital Link 1.4, 4.1)
_DL_KEYS = {"01": ("22", "10", "21"), "8006": ("22", "10", "21"), "414": ("254",), "8010": ("8011",),
            "417": ("7040",), "00": (), "253": (), "255": (), "401": (), "402": (), "8003": (), "8004": (),
            "8017": (), "8018": ()}


def digital_link(pairs: Sequence[tuple[str, str]], domain: str = "https://id.gs1.org"
                 ) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The Digital Link URI for ``pairs`` (key first) and the pairs in the order the URI carries them."""
    key, value = pairs[0]
    if key not in _DL_KEYS:
        raise ValueError(f"{hri(pairs)!r}: a Digital Link starts with a primary key, not ({key})")
    rest = dict(pairs[1:])
    path = [(key, value)] + [(q, rest.pop(q)) for q in _DL_KEYS[key] if q in rest]
    query = list(rest.items())
    url = domain + "".join(f"/{ai}/{quote(v, safe='')}" for ai, v in path)
    if query:
        url += "?" + "&".join(f"{ai}={quote(v, safe='')}" for ai, v in query)
    return url, tuple(path + query)


def _gtin_of(kind: str, pairs: Sequence[tuple[str, str]], length: int = 14) -> str:
    """The one (01) of a symbology that carries nothing else, check digit verified (the encoder recomputes it)."""
    if len(pairs) != 1 or pairs[0][0] != "01" or not pairs[0][1].isdigit() or len(pairs[0][1]) != 14:
        raise ValueError(f"{kind} carries exactly one (01) GTIN of 14 digits, got {hri(pairs)!r}")
    g = pairs[0][1]
    if check_digit(g[:-1]) != g[-1]:
        raise ValueError(f"{hri(pairs)!r}: wrong GTIN check digit (expected {check_digit(g[:-1])})")
    if not g.startswith("0" * (14 - length)):
        raise ValueError(f"{kind} needs a GTIN-{length}: (01) must start with {'0' * (14 - length)}, got {g}")
    return g[14 - length:]


@dataclass(frozen=True, slots=True)
class Code:
    """One printed symbol and the answer a reader must give for it."""

    kind: str
    symbology: str
    symbology_id: str
    data: str  # with GS separators, without identifier
    hri: str
    pairs: tuple[tuple[str, str], ...]
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y, w, h on the label (symbol without quiet zone)

    @property
    def raw(self) -> str:
        return self.symbology_id + self.data

    def at(self, box: tuple[int, int, int, int]) -> Code:
        return Code(self.kind, self.symbology, self.symbology_id, self.data, self.hri, self.pairs, box)


@dataclass(frozen=True, slots=True)
class Label:
    image: np.ndarray  # gray uint8
    codes: tuple[Code, ...]
    kind: str


# ---------------------------------------------------------------- content


def gtin(rng: random.Random, length: int = 14) -> str:
    body = "0" * (length - 13) + "950" + "".join(rng.choice("0123456789") for _ in range(9))
    body = body[-(length - 1):]
    return with_check_digit(body)


def sscc(rng: random.Random) -> str:
    body = "3" + "950" + "".join(rng.choice("0123456789") for _ in range(13))
    return with_check_digit(body)


def gln(rng: random.Random) -> str:
    body = "950" + "".join(rng.choice("0123456789") for _ in range(9))
    return with_check_digit(body)


def lot(rng: random.Random) -> str:
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789-"
    return "".join(rng.choice(chars) for _ in range(rng.randint(4, 10))).strip("-") or "L1"


def date(rng: random.Random) -> str:
    return f"{rng.randint(26, 30):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


# ---------------------------------------------------------------- symbols


def _symbol_image(content: str, fmt: zxingcpp.BarcodeFormat, *, gs1: bool = False, options: str = "",
                  bar_height: int = 0, quiet: bool = False) -> np.ndarray:
    kwargs: dict[str, object] = {}
    if options:
        kwargs["options"] = options
    if gs1:
        kwargs["gs1"] = True
    img = np.array(zxingcpp.create_barcode(content, fmt, **kwargs).to_image(scale=1, add_quiet_zones=quiet))
    if bar_height and img.shape[0] < bar_height:  # taller 1D bars read better at an angle
        img = cv2.resize(img, (img.shape[1], bar_height), interpolation=cv2.INTER_NEAREST)
    big = cv2.resize(img, (img.shape[1] * BASE_PX, img.shape[0] * BASE_PX), interpolation=cv2.INTER_NEAREST)
    return np.asarray(big, dtype=np.uint8)


def _gs1(kind: str, symbology: str, sid: str, pairs: list[tuple[str, str]]) -> Code:
    return Code(kind, symbology, sid, element_string(pairs), hri(pairs), tuple(pairs))


F = zxingcpp.BarcodeFormat


# symbol kinds under their short names too (the timeline's ``kind``)
ALIASES = {"gs1-128": "gs1-128-content", "datamatrix": "gs1-datamatrix", "qr-dl": "gs1-qr-dl", "ean13": "ean-13",
           "upca": "upc-a", "itf14": "itf-14"}


def symbol(kind: str, pairs: Sequence[tuple[str, str]]) -> tuple[Code, np.ndarray]:
    """One symbol of ``kind`` (:data:`SYMBOL_KINDS` or :data:`ALIASES`) carrying exactly ``pairs``.

    ``databar`` with more than a (01) becomes DataBar Expanded.  Raises ``ValueError`` naming the content
    when the symbology cannot carry it or the encoder rejects it (bad check digit, too long, bad characters).
    """
    pairs = [(str(ai), str(value)) for ai, value in pairs]
    if not pairs:
        raise ValueError(f"{kind}: no elements to encode")
    base = ALIASES.get(kind, kind)
    if base == "databar" and len(pairs) > 1:
        base = "databar-expanded"
    try:
        return _symbol(kind, base, pairs)
    except RuntimeError as exc:  # zint's message, e.g. a bad check digit or character
        raise ValueError(f"{kind} {hri(pairs)!r}: {exc}") from None


def _symbol(kind: str, base: str, pairs: list[tuple[str, str]]) -> tuple[Code, np.ndarray]:
    if base.startswith("gs1-128"):
        c = _gs1(kind, "GS1-128", "]C1", pairs)
        return c, _symbol_image(c.hri, F.Code128, gs1=True, bar_height=40)
    if base == "gs1-datamatrix":
        c = _gs1(kind, "GS1 DataMatrix", "]d2", pairs)
        return c, _symbol_image(c.hri, F.DataMatrix, gs1=True, options="gs1,forceSquare")
    if base == "gs1-qr-dl":
        url, ordered = digital_link(pairs)
        c = Code(kind, "QR Code", "]Q1", url, url, ordered)
        return c, _symbol_image(url, F.QRCode)
    if base == "databar":
        g = _gtin_of(kind, pairs)
        c = _gs1(kind, "GS1 DataBar", "]e0", pairs)
        return c, _symbol_image(g[:13], F.DataBarOmni)
    if base == "databar-expanded":
        c = _gs1(kind, "GS1 DataBar Expanded", "]e0", pairs)
        return c, _symbol_image(c.hri, F.DataBarExp, bar_height=34)
    if base == "databar-expanded-stacked":
        c = _gs1(kind, "GS1 DataBar Expanded Stacked", "]e0", pairs)
        return c, _symbol_image(c.hri, F.DataBarExpStk)
    if base == "ean-13":
        g = _gtin_of(kind, pairs, 13)
        c = Code(kind, "EAN-13", "]E0", g, g, tuple(pairs))
        return c, _symbol_image(g[:12], F.EAN13, bar_height=60)
    if base == "upc-a":
        g = _gtin_of(kind, pairs, 12)
        c = Code(kind, "UPC-A", "]E0", "0" + g, g, tuple(pairs))
        return c, _symbol_image(g[:11], F.UPCA, bar_height=60)
    if base == "itf-14":
        g = _gtin_of(kind, pairs)
        c = Code(kind, "ITF-14", "]I1", g, g, tuple(pairs))
        return c, _symbol_image(g[:13], F.ITF14, quiet=True)  # the quiet zone sits inside the bearer box
    raise ValueError(f"unknown symbol kind {kind!r}; expected one of {SYMBOL_KINDS + tuple(ALIASES)}")


def code_for(kind: str, rng: random.Random) -> tuple[Code, np.ndarray]:
    """One symbol of ``kind`` (see :data:`SYMBOL_KINDS`) with random GS1-valid content."""
    pairs: list[tuple[str, str]]
    if kind == "gs1-128-sscc":
        pairs = [("00", sscc(rng))]
    elif kind == "gs1-128-content":
        pairs = [("02", gtin(rng)), ("37", str(rng.randint(1, 480))), ("15", date(rng)), ("10", lot(rng))]
    elif kind == "gs1-128-shipto":
        pairs = [("410", gln(rng))]
    elif kind == "gs1-datamatrix":
        pairs = [("01", gtin(rng)), ("17", date(rng)), ("10", lot(rng)), ("21", str(rng.randint(10**5, 10**10)))]
    elif kind == "gs1-qr-dl":
        g, b, e = gtin(rng), lot(rng), date(rng)
        pairs = [("01", g), ("10", b), ("17", e)]
    elif kind in ("databar", "itf-14"):
        pairs = [("01", gtin(rng))]
    elif kind == "databar-expanded":
        pairs = [("01", gtin(rng)), ("3103", f"{rng.randint(1, 99999):06d}"), ("10", lot(rng))]
    elif kind == "databar-expanded-stacked":
        pairs = [("01", gtin(rng)), ("3103", f"{rng.randint(1, 99999):06d}"), ("17", date(rng)), ("10", lot(rng))]
    elif kind == "ean-13":
        pairs = [("01", "0" + gtin(rng, 13))]
    elif kind == "upc-a":
        g = "0" + "".join(rng.choice("0123456789") for _ in range(10))
        pairs = [("01", "00" + g + check_digit(g))]
    else:
        raise ValueError(f"unknown symbol kind {kind!r}; expected one of {SYMBOL_KINDS}")
    return symbol(kind, pairs)


SYMBOL_KINDS = ("gs1-128-sscc", "gs1-128-content", "gs1-128-shipto", "gs1-datamatrix", "gs1-qr-dl", "databar",
                "databar-expanded", "databar-expanded-stacked", "ean-13", "upc-a", "itf-14")

# ---------------------------------------------------------------- labels


def _text(img: np.ndarray, text: str, x: int, y: int, size: float = 1.0) -> None:
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, size, 0, max(1, int(size * 2)), cv2.LINE_AA)


def _stack(rows: list[tuple[np.ndarray | str, Code | None]], width: int, pad: int) -> Label:
    """Lay rows (a symbol image or a text line) top to bottom on a white label."""
    heights = [r.shape[0] if isinstance(r, np.ndarray) else 40 for r, _ in rows]
    height = sum(heights) + pad * (len(rows) + 1)
    img = np.full((height, width), 255, np.uint8)
    codes = []
    y = pad
    for (item, code), h in zip(rows, heights, strict=True):
        if isinstance(item, np.ndarray):
            x = (width - item.shape[1]) // 2
            img[y:y + h, x:x + item.shape[1]] = item
            if code is not None:
                codes.append(code.at((x, y, item.shape[1], h)))
        else:
            _text(img, item, pad, y + 30)
        y += h + pad
    cv2.rectangle(img, (2, 2), (width - 3, height - 3), 0, 3)
    return Label(img, tuple(codes), "")


def _single(code: Code, sym: np.ndarray, caption: str) -> Label:
    pad = 12 * BASE_PX  # generous quiet zone: more than any symbology asks for
    width = sym.shape[1] + 2 * pad
    rows: list[tuple[np.ndarray | str, Code | None]] = [(caption, None), (sym, code), (code.hri[:40], None)]
    label = _stack(rows, max(width, 420), pad)
    return Label(label.image, label.codes, code.kind)


def single_label(kind: str, pairs: Sequence[tuple[str, str]], caption: str | None = None) -> Label:
    """A label with one symbol of ``kind`` carrying ``pairs`` (see :func:`symbol`)."""
    code, sym = symbol(kind, pairs)
    return _single(code, sym, kind.upper() if caption is None else caption)


def _logistic(parts: Sequence[tuple[Code, np.ndarray]], sender: str = "GS1 Border Logistics") -> Label:
    values = {ai: value for code, _ in parts for ai, value in code.pairs}
    pad = 12 * BASE_PX
    width = max(img.shape[1] for _, img in parts) + 2 * pad
    rows: list[tuple[np.ndarray | str, Code | None]] = [(f"FROM  {sender}", None)]
    if "00" in values:
        rows.append((f"SSCC {values['00']}", None))
    if "02" in values:
        rows.append((f"CONTENT {values['02']}" + (f"  COUNT {values['37']}" if "37" in values else ""), None))
    rows += [(img, code) for code, img in parts]
    label = _stack(rows, width, pad)
    return Label(label.image, label.codes, "sscc-label")


def split_logistic(pairs: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """A logistic label's elements as its GS1-128 symbols, top to bottom: content, ship-to (41x), SSCC (00)."""
    groups: list[list[tuple[str, str]]] = [[], [], []]
    for ai, value in pairs:
        groups[2 if ai == "00" else 1 if ai.startswith("41") else 0].append((ai, value))
    return [g for g in groups if g]


def logistic_label_for(pairs: Sequence[tuple[str, str]] = (), *, symbols: Sequence[Sequence[tuple[str, str]]] = (),
                       kind: str = "logistic") -> Label:
    """A GS1 logistic label with explicit content: element ``pairs`` (split into symbols by
    :func:`split_logistic`), or ``symbols``: one list of pairs per GS1-128 symbol, top to bottom."""
    groups = [list(g) for g in symbols if g] or split_logistic(pairs)
    if not groups:
        raise ValueError(f"{kind}: no elements to encode")
    label = _logistic([symbol(_logistic_kind(g), g) for g in groups])
    return Label(label.image, label.codes, kind)


def _logistic_kind(group: Sequence[tuple[str, str]]) -> str:
    ais = {ai for ai, _ in group}
    return "gs1-128-sscc" if "00" in ais else "gs1-128-shipto" if any(a.startswith("41") for a in ais) else \
        "gs1-128-content"


def logistic_label(rng: random.Random) -> Label:
    """A GS1 logistic label: content (02)(37)(15)(10), ship-to (410) and the SSCC (00) in GS1-128."""
    return _logistic([code_for(k, rng) for k in ("gs1-128-content", "gs1-128-shipto", "gs1-128-sscc")])


def _single_label(kind: str) -> Callable[[random.Random], Label]:
    return lambda rng: _single(*code_for(kind, rng), kind.upper())


LABEL_KINDS: dict[str, Callable[[random.Random], Label]] = {
    "sscc-label": logistic_label, **{k: _single_label(k) for k in SYMBOL_KINDS}}


def make_label(kind: str, rng: random.Random) -> Label:
    try:
        factory = LABEL_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown label kind {kind!r}; expected one of {sorted(LABEL_KINDS)}") from None
    return factory(rng)
