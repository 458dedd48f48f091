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
locates them with a structure-tensor locator (:func:`locate_bar_fields`, ~4 ms at 1080p, the
gate that decides whether any rescue work is done), straightens each one and reads it again
with zxing-cpp, then (within a per-frame budget, small crops only) with pyzbar.
:class:`TrackingDecoder` decodes only the regions of recent reads between full frames, for
video.  Both libraries release the GIL, so a thread pool scales.

Where the time went before (48 benchmark scenes, 1080p, CPU ms per frame on a loaded 2-core
machine): zxing-cpp full frame ~29, OpenCV ``BarcodeDetector.detect`` ~19, pyzbar on every
unread candidate ~10, crops ~6.  The locator replaced ``detect`` (finding more of the unread
codes), pyzbar is limited to linear symbologies, small crops and 3 calls per frame.

And where it goes now (same scenes, quiet machine, all threads' CPU, OpenCV serial): zxing-cpp
full frame ~24, locator ~3.5 (was 4-7: fresh 2 MB arrays per frame and OpenCV's own threads, see
:func:`serial_opencv`), crops ~1.3 (fields too short to hold a symbol are skipped: ~6 crops per
frame became ~2), pyzbar ~1.2 (~1 call per frame instead of ~2.5, rows only, see
:class:`PyzbarDecoder`).  All that remains outside zxing-cpp's full-frame pass is ~25 % of its
time (was ~50 %): on a pool of 2, 0.74-0.78 of zxing-cpp alone's frames/s (was 0.67).
"""

from __future__ import annotations

import importlib.metadata
import math
import threading
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
    quality: int = 0  # zbar's count of scan passes that decoded this symbol; 0: not reported (zxing-cpp)

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
        return Symbol(self.symbology, self.symbology_id, self.data, corners, self.backend, self.quality)

    @property
    def band(self) -> float:
        """For a zxing-cpp linear read: how wide (px, across the bars) the band of scan lines that
        agreed on this value is.  zxing-cpp reports a linear symbol as the quadrilateral spanned by
        its first and last agreeing scan line, so ``corners[0] -> corners[3]`` is that width: 0-2 px
        is one or two adjacent rows, a wide band is many rows that read the same value."""
        if len(self.corners) != 4:
            return 0.0
        (x0, y0), _, _, (x3, y3) = self.corners
        return math.hypot(x3 - x0, y3 - y0)


class Decoder(Protocol):
    name: str

    def decode(self, image: np.ndarray) -> list[Symbol]: ...


# The gateway's symbologies; restricting formats and not trying inverted images halves zxing-cpp's
# time at no loss on our scenes (reference/barcode.md section 3.6).
GATEWAY_FORMATS = zxingcpp.barcode_formats_from_str(
    "Code128,DataMatrix,QRCode,DataBar,DataBarExpanded,DataBarExpStk,EAN13,UPCA,ITF")
# What a straightened bar-field crop can hold: the linear (and stacked linear) gateway symbologies.
LINEAR_FORMATS = zxingcpp.barcode_formats_from_str("Code128,DataBar,DataBarExpanded,DataBarExpStk,EAN13,UPCA,ITF")


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


# zbar's linear symbologies of the gateway: what a straightened bar-field crop can hold.  Leaving
# QR (and the rest) out skips zbar's QR finder: a quarter less time per crop, the same reads.
ZBAR_LINEAR = ("CODE128", "EAN13", "UPCA", "I25", "DATABAR", "DATABAR_EXP")


class PyzbarDecoder:
    """pyzbar (zbar); needs the system library ``libzbar0``.  ``symbols`` (zbar names, e.g.
    :data:`ZBAR_LINEAR`) restricts the symbologies zbar looks for; default: all.

    ``rows_only``: scan image rows only (zbar's ``x-density`` 0), for an upright 1D crop whose bars
    run down the image: zbar otherwise also scans every column, along the bars, where nothing can
    decode, so this takes ~40 % less time with the same reads and the same ``quality`` (passes
    that decoded) on an upright code.  pyzbar's ``decode`` has no such setting, so this path drives
    zbar through pyzbar's ctypes wrapper directly (which, like ``decode``, releases the GIL while zbar
    scans)."""

    name = "pyzbar"

    def __init__(self, symbols: Sequence[str] | None = None, *, rows_only: bool = False) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:
            raise DecoderUnavailable(f"pyzbar is not usable (install libzbar0): {exc}") from exc
        self._decode: Callable[..., Any] = pyzbar.decode if not rows_only else self._scan_rows
        self._symbols = None if symbols is None else [pyzbar.ZBarSymbol[n] for n in symbols]
        self.rows_only = rows_only
        self.version = _version("pyzbar")

    @staticmethod
    def _scan_rows(image: np.ndarray, symbols: Sequence[Any] | None = None) -> list[Any]:
        """pyzbar's ``decode`` with zbar's column scans off; returns pyzbar's ``Decoded`` tuples."""
        from ctypes import c_void_p, string_at

        from pyzbar import wrapper as zw
        from pyzbar.locations import bounding_box, convex_hull
        from pyzbar.pyzbar import Decoded, ZBarSymbol

        pixels = np.ascontiguousarray(image, dtype=np.uint8)  # zbar reads it in place until the image is freed
        height, width = pixels.shape[:2]
        scanner = zw.zbar_image_scanner_create()
        if not scanner:
            raise DecoderUnavailable("zbar could not create an image scanner")
        img = zw.zbar_image_create()
        out = []
        try:
            if symbols:  # as pyzbar does it: ZBarSymbol.NONE (0) is "all", so all off, then the wanted on
                for sym in set(ZBarSymbol) - set(symbols):
                    zw.zbar_image_scanner_set_config(scanner, sym, zw.ZBarConfig.CFG_ENABLE, 0)
                for sym in symbols:
                    zw.zbar_image_scanner_set_config(scanner, sym, zw.ZBarConfig.CFG_ENABLE, 1)
            zw.zbar_image_scanner_set_config(scanner, ZBarSymbol.NONE, zw.ZBarConfig.CFG_X_DENSITY, 0)
            zw.zbar_image_set_format(img, 0x30303859)  # fourcc "Y800": 8-bit grey
            zw.zbar_image_set_size(img, width, height)
            zw.zbar_image_set_data(img, c_void_p(pixels.ctypes.data), pixels.size, None)
            if zw.zbar_scan_image(scanner, img) < 0:
                raise DecoderUnavailable("zbar rejected the image format")
            sym_p = zw.zbar_image_first_symbol(img)
            while sym_p:
                polygon = convex_hull((zw.zbar_symbol_get_loc_x(sym_p, i), zw.zbar_symbol_get_loc_y(sym_p, i))
                                      for i in range(zw.zbar_symbol_get_loc_size(sym_p)))
                try:
                    kind = ZBarSymbol(sym_p.contents.type).name
                except ValueError:  # a zbar newer than pyzbar's table
                    kind = f"zbar type {sym_p.contents.type}"
                data = string_at(zw.zbar_symbol_get_data(sym_p), zw.zbar_symbol_get_data_length(sym_p))
                out.append(Decoded(data, kind, bounding_box(polygon), polygon,
                                   zw.zbar_symbol_get_quality(sym_p), None))
                sym_p = zw.zbar_symbol_next(sym_p)
        finally:
            zw.zbar_image_destroy(img)
            zw.zbar_image_scanner_destroy(scanner)
        return out

    def decode(self, image: np.ndarray) -> list[Symbol]:
        if image.ndim == 3:  # pyzbar would keep channel 0 (blue) of a BGR image
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        out = []
        for r in self._decode(image, symbols=self._symbols):
            data = _latin1(r.data)
            if r.type == "CODE128" and data.startswith("\x1d"):
                data = data[1:]
            if r.type == "UPCA" and len(data) == 12:
                # asked for UPC-A by name, zbar gives its 12 digits; ]E0 carries UPC-A as 13 (a leading 0),
                # which is what zxing-cpp returns and the GS1 core checks (12 digits failed validation)
                data = "0" + data
            name, sid = _zbar_identifier(r.type, data)
            poly = r.polygon
            if len(poly) == 4:
                corners: Corners = tuple((float(p.x), float(p.y)) for p in poly)
            else:
                x, y, w, h = r.rect
                corners = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
            out.append(Symbol(name, sid, data, corners, self.name, int(getattr(r, "quality", 0) or 0)))
        return out


@dataclass(frozen=True, slots=True)
class BarField:
    """A patch of parallel edges (a 1D code, a stacked DataBar, or clutter that looks like one), in
    frame pixels.  ``angle`` is the reading direction (across the bars) in degrees, image axes
    (x right, y down); ``length`` runs along it, ``height`` along the bars."""

    cx: float
    cy: float
    length: float
    height: float
    angle: float
    energy: float  # mean gradient energy over the threshold (with the area, the ranking key)

    def corners(self) -> Corners:
        """The box's corners in frame pixels, in reading order (start of the bars' top edge first)."""
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        u, v = self.length / 2, self.height / 2
        return tuple((self.cx + du * c - dv * s, self.cy + du * s + dv * c)
                     for du, dv in ((-u, -v), (u, -v), (u, v), (-u, v)))

    def contains(self, point: tuple[float, float], margin: float = 0.0) -> bool:
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        dx, dy = point[0] - self.cx, point[1] - self.cy
        return (abs(dx * c + dy * s) <= self.length / 2 + margin
                and abs(-dx * s + dy * c) <= self.height / 2 + margin)


def locate_bar_fields(gray: np.ndarray, *, scale: float = 0.5, cell: int = 4, coherence: float = 0.6,
                      energy: float = 1e5, min_cells: int = 6) -> list[BarField]:
    """Find bar fields at any angle with the gradient structure tensor, in about 4 ms at 1080p.

    Bars give strong gradients that all point one way: the tensor's *coherence*
    (``(l1 - l2) / (l1 + l2)`` of its eigenvalues) is near 1 there, while print, corners and 2D
    codes point every way.  The tensor is averaged over ``cell`` x ``cell`` blocks of a
    ``scale``-size copy (at 1080p: 8 x 8 frame pixels per cell, a 240 x 135 grid), so everything
    after the two Sobel passes runs on a few thousand cells.  Cells that are coherent and
    energetic (mean squared Sobel gradient over ``energy``; printed bars on a label measure
    1.2e5-5e5 on the simulator's frames, the clutter around them mostly less; scaled down for
    frames darker than a mean of 100) are grouped into blobs; each blob's summed tensor gives its
    reading direction and the blob's extent along and across it gives the box.

    This replaces OpenCV's ``BarcodeDetector.detect`` (8-18 ms per 1080p frame here, and it
    missed 20 of the 48 unread 1D codes of the benchmark scenes that this finds).
    """
    cv2 = _cv2()
    g = 1.0 / cell
    bufs = _scratch(gray.shape, scale)
    # fx/fy, not the size: from a size OpenCV derives the factor (258/517 for an odd 517 px crop, not 0.5),
    # which reads differently; the buffer has the size OpenCV makes from the factor (rint, as round())
    small = (cv2.resize(gray, None, dst=bufs.small, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
             if scale != 1.0 else gray)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, dst=bufs.gx, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, dst=bufs.gy, ksize=3)

    def cell_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # INTER_AREA by an integer factor is an exact block mean: the tensor summed per cell.  numpy's
        # multiply into a reused buffer: cv2.multiply is twice as slow on float32 and allocates.
        np.multiply(a, b, out=bufs.product)
        summed: np.ndarray = cv2.blur(cv2.resize(bufs.product, None, fx=g, fy=g, interpolation=cv2.INTER_AREA),
                                      (3, 3))
        return summed

    jxx, jyy, jxy = cell_sum(gx, gx), cell_sum(gy, gy), cell_sum(gx, gy)
    trace = jxx + jyy
    aniso = cv2.magnitude(jxx - jyy, 2.0 * jxy)
    # Contrast, and so gradient energy, scales with the light: a dim frame's threshold scales down with it.
    floor = energy * min(1.0, max(float(cv2.mean(small)[0]), 16.0) / 100.0) ** 2  # cv2.mean: a tenth of numpy's time
    mask = ((aniso > coherence * trace) & (trace > floor)).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    to_frame = 1.0 / (scale * g)
    fields = []
    for cnt in contours:
        x, y, w, h = cv2.boundingRect(cnt)
        if w * h < min_cells:
            continue
        blob = np.zeros((h, w), np.uint8)
        cv2.drawContours(blob, [cnt - (x, y)], -1, 1, -1)
        inside = blob.astype(bool)
        n = int(inside.sum())
        if n < min_cells:
            continue
        sxx = float(jxx[y:y + h, x:x + w][inside].sum())
        syy = float(jyy[y:y + h, x:x + w][inside].sum())
        sxy = float(jxy[y:y + h, x:x + w][inside].sum())
        theta = 0.5 * math.atan2(2.0 * sxy, sxx - syy)  # the dominant gradient direction = reading direction
        c, s = math.cos(theta), math.sin(theta)
        ys, xs = np.nonzero(inside)
        px, py = (xs + x + 0.5) * to_frame, (ys + y + 0.5) * to_frame
        u, v = px * c + py * s, -px * s + py * c
        half = to_frame / 2  # a cell's centre is half a cell from its edge
        u0, u1 = float(u.min()) - half, float(u.max()) + half
        v0, v1 = float(v.min()) - half, float(v.max()) + half
        cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
        fields.append(BarField(cu * c - cv * s, cu * s + cv * c, u1 - u0, v1 - v0, math.degrees(theta),
                               (sxx + syy) / n / floor))
    fields.sort(key=lambda f: f.energy * f.length * f.height, reverse=True)
    return fields


def _cv2() -> Any:
    import cv2

    return cv2


def serial_opencv() -> None:
    """Run every OpenCV call on its calling thread (``cv2.setNumThreads(1)``): for a pool of decoding threads.

    OpenCV splits a large operation (the locator's resize and Sobel passes, a big ``warpAffine``) over
    a thread pool of its own.  When frames already decode in parallel on one pool thread per core,
    those extra threads only compete with the pool and hand work back and forth; and their CPU time
    does not show in the calling thread's ``time.thread_time``.  Measured on the 48 benchmark scenes
    at 1080p on 2 cores (before the other savings here): the locator's process CPU time per frame fell
    from ~7 to ~4.5 ms and the combined decoder's frames/s on a pool of 2 rose from 0.61-0.67 to
    0.69-0.72 of zxing-cpp alone's.
    OpenCV has no per-thread setting, so this is process-wide: call it where the decoding pool is made
    (:class:`drivers.camera.source.CameraSource`, the benchmark), not per decoder.
    """
    _cv2().setNumThreads(1)


@dataclass(frozen=True, slots=True)
class _Scratch:
    """The locator's full-size intermediate images (at 1080p and ``scale`` 0.5: 0.5 MB of ``uint8`` and
    three 2 MB ``float32`` planes).  Fresh arrays of that size come from ``mmap`` and are page-faulted
    in on every frame, which cost more than the arithmetic on them: the steps up to the per-cell tensor
    took ~4 ms per 1080p frame with fresh arrays and ~1.7 ms with reused ones.  So each decoding thread
    keeps one set per image size (a few sizes) and reuses it."""

    key: tuple[tuple[int, ...], float]
    small: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    product: np.ndarray


_local = threading.local()


_SCRATCH_SIZES = 4  # per thread: the frame size plus a few region sizes (TrackingDecoder's crops vary)


def _scratch(shape: tuple[int, ...], scale: float) -> _Scratch:
    """This thread's buffers for images of ``shape``; the least recently used size is dropped."""
    key = (shape[:2], scale)
    cache: dict[tuple[tuple[int, ...], float], _Scratch] | None = getattr(_local, "scratch", None)
    if cache is None:
        cache = _local.scratch = {}
    made = cache.pop(key, None)
    if made is None:
        h, w = shape[:2]
        sw, sh = (max(1, round(w * scale)), max(1, round(h * scale))) if scale != 1.0 else (w, h)
        made = _Scratch(key, np.empty((sh, sw), np.uint8), np.empty((sh, sw), np.float32),
                        np.empty((sh, sw), np.float32), np.empty((sh, sw), np.float32))
        while len(cache) >= _SCRATCH_SIZES:
            del cache[next(iter(cache))]
    cache[key] = made  # (re)inserted last: dict order is the recency order
    return made


class CombinedDecoder:
    """zxing-cpp on the frame, then a rescue of bar fields it did not read: locate them
    (:func:`locate_bar_fields`), straighten each one, read it with zxing-cpp (linear formats, rows
    only: the crop is upright), and with pyzbar when zxing-cpp finds nothing in a crop small
    enough for pyzbar's cost (pyzbar's time grows with the pixels, and it beats zxing-cpp only on
    small, fine-module 1D codes).  Every read of zxing-cpp alone is kept, so the combined decode
    rate is never below it, except the partial reads and mis-reads that a better read of the same
    symbol in the same frame shows to be wrong (:func:`drop_misreads`).

    The full-frame pass keeps ``try_rotate=True``: with rows only it is twice as fast, but on
    labels turned a quarter it lost half of the 2D reads and the rescue did not win back all the
    1D ones (measured on the ``upright`` scenes).  The frame is used as given (the pipeline passes
    one grayscale image to every step); each crop is one ``warpAffine``.

    Fields shorter than ``min_length`` px across the bars are not rescued: the narrowest GS1 linear
    symbol is about 70 modules across (a GS1-128 holding one short AI; DataBar Limited 79, EAN-13
    95) and neither decoder reads modules much under 1 px, so a readable symbol spans ~70 px or
    more, and the locator's box misses at most a cell (8 px) at each end: 48 px leaves room.  On the
    benchmark scenes (1080p and 720p, every field tried) 441 of 572 fields that read nothing were
    that short (ruled lines, text, label edges: 16-40 px across, hundreds along), and every rescued
    read came from a field of 166 px or more.
    """

    name = "combined"

    def __init__(self, primary: Decoder | None = None, fallback: Decoder | None = None, *,
                 crop: Decoder | None = None, max_regions: int = 8, max_fallbacks: int = 3,
                 fallback_max_px: int = 250_000, use_fallback: bool = True, min_length: float = 48.0) -> None:
        self.primary = primary or ZxingDecoder()
        self.crop = crop or ZxingDecoder(formats=LINEAR_FORMATS, try_rotate=False)
        self.fallback = fallback
        if fallback is None and use_fallback:
            try:
                self.fallback = PyzbarDecoder(ZBAR_LINEAR, rows_only=True)
            except DecoderUnavailable:
                self.fallback = None
        self.max_regions, self.max_fallbacks, self.fallback_max_px = max_regions, max_fallbacks, fallback_max_px
        self.min_length = min_length
        self._cv2 = _cv2()

    def decode(self, image: np.ndarray) -> list[Symbol]:
        symbols = self.primary.decode(image)
        tried = 0
        fallbacks = [self.max_fallbacks]  # pyzbar calls left for this frame (the strongest fields come first)
        for field in locate_bar_fields(image):
            if tried >= self.max_regions:
                break
            if field.length < self.min_length:
                continue  # too short across the bars for any GS1 linear symbol (see the class docstring)
            if any(field.contains(s.center) for s in symbols):
                continue  # already read (by the full-frame pass or an earlier crop)
            tried += 1
            symbols.extend(self.rescue(image, field, fallbacks))
        return drop_misreads(symbols)

    def rescue(self, image: np.ndarray, field: BarField, fallbacks: list[int] | None = None) -> list[Symbol]:
        """Cut ``field`` out of ``image`` with its bars upright and read it; corners in frame pixels.
        ``fallbacks`` is a one-element budget of pyzbar calls, decremented when one is made."""
        cv2 = self._cv2
        c, s = math.cos(math.radians(field.angle)), math.sin(math.radians(field.angle))
        # margins: a cell of locator slack on each side plus the quiet zone a decoder needs
        w, h = int(field.length * 1.1 + 40), int(field.height * 1.1 + 24)
        if w < 16 or h < 8 or w * h > image.shape[0] * image.shape[1]:
            return []
        m = np.array([[c, s, w / 2 - (c * field.cx + s * field.cy)],
                      [-s, c, h / 2 - (-s * field.cx + c * field.cy)]])
        crop = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
        found = self.crop.decode(crop)
        budget = fallbacks if fallbacks is not None else [1]
        if not found and self.fallback is not None and w * h <= self.fallback_max_px and budget[0] > 0:
            budget[0] -= 1
            found = self.fallback.decode(crop)
        if not found:
            return []
        inv = cv2.invertAffineTransform(m)
        out = []
        for sym in found:
            if sym.backend == "zxing-cpp":
                back = np.array(sym.corners, dtype=np.float64) @ inv[:, :2].T + inv[:, 2]
                corners: Corners = tuple((float(x), float(y)) for x, y in back)
            else:  # zbar's polygon of a 1D code is its scan line, a sliver: report the bar field instead
                corners = field.corners()
            out.append(Symbol(sym.symbology, sym.symbology_id, sym.data, corners, sym.backend + "+rescue",
                              sym.quality))
        return out


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


# Identifier prefixes of the symbologies that clutter and mis-reads produce (reference/barcode.md 3.7):
# EAN/UPC (``]E``) and ITF (``]I``).  Their data is bare digits under one mod-10 check digit, so about one
# wrong value in ten passes the check; GS1-128 (mod-103 checksum), DataBar and the 2D codes (error
# correction) do not turn a blurred symbol into another valid value that cheaply.
CLUTTER_PRONE = ("]E", "]I")


def clutter_prone(symbology_id: str) -> bool:
    return symbology_id[:2] in CLUTTER_PRONE


def _axis(sym: Symbol) -> tuple[float, float] | None:
    """Unit vector of the longer edge at ``corners[0]``: the reading direction of a linear read (zxing-cpp's
    band is long along the bars' reading direction and thin across) and the long side of a box otherwise."""
    if len(sym.corners) != 4:
        return None
    (x0, y0), (x1, y1), _, (x3, y3) = sym.corners
    ax, ay = (x1 - x0, y1 - y0) if math.hypot(x1 - x0, y1 - y0) >= math.hypot(x3 - x0, y3 - y0) else (x3 - x0, y3 - y0)
    norm = math.hypot(ax, ay)
    return None if norm < 1.0 else (ax / norm, ay / norm)


def same_symbol(a: Symbol, b: Symbol, *, max_angle: float = 10.0, min_overlap: float = 0.8,
                max_gap: float = 0.05) -> bool:
    """True when two linear reads of one frame lie on one printed symbol: parallel (within ``max_angle``
    degrees), covering the same stretch along the reading direction (``min_overlap`` of the shorter) and
    at most ``max_gap`` of the length apart across it.  zxing-cpp reads one EAN from several bands of
    scan lines; on a blurred, small symbol a thin band next to the right one can decode to a different
    value whose check digit happens to pass (the ``upright`` scene 3 of the benchmark at 720p).  Two
    different EANs printed one above the other are kept apart by their human-readable digits (about 0.08
    of the length), so the gap is set below that."""
    u, ub = _axis(a), _axis(b)
    if u is None or ub is None or abs(u[0] * ub[0] + u[1] * ub[1]) < math.cos(math.radians(max_angle)):
        return False
    n = (-u[1], u[0])
    pa = [x * u[0] + y * u[1] for x, y in a.corners]
    pb = [x * u[0] + y * u[1] for x, y in b.corners]
    la, lb = max(pa) - min(pa), max(pb) - min(pb)
    if min(max(pa), max(pb)) - max(min(pa), min(pb)) < min_overlap * min(la, lb):
        return False
    qa = [x * n[0] + y * n[1] for x, y in a.corners]
    qb = [x * n[0] + y * n[1] for x, y in b.corners]
    return max(min(qa), min(qb)) - min(max(qa), max(qb)) <= max_gap * max(la, lb)


def dominates(a: Symbol, b: Symbol, *, ratio: float = 2.0, min_band: float = 3.0) -> bool:
    """``a``'s read outweighs ``b``'s on the same symbol: both are zxing-cpp's (whose band width counts
    the scan lines that agreed) and ``a``'s band is at least ``min_band`` px and ``ratio`` times
    ``b``'s.  zbar's polygon (or a rescue's bar field) says nothing comparable, so it never dominates."""
    if not (a.backend.startswith("zxing-cpp") and b.backend.startswith("zxing-cpp")):
        return False
    return a.band >= min_band and a.band >= ratio * b.band


def _rivals(symbols: Sequence[Symbol]) -> list[tuple[int, int]]:
    """Ordered pairs (i, j) of clutter-prone reads of one frame with different data on one symbol."""
    out = []
    for i, a in enumerate(symbols):
        if not clutter_prone(a.symbology_id):
            continue
        for j, b in enumerate(symbols):
            if (i != j and b.symbology_id[:2] == a.symbology_id[:2] and b.data != a.data
                    and same_symbol(a, b)):
                out.append((i, j))
    return out


def misreads(symbols: Sequence[Symbol]) -> set[int]:
    """Indices of reads that another read of the same frame shows to be wrong: a *partial* read (its data
    is part of a longer read of the same symbol, e.g. zbar's ITF ``272497`` inside ``09506490272497``)
    or a *mis-read* (a thin band of scan lines next to a band at least twice as wide that read another
    value).  Reads of other symbologies, and rivals of equal weight, are left to confirmation."""
    return {i for i, j in _rivals(symbols)
            if symbols[i].data in symbols[j].data or dominates(symbols[j], symbols[i])}


def contested(symbols: Sequence[Symbol]) -> set[int]:
    """Indices of clutter-prone reads with a rival on the same symbol that they do not clearly outweigh:
    the frame read two values there, so its check digit is no proof; it needs a second frame."""
    return {i for i, j in _rivals(symbols)
            if symbols[i].data in symbols[j].data
            or not (symbols[j].data in symbols[i].data or dominates(symbols[i], symbols[j]))}


def drop_misreads(symbols: Sequence[Symbol]) -> list[Symbol]:
    """``symbols`` without the partial reads and mis-reads of :func:`misreads`."""
    bad = misreads(symbols)
    return [s for k, s in enumerate(symbols) if k not in bad]


class TrackingDecoder:
    """Tracked regions every frame, the full frame every ``full_every``-th frame (issue 7).

    After a frame is decoded, every symbol's box (grown by ``margin`` of its size plus
    ``pad`` px, for motion) becomes a tracked region.  Frames in between decode only those
    regions, with ``roi`` (zxing-cpp: the crop is small, the locator and rescue would cost more
    than they find there), or with ``inner`` for a region whose symbol only the rescue read (a
    tilted or fine 1D code); a full frame, with ``inner``, finds new labels, so a label that enters
    is read at most ``full_every - 1`` frames late.  Regions not read again within ``full_every``
    frames are dropped.  The pool decodes frames concurrently and slightly out of order: the
    state is shared under a lock and a region follows the most recent read of its symbol.

    Only for video (consecutive frames of one scene); still images are unrelated frames.
    Measured on the simulator's ``video`` clips (benchmarks/bench_camera.py): the same codes
    per frame as full frames at a third (``full_every=3``) to a fifth (5) of the time.
    """

    name = "tracking"

    def __init__(self, inner: Decoder | None = None, roi: Decoder | None = None, *, full_every: int = 3,
                 margin: float = 0.2, pad: float = 24.0) -> None:
        import threading

        self.inner = inner or CombinedDecoder()
        self.roi = roi or ZxingDecoder()
        self.full_every, self.margin, self.pad = max(1, full_every), margin, pad
        self._lock = threading.Lock()
        self._calls = 0
        # raw -> (box, call of its latest read, read by the rescue)
        self._regions: dict[str, tuple[tuple[float, float, float, float], int, bool]] = {}
        self.full_frames = 0
        self.roi_frames = 0

    def decode(self, image: np.ndarray) -> list[Symbol]:
        with self._lock:
            call = self._calls
            self._calls += 1
            self._regions = {k: v for k, v in self._regions.items() if call - v[1] <= self.full_every}
            boxes = [(box, rescued) for box, _, rescued in self._regions.values()]
        full = call % self.full_every == 0 or not boxes
        if full:
            symbols = self.inner.decode(image)
        else:
            symbols = []
            h, w = image.shape[:2]
            for (x0, y0, x1, y1), rescued in _merge(boxes):
                ix0, iy0 = max(0, int(x0)), max(0, int(y0))
                ix1, iy1 = min(w, int(x1) + 1), min(h, int(y1) + 1)
                if ix1 - ix0 < 8 or iy1 - iy0 < 8:
                    continue
                decoder = self.inner if rescued else self.roi
                symbols += [s.moved(ix0, iy0) for s in decoder.decode(image[iy0:iy1, ix0:ix1])]
            symbols = drop_misreads(dedupe(symbols))
        with self._lock:
            if full:
                self.full_frames += 1
            else:
                self.roi_frames += 1
            for s in symbols:
                x0, y0, x1, y1 = _bbox(s.corners)
                gx = (x1 - x0) * self.margin + self.pad
                gy = (y1 - y0) * self.margin + self.pad
                self._regions[s.raw] = ((x0 - gx, y0 - gy, x1 + gx, y1 + gy), call, "rescue" in s.backend)
        return symbols


def _bbox(corners: Corners) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return (min(xs), min(ys), max(xs), max(ys))


Box = tuple[float, float, float, float]


def _merge(boxes: Sequence[tuple[Box, bool]]) -> list[tuple[Box, bool]]:
    """Union overlapping boxes, so a label's several symbols (and their margins) are one crop; the
    flag (read by the rescue) of a union is set when any of its parts has it."""
    out: list[tuple[Box, bool]] = []
    for (x0, y0, x1, y1), flag in sorted(boxes):
        merged = True
        while merged:
            merged = False
            for i, ((a0, b0, a1, b1), other) in enumerate(out):
                if x0 <= a1 and a0 <= x1 and y0 <= b1 and b0 <= y1:
                    x0, y0, x1, y1 = min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1)
                    flag = flag or other
                    del out[i]
                    merged = True
                    break
        out.append(((x0, y0, x1, y1), flag))
    return out
