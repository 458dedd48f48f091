"""The combined pipeline's parts: the bar-field locator, the tilt rescue, the pyzbar budget, tracked regions.

Symbols are drawn by zxing-cpp's writer (independent of the reading path under test) and placed
on a 1080p canvas at known angles; nothing here depends on timing.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import zxingcpp

from drivers.camera.decoders import (
    CombinedDecoder,
    PyzbarDecoder,
    Symbol,
    TrackingDecoder,
    ZxingDecoder,
    locate_bar_fields,
)
from drivers.camera.source import parse_url
from simulators.camera_sim.scenes import SCENARIOS, render

GS1_128 = "(01)09506000134352(10)AB-123(17)261231"
RAW_128 = "]C1010950600013435210AB-123\x1d17261231"


def canvas_with(symbol_text: str, fmt: zxingcpp.BarcodeFormat, angle: float, *, scale: int = 3,
                at: tuple[int, int] = (960, 540)) -> np.ndarray:
    """A grey 1080p frame with one GS1 symbol (on a white label) turned ``angle`` degrees about ``at``."""
    sym = np.array(zxingcpp.create_barcode(symbol_text, fmt, gs1=True).to_image(scale=scale, add_quiet_zones=True))
    frame = np.full((1080, 1920), 140, np.uint8)
    h, w = sym.shape
    x, y = at[0] - w // 2, at[1] - h // 2
    frame[y:y + h, x:x + w] = sym
    m = cv2.getRotationMatrix2D((float(at[0]), float(at[1])), angle, 1.0)
    return np.asarray(cv2.warpAffine(frame, m, (1920, 1080), flags=cv2.INTER_LINEAR, borderValue=140))


def axis_angle(deg: float) -> float:
    """An undirected line's angle in [0, 180)."""
    return deg % 180.0


def test_locator_finds_a_tilted_bar_field_and_its_reading_direction() -> None:
    img = canvas_with(GS1_128, zxingcpp.BarcodeFormat.Code128, 35.0)
    fields = locate_bar_fields(img)
    assert fields, "no bar field found"
    best = fields[0]  # strongest first
    assert math.hypot(best.cx - 960, best.cy - 540) < 40
    # cv2 turns counter-clockwise on screen; in image axes (y down) the reading direction is -35°
    assert abs(axis_angle(best.angle) - axis_angle(-35.0)) < 4.0
    assert best.length > best.height  # a GS1-128 is longer than its bars


def test_locator_finds_nothing_on_a_plain_frame_and_the_rescue_adds_nothing_to_a_datamatrix() -> None:
    assert locate_bar_fields(np.full((1080, 1920), 128, np.uint8)) == []
    dm = canvas_with("(01)09506000134352(17)261231(10)AB-123(21)S1", zxingcpp.BarcodeFormat.DataMatrix, 20.0, scale=6)
    assert [s.data for s in CombinedDecoder().decode(dm)] == ["010950600013435217261231" "10AB-123\x1d21S1"]


@pytest.mark.parametrize("angle", [30.0, -25.0, 90.0])
def test_tilted_1d_code_read_exact_through_the_rescue(angle: float) -> None:
    img = canvas_with(GS1_128, zxingcpp.BarcodeFormat.Code128, angle, scale=2)
    combined = CombinedDecoder()
    got = {s.raw: s for s in combined.decode(img)}
    assert RAW_128 in got  # GS kept, ]C1 identifier
    # and the rescue alone reads it from the located field, corners back in frame pixels
    field = next(f for f in locate_bar_fields(img) if math.hypot(f.cx - 960, f.cy - 540) < 60)
    [rescued] = [s for s in combined.rescue(img, field) if s.raw == RAW_128]
    assert rescued.backend.endswith("+rescue")
    cx, cy = rescued.center
    assert math.hypot(cx - 960, cy - 540) < 40


def test_combined_reads_every_code_zxing_reads_on_quarter_turned_labels() -> None:
    img, truth = render(SCENARIOS["upright"], 0, seed=11)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    zx = {s.raw for s in ZxingDecoder().decode(gray)}
    combined = {s.raw for s in CombinedDecoder().decode(gray)}
    assert zx <= combined
    assert zx & {str(c["raw"]) for c in truth["codes"]}  # type: ignore[attr-defined]


class Counting:
    """A real decoder that counts its calls (to check the per-frame pyzbar budget)."""

    def __init__(self, inner: PyzbarDecoder) -> None:
        self.inner, self.calls, self.name = inner, 0, "pyzbar"

    def decode(self, image: np.ndarray) -> list[Symbol]:
        self.calls += 1
        return self.inner.decode(image)


def test_pyzbar_fallback_stays_within_its_budget() -> None:
    img, _ = render(SCENARIOS["empty"], 1, seed=11)  # clutter: bar-like lures that nothing reads
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    for budget in (0, 1, 2):
        fallback = Counting(PyzbarDecoder())
        CombinedDecoder(fallback=fallback, max_fallbacks=budget).decode(gray)
        assert fallback.calls <= budget


def test_tracking_reads_regions_between_full_frames_and_finds_new_labels_on_full_ones() -> None:
    frames = [cv2.cvtColor(render(SCENARIOS["video"], i, seed=2)[0], cv2.COLOR_BGR2GRAY) for i in range(4)]
    truth = {str(c["raw"]) for c in render(SCENARIOS["video"], 0, seed=2)[1]["codes"]}  # type: ignore[attr-defined]
    tracker = TrackingDecoder(CombinedDecoder(), full_every=3)
    reads = [{s.raw for s in tracker.decode(f)} for f in frames]
    assert (tracker.full_frames, tracker.roi_frames) == (2, 2)  # frames 0 and 3 full, 1 and 2 regions only
    assert reads[0] & truth
    # the drifting labels stay inside their regions: every code of the full frame is read again
    # from regions alone (frame-to-frame noise may hide one on one frame, as on full frames)
    assert reads[0] <= reads[1] | reads[2] and len(reads[1] & reads[0]) >= len(reads[0]) - 1
    # a label that shows up between full frames is found by the next full frame
    tracker = TrackingDecoder(CombinedDecoder(), full_every=3)
    blank = np.full_like(frames[0], 140)
    assert tracker.decode(blank) == []
    assert {s.raw for s in tracker.decode(frames[1])} == {s.raw for s in CombinedDecoder().decode(frames[1])}
    assert tracker.full_frames == 2  # nothing was tracked after the blank frame: the next one is full too


def test_track_option_defaults_to_video_sources_only() -> None:
    assert parse_url("camera:0").track == 3 and parse_url("camera:rtsp://h/s").track == 3
    assert parse_url("camera:clip.mp4").track == 0 and parse_url("images:./d").track == 0
    assert parse_url("camera:0?track=0").track == 0 and parse_url("camera:clip.mp4?track=5").track == 5
    with pytest.raises(ValueError, match="track"):
        parse_url("camera:0?track=-1")
