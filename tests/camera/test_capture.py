"""Stalled, dropping and returning sources: detected, reconnected, nothing depends on timing.

Faults are scripted in frames (``stall_after``, ``drop_after``) or by the test itself (a
folder that appears later); waits are bounded by ``collect``'s timeout and never asserted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from drivers.backoff import Backoff
from drivers.camera.capture import END, CaptureError, Grabber, device_index
from gateway.reads import SourceEvent, SourceStatus
from tests.camera.conftest import collect, reads, statuses


def test_stalled_stream_is_detected_and_reconnected() -> None:
    url = "camera:sim?scenario=clean&size=640x360&frames=7&stall_after=3&stall=0.3&backoff=0.01&decoder=zxing"
    events = asyncio.run(collect(url))
    sts = statuses(events)
    stalls = [s for s in sts if s.state == "reconnecting" and s.detail.startswith("stalled")]
    assert len(stalls) == 2  # frames 0-2, stall, 3-5, stall, 6, end
    assert [s.state for s in sts].count("connected") == 3
    assert sts[-1].state == "stopped" and sts[-1].detail == "end of input"
    assert reads(events)  # decoding carried on across the stalls


def test_dropped_stream_reconnects_with_backoff() -> None:
    url = "camera:sim?scenario=clean&size=640x360&frames=5&drop_after=2&backoff=0.01&decoder=zxing"
    sts = statuses(asyncio.run(collect(url)))
    drops = [s for s in sts if s.state == "reconnecting"]
    assert len(drops) == 2 and all("read failed" in s.detail for s in drops)
    assert [s.attempt for s in drops] == [1, 1]  # delivering frames resets the backoff


def test_camera_not_up_yet_is_retried() -> None:
    url = "camera:sim?scenario=empty&size=320x180&frames=1&fail_opens=3&backoff=0.01"
    sts = statuses(asyncio.run(collect(url)))
    assert [s.attempt for s in sts if s.state == "reconnecting"] == [1, 2, 3]
    assert any(s.state == "connected" for s in sts)


def test_image_folder_that_appears_later(tmp_path: Path, clean_scenes: Path) -> None:
    folder = tmp_path / "later"

    def on_event(ev: SourceEvent) -> None:
        if isinstance(ev, SourceStatus) and ev.state == "reconnecting" and not folder.exists():
            shutil.copytree(clean_scenes, tmp_path / "staging")
            (tmp_path / "staging").rename(folder)  # the share comes back, all at once

    events = asyncio.run(collect(f"images:{folder}?backoff=0.01&decoder=zxing", on_event=on_event))
    assert any(s.state == "reconnecting" and "open failed" in s.detail for s in statuses(events))
    assert {r.extra["file"] for r in reads(events)} == {"frame_0000.png", "frame_0001.png", "frame_0002.png"}


class _Frozen:
    """A reader that delivers one frame and then never returns from read() until released."""

    live, fps = True, 25.0

    def __init__(self) -> None:
        import threading

        self.calls = 0
        self.gate = threading.Event()

    def read(self) -> np.ndarray | None:
        self.calls += 1
        if self.calls > 1:
            self.gate.wait(10.0)
            raise CaptureError("released")
        return np.zeros((2, 2), np.uint8)

    def close(self) -> None:
        pass


def test_watchdog_with_a_fake_clock() -> None:
    now = [0.0]
    readers: list[_Frozen] = []

    def opener() -> _Frozen:
        readers.append(_Frozen())
        return readers[-1]

    seen: list[tuple[str, str]] = []
    g = Grabber(opener, live=True, stall_timeout=3.0, clock=lambda: now[0], backoff=Backoff(base=0.01, jitter=0.0),
                on_status=lambda state, detail, attempt: seen.append((state, detail)))
    g.start()
    try:
        first = None
        for _ in range(200):  # bounded: the grabber thread delivers its first frame
            first = g.get(timeout=0.05)
            if first is not None:
                break
        assert first is not None and first is not END
        assert g.check() is False  # clock has not moved: not stalled
        now[0] = 2.9
        assert g.check() is False
        now[0] = 3.5
        assert g.check() is True and g.stalls == 1
        assert any(state == "reconnecting" and "stalled" in detail for state, detail in seen)
        for _ in range(200):  # the new grabber thread opens a new reader
            if len(readers) == 2:
                break
            g.get(timeout=0.05)
        assert len(readers) == 2
    finally:
        g.stop(timeout=0.5)
        for r in readers:
            r.gate.set()


def test_device_index_from_links() -> None:
    assert device_index("0") == 0
    assert device_index("/dev/video7") == 7
    assert device_index("clip.mp4") is None


@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="needs a writable /dev/shm for a link under /dev")
def test_stable_by_id_link_resolves_to_its_video_index() -> None:
    """A udev ``/dev/v4l/by-id/...-video-index0`` link is a symlink to ``../../videoN``: a real link of the
    same kind (made under /dev/shm, the one writable place below /dev) resolves to index N, and a link to
    something that is not a video node is refused with a typed error."""
    folder = tempfile.mkdtemp(prefix="v4l-by-id-", dir="/dev/shm")
    try:
        link = os.path.join(folder, "usb-ACME_Lane_Cam_0001-video-index0")
        os.symlink("/dev/video5", link)
        assert device_index(link) == 5
        other = os.path.join(folder, "usb-ACME_Lane_Cam_0001-if00")
        os.symlink("/dev/ttyUSB0", other)
        with pytest.raises(CaptureError, match="not a V4L2 video device"):
            device_index(other)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
