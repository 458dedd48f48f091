"""Barcode decoder backends behind one interface: zxing-cpp, pyzbar, and both combined.

Every backend takes a grayscale ``uint8`` image and returns a list of :class:`Symbol`, each
with its ISO/IEC 15424 symbology identifier (``]C1`` GS1-128, ``]d2`` GS1 DataMatrix, ...),
its data with FNC1 separators as GS (``\\x1d``) and its corners in image pixels.

>>> import numpy as np, zxingcpp
>>> img = np.array(zxingcpp.create_barcode("(00)106141411234567897", zxingcpp.BarcodeFormat.Code128,
...                                        gs1=True).to_image(scale=3))
>>> [s.raw for s in ZxingDecoder().decode(img)]
[']C100106141411234567897']

zxing-cpp is the primary decoder (every GS1 symbology, real symbology identifiers and GS1
flag).  pyzbar cannot read DataMatrix or stacked DataBar and does not report the GS1 flag, so
its identifiers are inferred (see :func:`_zbar_identifier`).  :class:`CombinedDecoder` runs
zxing-cpp on the whole frame, then rescues 1D bar fields that zxing-cpp did not read: it
locates them with OpenCV's ``BarcodeDetector.detect``, straightens each one and reads it again
with zxing-cpp, then with pyzbar.  Both libraries release the GIL, so a thread pool scales.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import zxingcpp

Corners = tuple[tuple[float, float], ...]


class DecoderUnavailable(RuntimeError):
    """A backend's library (e.g. ``libzbar0`` for pyzbar) is not installed."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """One decoded symbol in one image.

    ``data`` is the decoded text with GS (``\\x1d``) for separator FNC1s and without the
    leading FNC1 (that is what the ``]C1`` identifier says); ``raw`` puts the identifier in
    front, which is what :func:`gateway.gs1.parse` and :class:`gateway.reads.Read` expect.
    """

    symbology: str  # "GS1-128", "GS1 DataMatrix", "EAN-13", "ITF-14", "QR Code", ...
    symbology_id: str  # "]C1"
    data: str
    corners: Corners
    backend: str = "zxing-cpp"

    @property
    def raw(self) -> str:
        return self.symbology_id + self.data

    @property
    def center(self) -> tuple[float, float]:
        xs = [p[0] for p in self.corners] or [0.0]
        ys = [p[1] for p in self.corners] or [0.0]
        return (sum(xs) / len(xs), sum(ys) / len(ys))

    def moved(self, dx: float, dy: float) -> Symbol:
        """The same symbol with corners shifted, e.g. from a crop back to the frame."""
        corners = tuple((x + dx, y + dy) for x, y in self.corners)
        return Symbol(self.symbology, self.symbology_id, self.data, corners, self.backend)


class Decoder(Protocol):
    name: str

    def decode(self, image: np.ndarray) -> list[Symbol]: ...


# The gateway's symbologies; restricting formats and not trying inverted images halves zxing-cpp's
# time at no loss on our scenes (reference/barcode.md section 3.6).
GATEWAY_FORMATS = zxingcpp.barcode_formats_from_str(
    "Code128,DataMatrix,QRCode,DataBar,DataBarExpanded,DataBarExpStk,EAN13,UPCA,ITF")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


def _latin1(data: bytes) -> str:
    # GS1 data is ASCII; a Digital Link or other text is UTF-8.  Never lose bytes.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_ZX_NAMES = {
    ("Code 128", "]C1"): "GS1-128",
    ("Data Matrix", "]d2"): "GS1 DataMatrix",
    ("QR Code", "]Q3"): "GS1 QR Code",
    ("DataBar", "]e0"): "GS1 DataBar",
    ("DataBar Omni", "]e0"): "GS1 DataBar",
    ("DataBar Expanded", "]e0"): "GS1 DataBar Expanded",
    ("DataBar Expanded Stacked", "]e0"): "GS1 DataBar Expanded Stacked",
    ("DataBar Limited", "]e0"): "GS1 DataBar Limited",
    ("ITF", "]I1"): "ITF-14",
    ("ITF-14", "]I1"): "ITF-14",
    ("Data Matrix", "]d1"): "Data Matrix",
}


def symbology_name(fmt: str, symbology_id: str) -> str:
    """A stable, human name for a zxing-cpp format + identifier (``Code 128`` + ``]C1`` -> ``GS1-128``)."""
    return _ZX_NAMES.get((fmt, symbology_id), fmt)


def _zx_corners(position: Any) -> Corners:
    pts = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return tuple((float(p.x), float(p.y)) for p in pts)


class ZxingDecoder:
    """zxing-cpp with the gateway's formats; ``read_barcodes`` returns every symbol in the image."""

    name = "zxing-cpp"

    def __init__(self, *, formats: Any = None, try_rotate: bool = True, try_downscale: bool = True,
                 try_invert: bool = False) -> None:
        self.formats = GATEWAY_FORMATS if formats is None else formats
        self.try_rotate, self.try_downscale, self.try_invert = try_rotate, try_downscale, try_invert
        self.version = _version("zxing-cpp")

    def decode(self, image: np.ndarray) -> list[Symbol]:
        found = zxingcpp.read_barcodes(image, formats=self.formats, try_rotate=self.try_rotate,
                                       try_downscale=self.try_downscale, try_invert=self.try_invert)
        out = []
        for b in found:
            sid = b.symbology_identifier
            out.append(Symbol(symbology_name(str(b.format), sid), sid, _latin1(bytes(b.bytes)),
                              _zx_corners(b.position), self.name))
        return out


