"""A scripted camera: specific GS1 labels at specific times on a real (or injected) clock.

The demo and the end-to-end tests need the camera to read what the RFID tags and the declarations
say, when the truck is in the lane.  A :class:`Timeline` lists :class:`Appearance` s: from
``start_s`` to ``end_s`` seconds after the scenario start the camera shows those labels; at other
times it shows the empty portal background (no codes, and nothing a decoder mistakes for one).

>>> tl = Timeline.parse({"fps": 10, "size": "640x360", "repeat_s": 20, "appearances": [
...     {"start": 6, "end": 10, "labels": [
...         {"kind": "datamatrix", "data": "(01)04012345000023(10)LOT7(17)250200(21)5001"},
...         {"kind": "logistic", "data": "(00)340123450000002011(02)04012345000023(37)24"}]}]})
>>> tl.active(5.9), tl.active(6.0), tl.active(26.5), tl.active(-1.0)
((), (0,), (0,), ())
>>> for code in tl.appearances[0].codes():
...     print(code.symbology, code.raw.replace("\\x1d", "<GS>"))
GS1 DataMatrix ]d2010401234500002310LOT7<GS>17250200215001
GS1-128 ]C102040123450000233724
GS1-128 ]C100340123450000002011

File format (YAML or the same structure as a Python dict; ``Timeline.parse``/``Timeline.load``)::

    fps: 10                 # frames per second (default 10)
    size: 1280x720          # WxH or [W, H] (default 1280x720: cheap to decode)
    repeat_s: 60            # optional: the scenario plays again every 60 s
    seed: 1                 # optional: background and label placement
    appearances:
      - start: 6            # seconds after the scenario start (inclusive)
        end: 10             # (exclusive)
        labels:
          - {kind: datamatrix, data: "(01)04012345000023(10)LOT7(17)250200(21)5001"}
          - {kind: logistic, data: "(00)340123450000002011(02)04012345000023(37)24"}
          - {kind: gs1-128, data: [["00", "340123450000002028"]]}      # element pairs
          - {kind: logistic, symbols: ["(02)04012345000023(37)24", "(00)340123450000002011"]}

Label kinds: ``gs1-128``, ``datamatrix``, ``qr-dl`` (a QR code with the Digital Link URI of the
elements, ``https://id.gs1.org/01/.../10/...?17=...``), ``databar`` (DataBar Expanded when more
than a (01)), ``ean13`` and ``itf14`` (a (01) GTIN), ``logistic`` (the multi-symbol GS1 logistic
label: content (02)(37)..., ship-to (41x) and SSCC (00) each in its own GS1-128, or ``symbols`` as
given); the long names of :mod:`simulators.camera_sim.labels` work too.

As a camera (see :mod:`drivers.camera.source`)::

    camera:sim?timeline=/path/tl.yaml&t0=1700000000.0&repeat=60&fps=10&size=1280x720

``t0`` is the epoch second of the scenario start (absent or ``0``: when the source is opened);
scene time is ``(now - t0) % repeat``.  URL values override the file's.  ``live=0`` replays the
timeline as a file instead: frame ``k`` shows time ``k / fps``, every frame is decoded, and it ends
after ``frames`` frames (default: one second after the last appearance when it does not repeat).

Frames are cheap: the background is drawn once and each distinct set of visible labels is composed
once (placement, mild tilt and perspective, blur and noise baked in) and then served as is.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulators.camera_sim.labels import (
    ALIASES,
    BASE_PX,
    SYMBOL_KINDS,
    Code,
    Label,
    logistic_label_for,
    parse_hri,
    single_label,
)
from simulators.camera_sim.scenes import Scenario, _background, degrade, place
from simulators.camera_sim.stream import SimCamera, SimReader

Pairs = tuple[tuple[str, str], ...]

KINDS = ("gs1-128", "datamatrix", "qr-dl", "databar", "ean13", "itf14", "logistic")
_LOGISTIC = ("logistic", "sscc-label")

# Mild on purpose: the demo must read every label on every run.
SCENE = Scenario("timeline", (), (0, 0), px_per_module=(3.0, 3.4), tilt_deg=(0, 6), perspective=0.03,
                 blur=(0.2, 0.5), noise=(1.0, 3.0))


class TimelineError(ValueError):
    """A timeline (file, dict or label) is malformed; the message names the offending part."""


def _pairs(where: str, data: object) -> Pairs:
    """An element string ``"(01)...(10)..."`` or element pairs ``[["01", "..."], ...]``."""
    if isinstance(data, str):
        try:
            return parse_hri(data)
        except ValueError as exc:
            raise TimelineError(f"{where}: {exc}") from None
    if isinstance(data, Sequence) and data and all(
            isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 for p in data):
        return tuple((str(ai), str(value)) for ai, value in data)
    raise TimelineError(f"{where}: data must be an element string like (01)...(10)... or [[AI, value], ...]")


@dataclass(frozen=True, slots=True)
class TimelineLabel:
    """One label: ``kind`` and its elements (``pairs``); a logistic label may give its ``symbols``."""

    kind: str
    pairs: Pairs = ()
    symbols: tuple[Pairs, ...] = ()  # logistic only: one GS1-128 per entry, top to bottom

    @classmethod
    def parse(cls, obj: object, where: str = "label") -> TimelineLabel:
        """``{kind, data}`` / ``{kind, symbols}`` / ``(kind, data)`` / a :class:`TimelineLabel`."""
        if isinstance(obj, TimelineLabel):
            return obj
        if isinstance(obj, Mapping):
            unknown = set(obj) - {"kind", "data", "symbols"}
            if unknown or "kind" not in obj:
                raise TimelineError(f"{where}: expected {{kind, data}} or {{kind, symbols}}, got keys {sorted(obj)}")
            kind, data, symbols = str(obj["kind"]), obj.get("data"), obj.get("symbols")
        elif isinstance(obj, Sequence) and not isinstance(obj, str) and len(obj) == 2:
            kind, data, symbols = str(obj[0]), obj[1], None
        else:
            raise TimelineError(f"{where}: expected {{kind, data}} or (kind, data), got {obj!r}")
        if kind not in KINDS and kind not in SYMBOL_KINDS and kind not in ALIASES and kind not in _LOGISTIC:
            raise TimelineError(f"{where}: unknown label kind {kind!r}; expected one of {', '.join(KINDS)}")
        where = f"{where} ({kind})"
        if kind in _LOGISTIC and isinstance(data, Sequence) and data and all(isinstance(d, str) for d in data) \
                and not isinstance(data, str):
            symbols, data = data, None  # a list of element strings: one symbol each
        if symbols is not None:
            if kind not in _LOGISTIC or not isinstance(symbols, Sequence) or isinstance(symbols, str) or not symbols:
                raise TimelineError(f"{where}: symbols is a non-empty list, for logistic labels only")
            groups = tuple(_pairs(where, s) for s in symbols)
            return cls(kind, tuple(p for g in groups for p in g), groups)
        if data is None:
            raise TimelineError(f"{where}: no data")
        return cls(kind, _pairs(where, data))

    @property
    def data(self) -> str:
        """The elements as a bracketed element string."""
        return "".join(f"({ai}){value}" for ai, value in self.pairs)

    def to_dict(self) -> dict[str, object]:
        if self.symbols:
            return {"kind": self.kind, "symbols": ["".join(f"({a}){v}" for a, v in g) for g in self.symbols]}
        return {"kind": self.kind, "data": self.data}

    def draw(self) -> Label:
        """The label image with its codes; raises :class:`TimelineError` when the content cannot be encoded."""
        try:
            if self.kind in _LOGISTIC:
                return logistic_label_for(self.pairs, symbols=self.symbols, kind=self.kind)
            return single_label(self.kind, self.pairs)
        except ValueError as exc:
            raise TimelineError(f"label {self.kind} {self.data}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Appearance:
    """Labels in view from ``start_s`` (inclusive) to ``end_s`` (exclusive), seconds of scene time."""

    start_s: float
    end_s: float
    labels: tuple[TimelineLabel, ...]

    @classmethod
    def of(cls, start_s: float, end_s: float, labels: Iterable[object]) -> Appearance:
        """Labels as :class:`TimelineLabel`, ``(kind, data)`` or ``{kind, data}``."""
        where = f"appearance {start_s:g}-{end_s:g} s"
        if not math.isfinite(start_s) or not math.isfinite(end_s) or not 0 <= start_s < end_s:
            raise TimelineError(f"{where}: needs 0 <= start < end")
        specs = tuple(TimelineLabel.parse(lb, f"{where}, label {i + 1}") for i, lb in enumerate(labels))
        if not specs:
            raise TimelineError(f"{where}: no labels (leave the time empty instead)")
        return cls(float(start_s), float(end_s), specs)

    @classmethod
    def parse(cls, obj: object) -> Appearance:
        """``{start, end, labels}`` (``start_s``/``end_s`` too), an :class:`Appearance`, or any object with
        ``start``/``end`` (or ``start_s``/``end_s``) and ``labels`` attributes (the scenario loader's)."""
        if isinstance(obj, Appearance):
            return obj
        get: Callable[[str], Any]
        if isinstance(obj, Mapping):
            unknown = set(obj) - {"start", "end", "start_s", "end_s", "labels"}
            if unknown:
                raise TimelineError(f"appearance {dict(obj)!r}: unknown keys {sorted(unknown)}")
            get = obj.get
        else:
            def get(name: str) -> Any:
                return getattr(obj, name, None)
        start, end = get("start_s"), get("end_s")
        start = get("start") if start is None else start
        end = get("end") if end is None else end
        labels = get("labels")
        if start is None or end is None or labels is None:
            raise TimelineError(f"appearance {obj!r}: needs start, end and labels")
        try:
            return cls.of(float(start), float(end), labels)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, TimelineError):
                raise
            raise TimelineError(f"appearance {obj!r}: {exc}") from None

    def codes(self) -> list[Code]:
        """The symbols in view and what a reader must return for each (``raw``, ``pairs``)."""
        return [code for label in self.labels for code in label.draw().codes]

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start_s, "end": self.end_s, "labels": [lb.to_dict() for lb in self.labels]}


