"""Frame capture: one grabber thread per camera, newest frame only, watchdog and reconnect.

A decode loop that calls ``VideoCapture.read()`` itself falls behind an RTSP stream and serves
frames seconds old (reference: 9 s after 15 s).  :class:`Grabber` reads continuously on its own
thread and keeps only the newest frame in a single slot (``live``), or hands over every frame in
order through a small bounded queue (files and image folders, ``live=False``).

>>> frames = iter([np.zeros((4, 4), np.uint8)] * 3)
>>> class Three:
...     live, fps = False, 25.0
...     def read(self): return next(frames, None)
...     def close(self): pass
>>> g = Grabber(Three, live=False); g.start()
>>> [f.seq for f in iter(lambda: g.get(timeout=5.0), END)]
[0, 1, 2]
>>> g.stop()

Faults: ``read()`` raising :class:`CaptureError` (or returning ``None`` on a live stream) means
the connection is gone: close, wait a jittered exponential backoff, reopen.  A reader stuck
*inside* ``read()`` is caught by the frame-age watchdog (:meth:`Grabber.check`): the stuck thread
is abandoned (it closes its reader when the call returns) and a fresh one reconnects.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import numpy as np

from drivers.backoff import Backoff


class CaptureError(RuntimeError):
    """A camera could not be opened or stopped delivering frames."""


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int  # 0, 1, ... over the life of the grabber (across reconnects)
    time: float  # source time, s: wall clock for live cameras, position in the stream for files
    grabbed: float  # time.monotonic() when the frame arrived: frame age = now - grabbed
    image: np.ndarray
    name: str | None = None  # file name for images:


class FrameReader(Protocol):
    live: bool  # a camera or stream (frames are dropped when late) vs a file (every frame counts)
    fps: float  # nominal frame rate, 0 if unknown

    def read(self) -> np.ndarray | None:
        """The next frame; ``None`` at the end of a file; raises :class:`CaptureError` on a fault."""

    def close(self) -> None: ...


Opener = Callable[[], FrameReader]
StatusCallback = Callable[[str, str, int], None]  # state, detail, attempt


class _End:
    def __repr__(self) -> str:
        return "END"


END: Final = _End()  # :meth:`Grabber.get` after the last frame of a finite source


class Grabber:
    """Runs ``opener()`` and ``read()`` on a daemon thread; :meth:`get` takes frames out."""

    def __init__(self, opener: Opener, *, live: bool = True, stall_timeout: float = 3.0,
                 backoff: Backoff | None = None, on_status: StatusCallback | None = None,
                 queue_size: int = 4, fps: float = 25.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.opener, self.live, self.stall_timeout = opener, live, stall_timeout
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.on_status = on_status or (lambda state, detail, attempt: None)
        self.clock, self.fps = clock, fps
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._taken = -1
        self._queue: queue.Queue[Frame | _End] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._generation = 0
        self._seq = 0
        self._index = 0  # frames of a finite source delivered so far, for its stream time
        self._connected = False
        self._last_progress = clock()
        self._finished = False
        self.stalls = 0
        self.reconnects = 0
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._spawn()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)

    @property
    def finished(self) -> bool:
        return self._finished

    def _spawn(self) -> None:
        with self._cond:
            self._generation += 1
            gen = self._generation
            self._last_progress = self.clock()
        t = threading.Thread(target=self._run, args=(gen,), name=f"camera-grabber-{gen}", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _current(self, gen: int) -> bool:
        return gen == self._generation and not self._stop.is_set()

    # ------------------------------------------------------------ grabber thread

    def _run(self, gen: int) -> None:
        while self._current(gen):
            try:
                reader = self.opener()
            except CaptureError as exc:
                self._retry(gen, f"open failed: {exc}")
                continue
            if not self._current(gen):
                reader.close()
                return
            self._connected = True
            self._last_progress = self.clock()
            self.on_status("connected", "", 0)
            try:
                ended = self._pump(gen, reader)
            except CaptureError as exc:
                ended = False
                detail = f"read failed: {exc}"
            else:
                detail = "stream ended"
            finally:
                if gen == self._generation:  # an abandoned thread must not clear its successor's state
                    self._connected = False
                reader.close()
            if not self._current(gen):
                return
            if ended and not reader.live:
                self._finish()
                return
            self.reconnects += 1
            self._retry(gen, detail)

    def _pump(self, gen: int, reader: FrameReader) -> bool:
        """Read until the end (True) or until this thread is abandoned (False)."""
        fps = reader.fps or self.fps
        first = True
        while self._current(gen):
            image = reader.read()
            if not self._current(gen):
                return False
            if image is None:
                return True
            if first:
                self.backoff.reset()  # the connection delivers: the next outage starts from the base delay
                first = False
            now = self.clock()
            self._last_progress = now
            stream_time = time.time() if reader.live else self._index / fps
            self._index += 0 if reader.live else 1
            name = getattr(reader, "last_name", None)
            frame = Frame(self._seq, stream_time, now, image, name)
            self._seq += 1
            if reader.live:
                with self._cond:
                    self._slot = frame
                    self._cond.notify_all()
            else:
                while self._current(gen):
                    try:
                        self._queue.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        self._last_progress = self.clock()  # back-pressure, not a stall
        return False

    def _retry(self, gen: int, detail: str) -> None:
        delay = self.backoff.next_delay()
        self.on_status("reconnecting", detail, self.backoff.attempt)
        self._stop.wait(delay)

    def _finish(self) -> None:
        self._finished = True
        while not self._stop.is_set():
            try:
                self._queue.put(END, timeout=0.1)
                return
            except queue.Full:
                continue

    # ------------------------------------------------------------ consumer side

    def get(self, timeout: float = 0.25) -> Frame | _End | None:
        """The next frame (live: the newest one not yet taken); ``None`` on timeout, :data:`END`
        after the last frame of a file.  Also runs the watchdog."""
        self.check()
        if not self.live:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
        with self._cond:
            if self._slot is None or self._slot.seq <= self._taken:
                self._cond.wait(timeout)
            if self._slot is None or self._slot.seq <= self._taken:
                return None
            self._taken = self._slot.seq
            return self._slot

    def frame_age(self) -> float:
        """Seconds since the newest frame arrived (or since the last (re)connect started)."""
        return self.clock() - self._last_progress

    def check(self) -> bool:
        """The watchdog: if a connected stream delivered nothing for ``stall_timeout`` s, abandon the
        stuck grabber thread and start a new one.  Returns True when it fired."""
        if self._stop.is_set() or self._finished or not self._connected:
            return False
        age = self.frame_age()
        if age <= self.stall_timeout:
            return False
        self.stalls += 1
        self._connected = False
        self.on_status("reconnecting", f"stalled: no frame for {age:.1f} s", self.backoff.attempt + 1)
        self._spawn()
        return True


# ---------------------------------------------------------------- readers

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


class ImagesReader:
    """Each image file of a folder once, in sorted name order.  ``done`` names survive a reopen, so
    a folder that disappears and comes back resumes where it stopped."""

    live = False

    def __init__(self, directory: Path, done: set[str], fps: float = 25.0) -> None:
        import cv2

        self._cv2 = cv2
        self.fps = fps
        self.directory, self.done = directory, done
        self.last_name: str | None = None
        try:
            names = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as exc:
            raise CaptureError(f"cannot list {directory}: {exc.strerror or exc}") from exc
        self._todo = [n for n in names if n not in done]

    def read(self) -> np.ndarray | None:
        if not self._todo:
            return None
        name = self._todo[0]
        path = self.directory / name
        image = self._cv2.imread(str(path), self._cv2.IMREAD_COLOR)
        if image is None:
            if not path.exists():
                raise CaptureError(f"{path} disappeared")
            image = np.zeros((1, 1, 3), np.uint8)  # unreadable file: count it, decode nothing
        self._todo.pop(0)
        self.done.add(name)
        self.last_name = name
        return np.asarray(image)

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    width: int = 0
    height: int = 0
    fps: float = 0.0
    exposure: float | None = None  # driver units (V4L2: 100 µs); None = automatic
    open_timeout_ms: int = 5000
    read_timeout_ms: int = 3000


def device_index(target: str) -> int | None:
    """``0`` -> 0; ``/dev/video2`` -> 2; a ``/dev/v4l/by-id/...-video-index0`` link -> its video index."""
    if target.isdigit():
        return int(target)
    if target.startswith("/dev/"):
        real = os.path.realpath(target)
        base = os.path.basename(real)
        if base.startswith("video") and base[5:].isdigit():
            return int(base[5:])
        raise CaptureError(f"{target!r} is not a V4L2 video device (resolves to {real!r})")
    return None


class OpenCVReader:
    """``cv2.VideoCapture`` on a device index, a network stream or a video file."""

    def __init__(self, target: str, settings: CaptureSettings, *, live: bool | None = None) -> None:
        import cv2

        self._cv2 = cv2
        index = device_index(target)
        is_stream = "://" in target
        if is_stream and "rtsp" in target.split("://", 1)[0]:
            # TCP: over UDP a late consumer turns into smeared frames instead of delay
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, settings.open_timeout_ms,
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, settings.read_timeout_ms]
        if index is not None:
            cap = cv2.VideoCapture(index, cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY, params)
        else:
            if not is_stream and not Path(target).exists():
                raise CaptureError(f"{target}: no such file")
            cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise CaptureError(f"cannot open {target!r}")
        self.live = (index is not None or is_stream) if live is None else live
        self._apply(cap, settings, index is not None)
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._cap = cap
        self.target = target

    def _apply(self, cap: object, s: CaptureSettings, device: bool) -> None:
        """Best effort: the driver picks the nearest mode and FFmpeg ignores most of these, so the
        values actually in use are read back into ``fps``/``width``/``height``."""
        cv2 = self._cv2
        setp = cap.set  # type: ignore[attr-defined]
        if device:  # MJPG first, or YUYV bandwidth caps 1080p at a few fps
            setp(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        if s.width:
            setp(cv2.CAP_PROP_FRAME_WIDTH, s.width)
        if s.height:
            setp(cv2.CAP_PROP_FRAME_HEIGHT, s.height)
        if s.fps:
            setp(cv2.CAP_PROP_FPS, s.fps)
        if s.exposure is not None and device:
            setp(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2 menu value 1 = manual
            setp(cv2.CAP_PROP_EXPOSURE, s.exposure)

    def read(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            if self.live:
                raise CaptureError(f"{self.target!r}: no frame (stream closed or read timeout)")
            return None
        return np.asarray(image)

    def close(self) -> None:
        self._cap.release()