# zbar type -> (symbology name, identifier); GS1 flags are inferred for CODE128 and QRCODE.
_ZBAR = {
    "EAN13": ("EAN-13", "]E0"), "UPCA": ("EAN-13", "]E0"), "EAN8": ("EAN-8", "]E4"),
    "UPCE": ("UPC-E", "]E0"), "I25": ("ITF", "]I0"), "DATABAR": ("GS1 DataBar", "]e0"),
    "DATABAR_EXP": ("GS1 DataBar Expanded", "]e0"), "CODE128": ("Code 128", "]C0"),
    "QRCODE": ("QR Code", "]Q1"), "CODE39": ("Code 39", "]A0"),
}


def _looks_gs1(body: str) -> bool:
    try:
        from gateway.gs1 import LENIENT, parse
    except ImportError:  # pragma: no cover - GS1 core not installed
        return False
    try:
        parse("]C1" + body, profile=LENIENT)
    except Exception:
        return False
    return True


def _zbar_identifier(zbar_type: str, data: str) -> tuple[str, str]:
    """zbar reports no GS1 flag (pyzbar does not expose ``ZBAR_MOD_GS1``): a Code 128 or QR
    whose data is a valid GS1 element string is taken as ``]C1``/``]Q3``."""
    name, sid = _ZBAR.get(zbar_type, (zbar_type, "]X0"))
    if zbar_type == "I25" and len(data) == 14:
        return "ITF-14", "]I1"
    if zbar_type in ("CODE128", "QRCODE") and data[:1].isdigit() and _looks_gs1(data):
        return ("GS1-128", "]C1") if zbar_type == "CODE128" else ("GS1 QR Code", "]Q3")
    return name, sid


class PyzbarDecoder:
    """pyzbar (zbar); needs the system library ``libzbar0``."""

    name = "pyzbar"

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:
            raise DecoderUnavailable(f"pyzbar is not usable (install libzbar0): {exc}") from exc
        self._decode: Callable[..., Any] = pyzbar.decode
        self.version = _version("pyzbar")

    def decode(self, image: np.ndarray) -> list[Symbol]:
        if image.ndim == 3:  # pyzbar would keep channel 0 (blue) of a BGR image
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        out = []
        for r in self._decode(image):
            data = _latin1(r.data)
            if r.type == "CODE128" and data.startswith("\x1d"):
                data = data[1:]
            name, sid = _zbar_identifier(r.type, data)
            poly = r.polygon
            if len(poly) == 4:
                corners: Corners = tuple((float(p.x), float(p.y)) for p in poly)
            else:
                x, y, w, h = r.rect
                corners = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
            out.append(Symbol(name, sid, data, corners, self.name))
        return out


def _overlaps(corners: Corners, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in corners)


