"""``camera:sim?scenario=...``: the scene renderer as a camera, with scripted faults.

:class:`SimCamera` is an opener for :class:`drivers.camera.capture.Grabber`: each call opens a
"connection" that continues the same scene sequence.  Faults are counted in frames, so tests
do not depend on timing:

- ``stall_after=N``: after N frames on a connection, ``read()`` blocks (a frozen camera) until
  the camera is released; the grabber's frame-age watchdog must notice.
- ``drop_after=N``: after N frames on a connection, ``read()`` fails (the stream closed).
- ``fail_opens=N``: the first N opens fail (a camera that is not up yet).

>>> cam = SimCamera(scenario="clean", frames=2, size=(320, 180))
>>> r = cam()
>>> [None if f is None else f.shape for f in (r.read(), r.read(), r.read())]
[(180, 320, 3), (180, 320, 3), None]
"""

from __future__ import annotations

import threading
import time

import numpy as np

from simulators.camera_sim import scenes


class SimError(RuntimeError):
    pass


class SimCamera:
    def __init__(self, *, scenario: str = "video", seed: int = 1, frames: int = 0, size: tuple[int, int] = (1920, 1080),
                 fps: float = 25.0, live: bool = False, stall_after: int = 0, drop_after: int = 0,
                 fail_opens: int = 0, stall_limit: float = 60.0) -> None:
        self.scenario = scenes.get(scenario)
        self.seed, self.frames, self.size, self.fps, self.live = seed, frames, size, fps, live
        self.stall_after, self.drop_after, self.fail_opens = stall_after, drop_after, fail_opens
        self.stall_limit = stall_limit
        self.position = 0  # next frame index, shared by every connection
        self.opens = 0
        self.released = threading.Event()
        self.truth: dict[int, dict[str, object]] = {}
        self._lock = threading.Lock()

    def __call__(self) -> SimReader:
        from drivers.camera.capture import CaptureError

        self.opens += 1
        if self.opens <= self.fail_opens:
            raise CaptureError(f"simulated camera not reachable (open {self.opens} of {self.fail_opens} failing)")
        return self.open_reader()

    def open_reader(self) -> SimReader:
        """One connection; subclasses (the timeline camera) return their own reader."""
        return SimReader(self)

    def release(self) -> None:
        """Unblock stalled reads (the source is closing)."""
        self.released.set()

    def claim_index(self) -> int | None:
        """The next frame index, shared by every connection; ``None`` once ``frames`` have been served."""
        with self._lock:
            if self.frames and self.position >= self.frames:
                return None
            self.position += 1
            return self.position - 1

    def next_frame(self) -> np.ndarray | None:
        index = self.claim_index()
        if index is None:
            return None
        frame, truth = scenes.render(self.scenario, index, seed=self.seed, size=self.size)
        self.truth[index] = truth
        return frame


class SimReader:
    def __init__(self, camera: SimCamera) -> None:
        self.camera = camera
        self.live, self.fps = camera.live, camera.fps
        self.delivered = 0
        self._next_at = time.monotonic()

    def read(self) -> np.ndarray | None:
        from drivers.camera.capture import CaptureError

        cam = self.camera
        if cam.stall_after and self.delivered >= cam.stall_after:
            cam.released.wait(cam.stall_limit)  # frozen until the source closes (bounded)
            raise CaptureError("simulated camera frozen")
        if cam.drop_after and self.delivered >= cam.drop_after:
            raise CaptureError("simulated stream closed by the camera")
        if self.live:  # a live camera delivers at its own pace
            self.pace()
        frame = cam.next_frame()
        if frame is not None:
            self.delivered += 1
        return frame

    def pace(self) -> None:
        """Wait for the next frame time (live cameras only)."""
        self._next_at += 1.0 / self.fps
        delay = self._next_at - time.monotonic()
        if delay > 0:
            self.camera.released.wait(delay)

    def close(self) -> None:
        pass