def _size(value: object) -> tuple[int, int]:
    try:
        if isinstance(value, str):
            w, h = (int(v) for v in value.lower().split("x"))
        elif isinstance(value, Sequence):
            w, h = (int(v) for v in value)
        else:
            raise ValueError
    except (TypeError, ValueError):
        raise TimelineError(f"size must be WxH or [W, H], got {value!r}") from None
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        raise TimelineError(f"size {w}x{h} out of range")
    return w, h


@dataclass(frozen=True, slots=True)
class Timeline:
    appearances: tuple[Appearance, ...]
    fps: float = 10.0
    size: tuple[int, int] = (1280, 720)
    repeat_s: float | None = None
    seed: int = 1

    def __post_init__(self) -> None:
        if not (0 < self.fps <= 120):
            raise TimelineError(f"fps must be in (0, 120], got {self.fps}")
        if self.repeat_s is not None and not self.repeat_s > 0:
            raise TimelineError(f"repeat_s must be positive, got {self.repeat_s}")
        _size(self.size)

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> Timeline:
        """The file structure (see the module doc) as a dict."""
        if not isinstance(obj, Mapping):
            raise TimelineError(f"a timeline is a mapping with appearances, got {type(obj).__name__}")
        unknown = set(obj) - {"fps", "size", "repeat_s", "seed", "appearances"}
        if unknown:
            raise TimelineError(f"timeline: unknown keys {sorted(unknown)}")
        apps = obj.get("appearances") or []
        if not isinstance(apps, Sequence) or isinstance(apps, str):
            raise TimelineError("timeline: appearances must be a list")
        repeat = obj.get("repeat_s")
        try:
            return cls(tuple(Appearance.parse(a) for a in apps), fps=float(obj.get("fps", 10.0)),
                       size=_size(obj.get("size", (1280, 720))), repeat_s=float(repeat) if repeat else None,
                       seed=int(obj.get("seed", 1)))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, TimelineError):
                raise
            raise TimelineError(f"timeline: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> Timeline:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise TimelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise TimelineError(f"{path}: not YAML: {exc}") from None
        try:
            return cls.parse(data if data is not None else {})
        except TimelineError as exc:
            raise TimelineError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"fps": self.fps, "size": f"{self.size[0]}x{self.size[1]}", "seed": self.seed}
        if self.repeat_s:
            out["repeat_s"] = self.repeat_s
        out["appearances"] = [a.to_dict() for a in self.appearances]
        return out

    def dump(self, path: str | Path) -> Path:
        import yaml

        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path

    def with_options(self, *, fps: float | None = None, size: tuple[int, int] | None = None,
                     repeat_s: float | None = None, seed: int | None = None) -> Timeline:
        """A copy with the given values replaced (URL options override the file)."""
        return replace(self, fps=self.fps if fps is None else fps, size=self.size if size is None else size,
                       repeat_s=self.repeat_s if repeat_s is None else (repeat_s or None),
                       seed=self.seed if seed is None else seed)

    @property
    def end_s(self) -> float:
        return max((a.end_s for a in self.appearances), default=0.0)

    def scene_time(self, elapsed: float) -> float | None:
        """Seconds since the start of the current run of the scenario; ``None`` before the start."""
        if elapsed < 0:
            return None
        return elapsed % self.repeat_s if self.repeat_s else elapsed

    def active(self, elapsed: float) -> tuple[int, ...]:
        """Indices of the appearances in view ``elapsed`` seconds after ``t0``."""
        t = self.scene_time(elapsed)
        if t is None:
            return ()
        return tuple(i for i, a in enumerate(self.appearances) if a.start_s <= t < a.end_s)

    def states(self) -> list[tuple[int, ...]]:
        """Every distinct set of visible appearances over one run (the frames worth caching)."""
        edges = sorted({0.0, *(a.start_s for a in self.appearances), *(a.end_s for a in self.appearances)})
        found: dict[tuple[int, ...], None] = {(): None}
        for t in edges:
            if self.repeat_s is None or t < self.repeat_s:
                found[self.active(t)] = None
        return list(found)