class CombinedDecoder:
    """zxing-cpp on the frame, then a rescue of unread 1D bar fields (locate, straighten, re-read
    with zxing-cpp, then pyzbar).  Regions already read are skipped, so a frame zxing-cpp reads
    completely costs only the locator (about 5 ms at 1080p)."""

    name = "combined"

    def __init__(self, primary: Decoder | None = None, fallback: Decoder | None = None, *,
                 max_regions: int = 6, locate_scale: float = 0.5) -> None:
        import cv2

        self.primary = primary or ZxingDecoder()
        self.fallback = fallback
        if fallback is None:
            try:
                self.fallback = PyzbarDecoder()
            except DecoderUnavailable:
                self.fallback = None
        self.max_regions, self.locate_scale = max_regions, locate_scale
        self._cv2 = cv2
        self._detector = cv2.barcode.BarcodeDetector() if hasattr(cv2, "barcode") else None

    def decode(self, image: np.ndarray) -> list[Symbol]:
        symbols = self.primary.decode(image)
        if self._detector is None:
            return symbols
        for quad in self._candidates(image)[: self.max_regions]:
            xs, ys = quad[:, 0], quad[:, 1]
            box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
            if any(_overlaps(s.corners, box) or _overlaps(_quad(box), _bbox(s.corners)) for s in symbols):
                continue
            symbols.extend(self._rescue(image, quad))
        return symbols

    def _candidates(self, image: np.ndarray) -> list[np.ndarray]:
        # Locate on a half-size copy: bar fields stay visible and the locator costs a quarter.
        f = self.locate_scale if image.shape[0] > 720 else 1.0
        small = image if f == 1.0 else self._cv2.resize(image, None, fx=f, fy=f, interpolation=self._cv2.INTER_AREA)
        try:
            ok, points = self._detector.detect(small) if self._detector is not None else (False, None)
        except self._cv2.error:
            return []
        if not ok or points is None:
            return []
        return [np.asarray(p, dtype=np.float32).reshape(4, 2) / f for p in points]

    def _rescue(self, image: np.ndarray, quad: np.ndarray) -> list[Symbol]:
        cv2 = self._cv2
        (cx, cy), (w, h), angle = cv2.minAreaRect(quad)
        if w < h:  # bars run across the long side: make it horizontal
            w, h, angle = h, w, angle + 90.0
        w, h = w * 1.25 + 20, h * 1.25 + 20  # quiet zone and the detector's tight box
        m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
        m[0, 2] += w / 2 - cx
        m[1, 2] += h / 2 - cy
        iw, ih = int(w), int(h)
        if iw < 8 or ih < 8 or iw * ih > image.shape[0] * image.shape[1]:
            return []
        crop = cv2.warpAffine(image, m, (iw, ih), flags=cv2.INTER_LINEAR, borderValue=255)
        found = self.primary.decode(crop)
        if not found and self.fallback is not None:
            found = self.fallback.decode(crop)
        inv = cv2.invertAffineTransform(m)
        out = []
        for s in found:
            pts = np.array(s.corners, dtype=np.float64)
            back = pts @ inv[:, :2].T + inv[:, 2]
            out.append(Symbol(s.symbology, s.symbology_id, s.data,
                              tuple((float(x), float(y)) for x, y in back), s.backend + "+rescue"))
        return out


def _bbox(corners: Corners) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return (min(xs), min(ys), max(xs), max(ys))


def _quad(box: tuple[float, float, float, float]) -> Corners:
    x0, y0, x1, y1 = box
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


BACKENDS = ("zxing", "pyzbar", "combined")


def make_decoder(name: str) -> Decoder:
    """``zxing`` (default), ``pyzbar`` or ``combined``; raises :class:`DecoderUnavailable`."""
    if name in ("zxing", "zxing-cpp"):
        return ZxingDecoder()
    if name == "pyzbar":
        return PyzbarDecoder()
    if name == "combined":
        return CombinedDecoder()
    raise ValueError(f"unknown decoder backend {name!r}; expected one of {BACKENDS}")


def dedupe(symbols: Sequence[Symbol]) -> list[Symbol]:
    """Drop repeats of the same raw data read twice in one frame (e.g. by the rescue)."""
    seen: set[str] = set()
    out = []
    for s in symbols:
        if s.raw not in seen:
            seen.add(s.raw)
            out.append(s)
    return out
