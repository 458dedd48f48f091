"""``camera:`` and ``images:`` sources: capture -> decode pool -> confirm -> :class:`Read`.

URLs (our options go in the query; any other query parameter stays with the stream URL)::

    camera:0                          V4L2 device index
    camera:/dev/v4l/by-id/usb-...-video-index0   stable link, resolved to its index
    camera:rtsp://10.0.0.5/stream1    network stream (FFmpeg over TCP; also http://)
    camera:clip.mp4                   video file (every frame, in order)
    images:./frames                   each image of a folder once, sorted by name
    camera:sim?scenario=video         the camera simulator, served directly (a plug-in: see below)
    camera:sim?timeline=tl.yaml&t0=1700000000&repeat=60   scripted labels at set times (the demo)

Options: ``roi=x,y,w,h``, ``width``, ``height``, ``fps``, ``exposure``; ``decoder=zxing|pyzbar|combined``
(default ``combined``: zxing-cpp then a 1D rescue with pyzbar), ``workers`` (default: cores);
``track=N``: decode the regions of recent reads on every frame and the full frame every N-th
(default 3 for live sources, which are video; 0 = full frames only, the default for files and folders);
``window`` (dedup window, s), ``min_frames`` (confirmation), ``unconfirmed=emit|drop``;
``stall`` (watchdog, s), ``open_timeout``/``read_timeout`` (ms), ``backoff``/``backoff_cap`` (s);
``live=0|1`` (drop late frames or decode every frame), ``camera`` (channel id).
Simulator: ``scenario``, ``seed``, ``frames``, ``size=WxH``, ``stall_after``, ``drop_after``, ``fail_opens``;
``timeline`` (file), ``t0`` (epoch s), ``repeat`` (s): live by default.
Every numeric option is checked for its kind and range when the URL is parsed (``config check`` runs
:func:`check_url`); other query parameters belong to the stream URL and are passed on untouched.

``camera:sim`` is served by a plug-in, not by this driver: the package that provides it declares a factory
under the entry-point group :data:`CAMERA_PLUGINS` (``sim = "simulators.camera_sim.source:open_camera"``
in ``pyproject.toml``), which is called with the simulator's options and returns the camera (an opener
of frame readers, as a real camera's).  The driver never imports the simulators.

>>> cfg = parse_url("camera:rtsp://10.0.0.5/s1?token=x&roi=10,20,300,200&decoder=zxing")
>>> cfg.kind, cfg.target, cfg.roi, cfg.decoder
('stream', 'rtsp://10.0.0.5/s1?token=x', (10, 20, 300, 200), 'zxing')
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qsl, urlencode

import numpy as np

from drivers.backoff import Backoff
from drivers.camera.capture import END, CaptureError, CaptureSettings, Frame, Grabber, ImagesReader, OpenCVReader
from drivers.camera.confirm import Confirmer, Observation
from drivers.camera.decoders import Decoder, Symbol, TrackingDecoder, dedupe, make_decoder, serial_opencv
from gateway.reads import Read, SourceEvent, SourceStatus

Kind = Literal["device", "stream", "file", "images", "sim"]
CAMERA_PLUGINS = "border_gateway.cameras"  # entry-point group: name -> factory(options, live) -> PluginCamera

OPTIONS = frozenset({
    "roi", "width", "height", "fps", "exposure", "decoder", "workers", "window", "min_frames", "unconfirmed", "track",
    "stall", "open_timeout", "read_timeout", "backoff", "backoff_cap", "live", "camera",
    "scenario", "seed", "frames", "size", "stall_after", "drop_after", "fail_opens", "timeline", "t0", "repeat",
})


class CameraURLError(ValueError):
    """A ``camera:``/``images:`` URL or one of its options is malformed."""


class PluginCamera(Protocol):
    """A camera served by a plug-in (``camera:sim``): each call opens a frame reader, as
    :class:`~drivers.camera.capture.OpenCVReader` does for a real camera; ``release()`` unblocks it
    when the source closes."""

    def __call__(self) -> object: ...

    def release(self) -> None: ...


def plugin_camera(name: str, url: str, options: Mapping[str, str], live: bool) -> PluginCamera:
    """The camera the plug-in registered as ``name`` makes for these options (a bad option: CameraURLError)."""
    factories = importlib.metadata.entry_points(group=CAMERA_PLUGINS, name=name)
    if not factories:
        raise CameraURLError(f"{url!r}: no camera plug-in {name!r} is installed (the simulators package "
                             "provides camera:sim)")
    factory: Callable[[Mapping[str, str], bool], PluginCamera] = next(iter(factories)).load()
    try:
        return factory(options, live)
    except ValueError as exc:
        raise CameraURLError(f"{url!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class CameraConfig:
    url: str
    kind: Kind
    target: str
    roi: tuple[int, int, int, int] | None = None
    decoder: str = "combined"
    workers: int = 0
    window: float = 2.0
    min_frames: int = 2
    emit_unconfirmed: bool = True
    stall: float = 3.0
    backoff: float = 0.5
    backoff_cap: float = 30.0
    live: bool = True
    camera: str = ""
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    sim: dict[str, str] = field(default_factory=dict)
    track: int = 0  # full frame every N-th frame, tracked regions in between; 0 or 1 = every frame full


def _num(url: str, key: str, value: str, kind: type[int] | type[float]) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise CameraURLError(f"{url!r}: option {key}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise CameraURLError(f"{url!r}: option {key}={value!r} is not a finite number")
    return number


# option -> (kind, smallest allowed value, whether the smallest is excluded)
_BOUNDS: dict[str, tuple[type[int] | type[float], float, bool]] = {
    "width": (int, 0, False), "height": (int, 0, False), "fps": (float, 0, False), "workers": (int, 0, False),
    "window": (float, 0, True), "min_frames": (int, 1, False), "track": (int, 0, False), "stall": (float, 0, True),
    "open_timeout": (int, 1, False), "read_timeout": (int, 1, False), "backoff": (float, 0, True),
    "backoff_cap": (float, 0, True), "exposure": (float, 0, False),
    "seed": (int, 0, False), "frames": (int, 0, False), "stall_after": (int, 0, False),
    "drop_after": (int, 0, False), "fail_opens": (int, 0, False), "t0": (float, 0, False), "repeat": (float, 0, False),
}


def _check_bounds(url: str, ours: dict[str, str]) -> None:
    """Every numeric option is a number of its kind within its range (``config check`` relies on it)."""
    for key, (kind, low, exclusive) in _BOUNDS.items():
        if key in ours:
            value = _num(url, key, ours[key], kind)
            if value < low or (exclusive and value == low):
                raise CameraURLError(f"{url!r}: option {key} must be {'>' if exclusive else '>='} {low:g}, "
                                     f"got {ours[key]!r}")
    if "size" in ours and not re.fullmatch(r"[1-9][0-9]{0,4}x[1-9][0-9]{0,4}", ours["size"].lower()):
        raise CameraURLError(f"{url!r}: option size must be WxH in pixels, got {ours['size']!r}")
    if ours.get("live", "1") not in ("0", "1", "true", "false", "yes", "no"):
        raise CameraURLError(f"{url!r}: option live must be 0 or 1, got {ours['live']!r}")


def parse_url(url: str) -> CameraConfig:
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ("camera", "images"):
        raise CameraURLError(f"{url!r}: expected camera:... or images:...")
    target, _, query = rest.partition("?")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for k, v in parse_qsl(query, keep_blank_values=True):
        (ours.__setitem__(k, v) if k in OPTIONS else theirs.append((k, v)))
    if theirs:
        target += "?" + urlencode(theirs)
    if not target:
        raise CameraURLError(f"{url!r}: no device, stream, file or folder given")
    kind: Kind
    if scheme == "images":
        kind = "images"
    elif target == "sim":
        kind = "sim"
    elif target.isdigit() or target.startswith("/dev/"):
        kind = "device"
    elif "://" in target:
        kind = "stream"
    else:
        kind = "file"
    roi = None
    if "roi" in ours:
        parts = ours["roi"].split(",")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise CameraURLError(f"{url!r}: roi must be x,y,w,h in pixels, got {ours['roi']!r}")
        x, y, w, h = (int(p) for p in parts)
        if w <= 0 or h <= 0:
            raise CameraURLError(f"{url!r}: roi width and height must be positive")
        roi = (x, y, w, h)
    decoder = ours.get("decoder", "combined")
    if decoder not in ("zxing", "pyzbar", "combined"):
        raise CameraURLError(f"{url!r}: decoder must be zxing, pyzbar or combined, got {decoder!r}")
    unconfirmed = ours.get("unconfirmed", "emit")
    if unconfirmed not in ("emit", "drop"):
        raise CameraURLError(f"{url!r}: unconfirmed must be emit or drop")
    _check_bounds(url, ours)

    def num(key: str, default: float, kind_: type[int] | type[float] = float) -> float:
        return _num(url, key, ours[key], kind_) if key in ours else default

    capture = CaptureSettings(
        width=int(num("width", 0, int)), height=int(num("height", 0, int)), fps=num("fps", 0.0),
        exposure=num("exposure", 0.0) if "exposure" in ours else None,
        open_timeout_ms=int(num("open_timeout", 5000, int)), read_timeout_ms=int(num("read_timeout", 3000, int)))
    live_default = kind in ("device", "stream") or (kind == "sim" and "timeline" in ours)
    live = ours.get("live", "1" if live_default else "0") not in ("0", "false", "no")
    track = int(num("track", 3 if live else 0, int))
    if track < 0:
        raise CameraURLError(f"{url!r}: track must be 0 (off) or a frame count, got {track}")
    return CameraConfig(url, kind, target, roi, decoder, int(num("workers", 0, int)), num("window", 2.0),
                        int(num("min_frames", 2, int)), unconfirmed == "emit", num("stall", 3.0),
                        num("backoff", 0.5), num("backoff_cap", 30.0), live, ours.get("camera", ""), capture,
                        {k: ours[k] for k in ("scenario", "seed", "frames", "size", "stall_after", "drop_after",
                                              "fail_opens", "fps", "timeline", "t0", "repeat") if k in ours}, track)


# ---------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class Decoded:
    frame: Frame
    symbols: list[Symbol]
    age: float  # s from frame arrival to decode start
    ms: float  # decode time


class DecodePipeline:
    """Grayscale, optional ROI crop, decode, corners back in frame pixels; thread-safe."""

    def __init__(self, decoder: Decoder, roi: tuple[int, int, int, int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import cv2

        self._cv2, self.decoder, self.roi, self.clock = cv2, decoder, roi, clock

    def decode_image(self, image: np.ndarray) -> list[Symbol]:
        gray = image if image.ndim == 2 else self._cv2.cvtColor(image, self._cv2.COLOR_BGR2GRAY)
        if self.roi is None:
            return dedupe(self.decoder.decode(gray))
        x, y, w, h = self.roi
        crop = gray[y:y + h, x:x + w]  # a view: zxing-cpp and OpenCV read strided arrays without a copy
        if crop.size == 0:
            return []
        return dedupe([s.moved(x, y) for s in self.decoder.decode(crop)])

    def decode_frame(self, frame: Frame) -> Decoded:
        start = self.clock()
        symbols = self.decode_image(frame.image)
        return Decoded(frame, symbols, start - frame.grabbed, (self.clock() - start) * 1000.0)


# ---------------------------------------------------------------- reads


def observation_to_read(source_id: str, camera: str, obs: Observation, file: str | None = None,
                        extra: dict[str, object] | None = None) -> Read:
    """The normalised :class:`Read`; the GS1 core is imported lazily and any failure is kept in ``error``."""
    sym = obs.symbol
    identifier = None
    error: str | None = None
    gs1: dict[str, str] | None = None
    try:
        from gateway.gs1 import LENIENT, parse

        msg = parse(sym.raw, profile=LENIENT)  # association rules span a label's symbols: warnings only
        gs1 = dict(msg.pairs)
        identifier = msg.to_identifier()
    except ImportError as exc:  # pragma: no cover - GS1 core not installed
        error = f"GS1 core unavailable: {exc}"
    except Exception as exc:
        error = str(exc) or type(exc).__name__
    info: dict[str, object] = {
        "frame": obs.last_frame, "first_frame": obs.first_frame, "symbology_id": sym.symbology_id,
        "confirmed": obs.confirmed, "frames": obs.frames, "first_seen": obs.first_seen,
        "last_seen": obs.last_seen, "backend": sym.backend, "gs1": gs1,
    }
    if file:
        info["file"] = file
    if extra:
        info.update(extra)
    return Read(source=source_id, channel=camera, carrier="barcode", raw=sym.raw, host_time=time.time(),
                source_time=obs.last_seen, count=obs.frames, identifier=identifier, error=error,
                scheme=sym.symbology, position=obs.position, extra=info)


# ---------------------------------------------------------------- the source


class _Done:
    pass


_DONE = _Done()


class CameraSource:
    """A camera or image folder as a :class:`drivers.registry.Source`."""

    def __init__(self, source_id: str, url: str, *, decoder: Decoder | None = None) -> None:
        self.source_id = source_id
        self.config = cfg = parse_url(url)
        self.camera = cfg.camera or source_id
        self.decoder = decoder or make_decoder(cfg.decoder)
        if cfg.track > 1 and decoder is None:
            # regions are read with zxing-cpp, or with pyzbar when that is the chosen backend
            roi = self.decoder if cfg.decoder == "pyzbar" else None
            self.decoder = TrackingDecoder(self.decoder, roi, full_every=cfg.track)
        self.pipeline = DecodePipeline(self.decoder, cfg.roi)
        self.workers = cfg.workers or max(1, os.cpu_count() or 1)
        self.confirmer = Confirmer(window=cfg.window, min_frames=cfg.min_frames)
        self._sim: PluginCamera | None = None
        self.opener = self._make_opener()
        self.grabber: Grabber | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._push: Callable[[SourceEvent | _Done], None] = lambda ev: None
        self.frames_decoded = 0
        self.ages: deque[float] = deque(maxlen=1000)  # s, for metrics and the benchmark
        self._names: dict[int, str] = {}  # frame seq -> image file name (images: sources)

    def _make_opener(self) -> Callable[[], object]:
        cfg = self.config
        if cfg.kind == "images":
            done: set[str] = set()
            directory = Path(cfg.target)
            fps = cfg.capture.fps or 25.0
            return lambda: ImagesReader(directory, done, fps)
        if cfg.kind == "sim":
            self._sim = camera = plugin_camera("sim", cfg.url, cfg.sim, cfg.live)
            return camera
        live = cfg.live if cfg.kind == "file" else None
        return lambda: OpenCVReader(cfg.target, cfg.capture, live=live)

    # ------------------------------------------------------------ Source protocol

    async def events(self) -> AsyncIterator[SourceEvent]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[SourceEvent | _Done] = asyncio.Queue()

        def push(ev: SourceEvent | _Done) -> None:
            try:
                loop.call_soon_threadsafe(q.put_nowait, ev)
            except RuntimeError:  # loop closed during shutdown
                pass

        self._push = push
        yield SourceStatus(self.source_id, "starting", self.config.url)
        self._start()
        while True:
            ev = await q.get()
            if isinstance(ev, _Done):
                return
            yield ev

    async def close(self) -> None:
        self._stop.set()
        if self._sim is not None:
            self._sim.release()
        if self.grabber is not None:
            self.grabber.stop(timeout=0.5)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._push(SourceStatus(self.source_id, "stopped"))
        self._push(_DONE)

    # ------------------------------------------------------------ threads

    def _status(self, state: str, detail: str, attempt: int) -> None:
        self._push(SourceStatus(self.source_id, state, detail, attempt=attempt))  # type: ignore[arg-type]

    def _start(self) -> None:
        cfg = self.config
        if self.workers > 1:
            serial_opencv()  # the pool is the parallelism; OpenCV's own threads would only compete with it
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=f"decode-{self.source_id}")
        self.grabber = Grabber(self.opener, live=cfg.live, stall_timeout=cfg.stall,  # type: ignore[arg-type]
                               backoff=Backoff(base=cfg.backoff, cap=max(cfg.backoff_cap, cfg.backoff)),
                               on_status=self._status, queue_size=2 * self.workers, fps=cfg.capture.fps or 25.0)
        self.grabber.start()
        self._thread = threading.Thread(target=self._dispatch, name=f"camera-{self.source_id}", daemon=True)
        self._thread.start()

    def _dispatch(self) -> None:
        assert self.grabber is not None and self._pool is not None
        inflight: deque[Future[Decoded]] = deque()
        try:
            while not self._stop.is_set():
                while inflight and (inflight[0].done() or len(inflight) >= self.workers):
                    self._handle(inflight.popleft().result())
                item = self.grabber.get(timeout=0.1)
                if item is None:
                    continue
                if item is END:
                    while inflight:
                        self._handle(inflight.popleft().result())
                    self._close_observations(self.confirmer.flush())
                    self._push(SourceStatus(self.source_id, "stopped", "end of input"))
                    self._push(_DONE)
                    return
                assert isinstance(item, Frame)
                inflight.append(self._pool.submit(self.pipeline.decode_frame, item))
        except RuntimeError:  # pool shut down by close()
            return

    def _handle(self, d: Decoded) -> None:
        self.frames_decoded += 1
        self.ages.append(d.age)
        if d.frame.name:
            self._names[d.frame.seq] = d.frame.name
            if len(self._names) > 4096:  # bounded: only open observations need their file names
                del self._names[next(iter(self._names))]
        extra: dict[str, object] = {"age_ms": round(d.age * 1000.0, 1), "decode_ms": round(d.ms, 1)}
        for obs in self.confirmer.update(self.camera, d.frame.seq, d.frame.time, d.symbols):
            self._push(observation_to_read(self.source_id, self.camera, obs, self._names.get(obs.last_frame), extra))
        self._close_observations(self.confirmer.expire(d.frame.time))

    def _close_observations(self, closed: list[Observation]) -> None:
        for obs in closed:
            if not obs.confirmed and self.config.emit_unconfirmed:  # confirmed ones went out when they confirmed
                self._push(observation_to_read(self.source_id, self.camera, obs, self._names.get(obs.last_frame)))


def check_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``): the options, nothing opened."""
    parse_url(url)


def open_source(source_id: str, url: str) -> CameraSource:
    """Registry entry point for ``camera:`` and ``images:`` URLs."""
    try:
        return CameraSource(source_id, url)
    except CaptureError as exc:  # pragma: no cover - construction does not open the device
        raise CameraURLError(str(exc)) from exc