def write_timeline(path: str | Path, appearances: Iterable[object], *, repeat_s: float | None = None,
                   fps: float = 10.0, size: tuple[int, int] = (1280, 720), seed: int = 1) -> Path:
    """Write a timeline file from appearances built in code (:class:`Appearance`, dicts, or the scenario
    loader's objects with ``start``/``end``/``labels``); returns ``path``."""
    timeline = Timeline(tuple(Appearance.parse(a) for a in appearances), fps=fps, size=size, repeat_s=repeat_s,
                        seed=seed)
    return timeline.dump(path)


def timeline_url(path: str | Path, *, t0: float | None = None, **options: object) -> str:
    """``camera:sim?timeline=PATH&t0=...`` plus any other option (``repeat``, ``fps``, ``size``, ``live``...)."""
    from urllib.parse import quote

    query = [f"timeline={quote(str(path), safe='/')}"]
    if t0 is not None:
        query.append(f"t0={t0:.3f}")
    query += [f"{k}={quote(str(v), safe='')}" for k, v in options.items()]
    return "camera:sim?" + "&".join(query)


# ---------------------------------------------------------------- rendering


def _shelves(sizes: Sequence[tuple[float, float]], w: int, h: int) -> list[list[int]] | None:
    """Rows of label indices (tallest first, left to right) that fit ``w`` x ``h``, or None."""
    rows: list[list[int]] = []
    row_w = used_h = row_h = 0.0
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i][1]):
        lw, lh = sizes[i]
        if lw > w:
            return None
        if rows and row_w + lw <= w:
            rows[-1].append(i)
            row_w += lw
            continue
        used_h += row_h
        rows.append([i])
        row_w, row_h = lw, lh
    return rows if used_h + row_h <= h else None


