"""Camera scenes: labels on a cluttered background, seen in perspective, blurred and noisy.

A scenario names how labels are chosen and degraded; :func:`render` draws frame ``index`` of a
scenario deterministically (same seed, same pixels) and returns the ground truth beside it:

>>> frame, truth = render(SCENARIOS["clean"], 0, seed=7, size=(640, 360))
>>> frame.shape, sorted(truth)
((360, 640, 3), ['codes', 'frame', 'scenario', 'seed', 'size'])

``video`` scenarios keep the same labels from frame to frame and move them slowly, as a pallet
passing a camera does; others draw new labels on every frame.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from simulators.camera_sim.labels import BASE_PX, LABEL_KINDS, SYMBOL_KINDS, Label, make_label


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kinds: tuple[str, ...]  # label kinds to draw from
    labels: tuple[int, int]  # labels per frame (min, max)
    px_per_module: tuple[float, float]
    tilt_deg: tuple[float, float]  # absolute in-plane rotation range; the sign is random
    perspective: float  # corner jitter as a share of the label size
    blur: tuple[float, float]  # Gaussian sigma range, px
    noise: tuple[float, float]  # Gaussian noise sigma range, grey levels
    video: bool = False
    cycle: bool = False  # take kinds in turn instead of at random (every kind covered)
    jpeg: int = 0  # JPEG quality, 0 = no compression


ALL_LABELS = ("sscc-label", "gs1-datamatrix", "gs1-qr-dl", "databar", "databar-expanded",
              "databar-expanded-stacked", "ean-13", "upc-a", "itf-14")

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    # Every label kind, large and nearly flat: the test bed for "every symbology reads".
    Scenario("clean", ALL_LABELS, (3, 3), (3.0, 3.5), (0, 6), 0.03, (0.0, 0.4), (0, 4), cycle=True),
    # The benchmark mix: sizes from 1.8 px/module, tilt, perspective, blur, noise, JPEG.
    Scenario("mixed", ALL_LABELS, (2, 4), (1.8, 4.0), (0, 25), 0.08, (0.0, 1.2), (0, 10), jpeg=85),
    Scenario("logistic", ("sscc-label",), (1, 2), (2.2, 3.5), (0, 15), 0.08, (0.0, 0.8), (0, 8), jpeg=85),
    Scenario("product", ("gs1-datamatrix", "gs1-qr-dl"), (2, 5), (2.5, 4.0), (0, 40), 0.1, (0.0, 0.8), (0, 8)),
    Scenario("retail", ("ean-13", "upc-a", "itf-14", "databar", "databar-expanded"), (2, 4),
             (2.0, 3.5), (0, 15), 0.06, (0.0, 0.8), (0, 8), jpeg=85),
    Scenario("tilted", ALL_LABELS, (2, 3), (2.5, 3.5), (20, 35), 0.05, (0.0, 0.5), (0, 6), cycle=True),
    # Labels turned a quarter (a box stood on its side): 1D codes read along the columns.
    Scenario("upright", ALL_LABELS, (2, 3), (2.2, 3.5), (82, 98), 0.05, (0.0, 0.6), (0, 6), cycle=True, jpeg=85),
    # The same labels drift across the view: confirmation over frames, dedup, video files.
    Scenario("video", ("sscc-label", "gs1-datamatrix", "ean-13"), (3, 3), (3.0, 3.5), (0, 8), 0.04,
             (0.0, 0.4), (2, 4), video=True),
    # Empty scenes (clutter only): false positives.
    Scenario("empty", (), (0, 0), (3.0, 3.0), (0, 0), 0.0, (0.0, 0.8), (0, 8), jpeg=85),
)}


def _background(rng: random.Random, nrng: np.random.Generator, w: int, h: int, *, lures: bool = True) -> np.ndarray:
    base = rng.randint(90, 170)
    img = np.full((h, w, 3), base, np.uint8)
    # a lighting gradient, then boxes, print and fields of parallel lines that lure 1D finders
    grad = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.2), w, dtype=np.float32)
    img = np.clip(img.astype(np.float32) * grad[None, :, None], 0, 255).astype(np.uint8)
    for _ in range(rng.randint(4, 9)):
        x, y = rng.randint(0, w - 1), rng.randint(0, h - 1)
        bw, bh = rng.randint(w // 10, w // 3), rng.randint(h // 10, h // 3)
        color = tuple(rng.randint(60, 230) for _ in range(3))
        cv2.rectangle(img, (x, y), (x + bw, y + bh), color, -1)
        cv2.rectangle(img, (x, y), (x + bw, y + bh), (40, 40, 40), 2)
    for _ in range(rng.randint(3, 8)):
        cv2.putText(img, "".join(rng.choice("ABCDEFGH0123456789 ") for _ in range(rng.randint(5, 20))),
                    (rng.randint(0, w - 200), rng.randint(30, h - 10)), cv2.FONT_HERSHEY_SIMPLEX,
                    rng.uniform(0.6, 1.6), (rng.randint(0, 80),) * 3, 2, cv2.LINE_AA)
    for _ in range(rng.randint(1, 3) if lures else 0):
        x, y = rng.randint(0, w - 200), rng.randint(0, h - 100)
        step = rng.randint(3, 9)
        for i in range(rng.randint(8, 30)):
            cv2.line(img, (x + i * step, y), (x + i * step, y + rng.randint(40, 120)), (30, 30, 30),
                     rng.randint(1, 3))
    return np.asarray(img)


def _homography(rng: random.Random, lw: int, lh: int, cx: float, cy: float, angle: float,
                persp: float) -> np.ndarray:
    src = np.array([[0, 0], [lw, 0], [lw, lh], [0, lh]], np.float32)
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    dst = []
    for x, y in src:
        x0, y0 = x - lw / 2, y - lh / 2
        x0 += rng.uniform(-persp, persp) * lw
        y0 += rng.uniform(-persp, persp) * lh
        dst.append([cx + x0 * ca - y0 * sa, cy + x0 * sa + y0 * ca])
    return np.asarray(cv2.getPerspectiveTransform(src, np.array(dst, np.float32)))


def _cells(n: int, w: int, h: int) -> list[tuple[int, int, int, int]]:
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    cw, ch = w // cols, h // rows
    return [(c * cw, r * ch, cw, ch) for r in range(rows) for c in range(cols)][:n]


def _pick(scn: Scenario, rng: random.Random, index: int, count: int) -> list[str]:
    if scn.cycle:
        return [scn.kinds[(index * count + i) % len(scn.kinds)] for i in range(count)]
    return [rng.choice(scn.kinds) for _ in range(count)]


def render(scn: Scenario, index: int, *, seed: int = 1, size: tuple[int, int] = (1920, 1080)
           ) -> tuple[np.ndarray, dict[str, object]]:
    """Frame ``index`` of ``scn`` as BGR, and its ground truth (codes with corners in frame pixels)."""
    w, h = size
    scale_to_1080 = h / 1080.0
    # video: labels and layout come from the seed alone; only the motion depends on the index
    layout_rng = random.Random(seed * 1_000_003 + (0 if scn.video else index))
    rng = random.Random(seed * 7_919 + index)
    nrng = np.random.default_rng(seed * 31 + index)
    frame = _background(layout_rng if scn.video else rng, nrng, w, h)
    count = layout_rng.randint(*scn.labels) if scn.labels[1] else 0
    kinds = _pick(scn, layout_rng, 0 if scn.video else index, count)
    codes: list[dict[str, object]] = []
    for cell, kind in zip(_cells(count, w, h), kinds, strict=False):
        label: Label = make_label(kind, layout_rng)
        frame, placed = place(frame, label, cell, scn, layout_rng, index=index, scale=scale_to_1080)
        codes += placed
    frame = degrade(frame, scn, rng, nrng)
    truth: dict[str, object] = {"scenario": scn.name, "seed": seed, "frame": index, "size": [w, h], "codes": codes}
    return frame, truth


def place(frame: np.ndarray, label: Label, cell: tuple[int, int, int, int], scn: Scenario, rng: random.Random, *,
          index: int = 0, scale: float = 1.0) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Draw ``label`` into ``cell`` of ``frame`` (tilted, in perspective, fitted to the cell) and return
    the new frame with the ground truth of its codes (corners in frame pixels)."""
    h, w = frame.shape[:2]
    x, y, cw, ch = cell
    ppm = rng.uniform(*scn.px_per_module) * scale
    s = ppm / BASE_PX
    lh, lw = label.image.shape
    angle = rng.uniform(*scn.tilt_deg) * rng.choice((-1, 1))
    ca, sa = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    room = 0.9 - 2 * scn.perspective
    fit = min(room * cw / ((ca * lw + sa * lh) * s), room * ch / ((sa * lw + ca * lh) * s), 1.0)  # fit its cell
    s *= fit
    small = cv2.resize(label.image, (max(1, int(lw * s)), max(1, int(lh * s))), interpolation=cv2.INTER_AREA)
    cx, cy = x + cw / 2, y + ch / 2
    if scn.video:  # drift right and down a little per frame
        cx += (index * 6 * scale) % (cw * 0.2) - cw * 0.1
        cy += (index * 2 * scale) % (ch * 0.1) - ch * 0.05
    hm = _homography(rng, small.shape[1], small.shape[0], cx, cy, angle, scn.perspective)
    warped = cv2.warpPerspective(small, hm, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpPerspective(np.full(small.shape, 255, np.uint8), hm, (w, h), flags=cv2.INTER_LINEAR)
    tint = np.array([rng.uniform(0.85, 1.0) for _ in range(3)], np.float32)
    m = mask.astype(np.float32)[..., None] / 255.0
    frame = (frame * (1 - m) + warped[..., None].astype(np.float32) * tint * m).astype(np.uint8)
    codes: list[dict[str, object]] = []
    for code in label.codes:
        bx, by, bw, bh = code.box
        pts = np.array([[bx, by], [bx + bw, by], [bx + bw, by + bh], [bx, by + bh]]) * s
        corners = cv2.perspectiveTransform(pts[None], hm)[0]
        codes.append({"kind": code.kind, "symbology": code.symbology, "symbology_id": code.symbology_id,
                      "raw": code.raw, "hri": code.hri, "elements": [list(p) for p in code.pairs],
                      "px_per_module": round(ppm * fit, 2), "angle": round(angle, 1),
                      "corners": [[round(float(px), 1), round(float(py), 1)] for px, py in corners]})
    return frame, codes


def degrade(frame: np.ndarray, scn: Scenario, rng: random.Random, nrng: np.random.Generator) -> np.ndarray:
    """The scenario's blur, sensor noise and JPEG compression, applied to a whole frame."""
    sigma = rng.uniform(*scn.blur)
    if sigma > 0.05:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    noise = rng.uniform(*scn.noise)
    if noise > 0.5:
        frame = np.clip(frame + nrng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
    if scn.jpeg:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, scn.jpeg])
        frame = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)) if ok else frame
    return frame


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; expected one of {sorted(SCENARIOS)}") from None


def frames(scn: Scenario, *, seed: int = 1, size: tuple[int, int] = (1920, 1080), count: int = 0
           ) -> Iterator[tuple[np.ndarray, dict[str, object]]]:
    """Frames 0, 1, ... of ``scn`` (``count`` of them, or forever when 0)."""
    i = 0
    while not count or i < count:
        yield render(scn, i, seed=seed, size=size)
        i += 1


__all__ = ["ALL_LABELS", "LABEL_KINDS", "SCENARIOS", "SYMBOL_KINDS", "Scenario", "degrade", "frames", "get", "place",
           "render"]
