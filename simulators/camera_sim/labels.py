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

Expected data is built here from the element values with the GS1 rules (FNC1 after every
variable-length element that is not last), never by running a decoder.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

BASE_PX = 4  # pixels per module on the label before the scene scales it
GS = "\x1d"
# AIs with a predefined length (GS1 General Specifications 7.8.5): no FNC1 after them.
_FIXED = {"00": 18, "01": 14, "02": 14, "17": 6, "15": 6, "410": 13, "3103": 6, "11": 6}


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for the digits before it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def element_string(pairs: Sequence[tuple[str, str]]) -> str:
    parts = []
    for i, (ai, value) in enumerate(pairs):
        parts.append(ai + value)
        if ai not in _FIXED and i < len(pairs) - 1:
            parts.append(GS)
    return "".join(parts)


def hri(pairs: Sequence[tuple[str, str]]) -> str:
    return "".join(f"({ai}){value}" for ai, value in pairs)


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
    return body + check_digit(body)


def sscc(rng: random.Random) -> str:
    body = "3" + "950" + "".join(rng.choice("0123456789") for _ in range(13))
    return body + check_digit(body)


def gln(rng: random.Random) -> str:
    body = "950" + "".join(rng.choice("0123456789") for _ in range(9))
    return body + check_digit(body)


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


def code_for(kind: str, rng: random.Random) -> tuple[Code, np.ndarray]:
    """One symbol of ``kind`` (see :data:`SYMBOL_KINDS`) with random GS1-valid content."""
    if kind == "gs1-128-sscc":
        c = _gs1(kind, "GS1-128", "]C1", [("00", sscc(rng))])
        return c, _symbol_image(c.hri, F.Code128, gs1=True, bar_height=40)
    if kind == "gs1-128-content":
        c = _gs1(kind, "GS1-128", "]C1", [("02", gtin(rng)), ("37", str(rng.randint(1, 480))),
                                          ("15", date(rng)), ("10", lot(rng))])
        return c, _symbol_image(c.hri, F.Code128, gs1=True, bar_height=40)
    if kind == "gs1-128-shipto":
        c = _gs1(kind, "GS1-128", "]C1", [("410", gln(rng))])
        return c, _symbol_image(c.hri, F.Code128, gs1=True, bar_height=40)
    if kind == "gs1-datamatrix":
        c = _gs1(kind, "GS1 DataMatrix", "]d2", [("01", gtin(rng)), ("17", date(rng)), ("10", lot(rng)),
                                                  ("21", str(rng.randint(10**5, 10**10)))])
        return c, _symbol_image(c.hri, F.DataMatrix, gs1=True, options="gs1,forceSquare")
    if kind == "gs1-qr-dl":
        g, b, e = gtin(rng), lot(rng), date(rng)
        url = f"https://id.gs1.org/01/{g}/10/{b}?17={e}"
        c = Code(kind, "QR Code", "]Q1", url, url, (("01", g), ("10", b), ("17", e)))
        return c, _symbol_image(url, F.QRCode)
    if kind == "databar":
        g = gtin(rng)
        c = _gs1(kind, "GS1 DataBar", "]e0", [("01", g)])
        return c, _symbol_image(g[:13], F.DataBarOmni)
    if kind == "databar-expanded":
        c = _gs1(kind, "GS1 DataBar Expanded", "]e0", [("01", gtin(rng)), ("3103", f"{rng.randint(1, 99999):06d}"),
                                                        ("10", lot(rng))])
        return c, _symbol_image(c.hri, F.DataBarExp, bar_height=34)
    if kind == "databar-expanded-stacked":
        c = _gs1(kind, "GS1 DataBar Expanded Stacked", "]e0",
                 [("01", gtin(rng)), ("3103", f"{rng.randint(1, 99999):06d}"), ("17", date(rng)), ("10", lot(rng))])
        return c, _symbol_image(c.hri, F.DataBarExpStk)
    if kind == "ean-13":
        g = gtin(rng, 13)
        c = Code(kind, "EAN-13", "]E0", g, g, (("01", "0" + g),))
        return c, _symbol_image(g[:12], F.EAN13, bar_height=60)
    if kind == "upc-a":
        g = "0" + "".join(rng.choice("0123456789") for _ in range(10))
        g += check_digit(g)
        c = Code(kind, "UPC-A", "]E0", "0" + g, g, (("01", "00" + g),))
        return c, _symbol_image(g[:11], F.UPCA, bar_height=60)
    if kind == "itf-14":
        g = gtin(rng)
        c = Code(kind, "ITF-14", "]I1", g, g, (("01", g),))
        return c, _symbol_image(g[:13], F.ITF14, quiet=True)  # the quiet zone sits inside the bearer box
    raise ValueError(f"unknown symbol kind {kind!r}; expected one of {SYMBOL_KINDS}")


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


def _single(kind: str, rng: random.Random, caption: str) -> Label:
    code, sym = code_for(kind, rng)
    pad = 12 * BASE_PX  # generous quiet zone: more than any symbology asks for
    width = sym.shape[1] + 2 * pad
    rows: list[tuple[np.ndarray | str, Code | None]] = [(caption, None), (sym, code), (code.hri[:40], None)]
    label = _stack(rows, max(width, 420), pad)
    return Label(label.image, label.codes, kind)


def logistic_label(rng: random.Random) -> Label:
    """A GS1 logistic label: content (02)(37)(15)(10), ship-to (410) and the SSCC (00) in GS1-128."""
    content, c_img = code_for("gs1-128-content", rng)
    ship, s_img = code_for("gs1-128-shipto", rng)
    sscc_code, x_img = code_for("gs1-128-sscc", rng)
    pad = 12 * BASE_PX
    width = max(i.shape[1] for i in (c_img, s_img, x_img)) + 2 * pad
    rows: list[tuple[np.ndarray | str, Code | None]] = [
        ("FROM  GS1 Border Logistics", None), (f"SSCC {sscc_code.pairs[0][1]}", None),
        (f"CONTENT {content.pairs[0][1]}  COUNT {content.pairs[1][1]}", None),
        (c_img, content), (s_img, ship), (x_img, sscc_code),
    ]
    label = _stack(rows, width, pad)
    return Label(label.image, label.codes, "sscc-label")


def _single_label(kind: str) -> Callable[[random.Random], Label]:
    return lambda rng: _single(kind, rng, kind.upper())


LABEL_KINDS: dict[str, Callable[[random.Random], Label]] = {
    "sscc-label": logistic_label, **{k: _single_label(k) for k in SYMBOL_KINDS}}


def make_label(kind: str, rng: random.Random) -> Label:
    try:
        factory = LABEL_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown label kind {kind!r}; expected one of {sorted(LABEL_KINDS)}") from None
    return factory(rng)