def _layout(labels: Sequence[Label], w: int, h: int) -> tuple[list[tuple[int, int, int, int]], float]:
    """A cell per label, packed in rows at the largest common scale (up to the scene's), spare room
    shared out so that labels keep their distance; and that scale in pixels per module."""
    if not labels:
        return [], SCENE.px_per_module[1]
    tilt = math.radians(SCENE.tilt_deg[1])
    ca, sa = math.cos(tilt), math.sin(tilt)
    room = 0.9 - 2 * SCENE.perspective

    def sizes(s: float) -> list[tuple[float, float]]:
        return [((ca * lb.image.shape[1] + sa * lb.image.shape[0]) * s / room,
                 (sa * lb.image.shape[1] + ca * lb.image.shape[0]) * s / room) for lb in labels]

    lo, hi = 0.0, SCENE.px_per_module[1] / BASE_PX
    if _shelves(sizes(hi), w, h) is None:
        for _ in range(20):  # bisect the scale
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _shelves(sizes(mid), w, h) is not None else (lo, mid)
        hi = lo
    rows = _shelves(sizes(hi), w, h) or [[i] for i in range(len(labels))]
    sz = sizes(hi)
    heights = [max(sz[i][1] for i in row) for row in rows]
    spare_h = max(0.0, h - sum(heights)) / len(rows)
    cells: dict[int, tuple[int, int, int, int]] = {}
    y = 0.0
    for row, rh in zip(rows, heights, strict=True):
        spare_w = max(0.0, w - sum(sz[i][0] for i in row)) / len(row)
        x = 0.0
        for i in row:
            cw = sz[i][0] + spare_w
            cells[i] = (int(x), int(y), int(cw), int(rh + spare_h))
            x += cw
        y += rh + spare_h
    return [cells[i] for i in range(len(labels))], hi * BASE_PX


# Below this, decoders miss codes and zxing-cpp was seen to misread a GS1-128 (a wrong read that
# identical cached frames would then "confirm"): refuse such a layout rather than show it.
MIN_PX_PER_MODULE = 2.0


class TimelineRenderer:
    """Frames of a timeline, each distinct set of visible labels composed once and cached.

    Raises :class:`TimelineError` when a label cannot be encoded, or when the labels in view at
    the same time do not fit the frame at :data:`MIN_PX_PER_MODULE` (the message names a size that works).
    """

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.labels = [[lb.draw() for lb in a.labels] for a in timeline.appearances]  # errors surface now
        w, h = timeline.size
        for state in timeline.states():
            ppm = _layout([lb for i in state for lb in self.labels[i]], w, h)[1]
            if ppm < MIN_PX_PER_MODULE:
                f = MIN_PX_PER_MODULE / ppm * 1.05
                spans = ", ".join(f"{timeline.appearances[i].start_s:g}-{timeline.appearances[i].end_s:g} s"
                                  for i in state)
                raise TimelineError(f"labels in view at {spans} do not fit {w}x{h} at {MIN_PX_PER_MODULE:g} px per "
                                    f"module ({ppm:.2f}); use size={math.ceil(w * f)}x{math.ceil(h * f)} or "
                                    f"fewer labels at once")
        w, h = timeline.size
        rng = random.Random(f"timeline-background:{timeline.seed}")
        self._background = _background(rng, np.random.default_rng(timeline.seed), w, h, lures=False)
        self._cache: dict[tuple[int, ...], tuple[np.ndarray, list[dict[str, object]]]] = {}
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Compose every frame the timeline can show (a second or so, once, before the first frame)."""
        for state in self.timeline.states():
            self.frame(state)

    def frame(self, active: tuple[int, ...]) -> tuple[np.ndarray, list[dict[str, object]]]:
        """The BGR frame showing appearances ``active`` (read-only: shared by every delivery) and the
        ground truth of its codes (corners in frame pixels)."""
        with self._lock:
            hit = self._cache.get(active)
            if hit is None:
                hit = self._cache[active] = self._compose(active)
            return hit

    def _compose(self, active: tuple[int, ...]) -> tuple[np.ndarray, list[dict[str, object]]]:
        tl = self.timeline
        key = ",".join(map(str, active))
        rng = random.Random(f"timeline:{tl.seed}:{key}")
        frame = self._background.copy()
        labels = [lb for i in active for lb in self.labels[i]]
        codes: list[dict[str, object]] = []
        for label, cell in zip(labels, _layout(labels, *tl.size)[0], strict=True):
            frame, placed = place(frame, label, cell, SCENE, rng)
            codes += placed
        frame = degrade(frame, SCENE, rng, np.random.default_rng(rng.randrange(2**32)))
        frame.setflags(write=False)
        return frame, codes


# ---------------------------------------------------------------- the camera


@dataclass(frozen=True, slots=True)
class Shown:
    """One delivered frame: its index, seconds since ``t0`` and the appearances in view."""

    index: int
    elapsed: float
    active: tuple[int, ...]


class TimelineCamera(SimCamera):
    """An opener for :class:`drivers.camera.capture.Grabber` that shows a :class:`Timeline`.

    ``clock`` (epoch seconds) and ``sleep`` are injectable so tests run on a fake clock.  The fault
    options of :class:`simulators.camera_sim.stream.SimCamera` (``stall_after``, ``drop_after``,
    ``fail_opens``) work the same.
    """

    def __init__(self, timeline: Timeline, *, t0: float | None = None, live: bool = True, frames: int = 0,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], object] | None = None,
                 stall_after: int = 0, drop_after: int = 0, fail_opens: int = 0) -> None:
        if not live and not frames and not timeline.repeat_s:
            frames = math.ceil((timeline.end_s + 1.0) * timeline.fps)
        super().__init__(scenario="empty", frames=frames, size=timeline.size, fps=timeline.fps, live=live,
                         stall_after=stall_after, drop_after=drop_after, fail_opens=fail_opens)
        self.timeline = timeline
        self.clock = clock
        self.t0 = t0 if t0 else clock()  # 0 (a config's placeholder) = now
        self.sleep: Callable[[float], object] = sleep or self.released.wait
        self.renderer = TimelineRenderer(timeline)
        self.shown: deque[Shown] = deque(maxlen=10_000)

    def open_reader(self) -> TimelineReader:
        self.renderer.prepare()  # on the grabber thread, before the stream counts as connected
        return TimelineReader(self)

    def next_frame(self) -> np.ndarray | None:
        index = self.claim_index()
        if index is None:
            return None
        elapsed = self.clock() - self.t0 if self.live else index / self.fps
        active = self.timeline.active(elapsed)
        self.shown.append(Shown(index, elapsed, active))
        return self.renderer.frame(active)[0]


class TimelineReader(SimReader):
    """Paces a live timeline camera on the camera's clock; a reader that falls behind skips ahead
    (a live camera does not queue up old frames)."""

    camera: TimelineCamera

    def __init__(self, camera: TimelineCamera) -> None:
        super().__init__(camera)
        self._due: float | None = None

    def pace(self) -> None:
        cam = self.camera
        period = 1.0 / cam.fps
        now = cam.clock()
        self._due = now if self._due is None else self._due + period
        if now - self._due > period:
            self._due = now
        delay = self._due - now
        if delay > 0:
            cam.sleep(delay)


def from_options(options: Mapping[str, str], *, live: bool = True) -> TimelineCamera:
    """The camera for ``camera:sim?timeline=...`` options (``timeline``, ``t0``, ``repeat``, ``fps``,
    ``size``, ``seed``, ``frames``, ``stall_after``, ``drop_after``, ``fail_opens``)."""
    timeline = Timeline.load(options["timeline"])

    def num(key: str) -> float | None:
        if key not in options or options[key] == "":
            return None
        try:
            return float(options[key])
        except ValueError:
            raise TimelineError(f"option {key}={options[key]!r} is not a number") from None

    fps, repeat, t0, seed = num("fps"), num("repeat"), num("t0"), num("seed")
    try:
        timeline = timeline.with_options(fps=fps, size=_size(options["size"]) if "size" in options else None,
                                         repeat_s=repeat, seed=None if seed is None else int(seed))
    except ValueError as exc:
        raise TimelineError(str(exc)) from None

    def count(key: str) -> int:
        return int(num(key) or 0)

    return TimelineCamera(timeline, t0=t0, live=live, frames=count("frames"), stall_after=count("stall_after"),
                          drop_after=count("drop_after"), fail_opens=count("fail_opens"))


__all__ = ["KINDS", "Appearance", "Shown", "Timeline", "TimelineCamera", "TimelineError", "TimelineLabel",
           "TimelineReader", "TimelineRenderer", "from_options", "timeline_url", "write_timeline"]
