"""What the combined decoder does to be cheap must not change what it reads.

- pyzbar on a straightened crop scans rows only (zbar's column scans run along the bars): the same
  reads, data, quality and polygon as pyzbar's own ``decode`` on an upright code;
- the locator reuses per-thread buffers: its fields do not depend on what ran before, on which
  thread, or at which frame size;
- bar fields too short across the bars to hold any GS1 linear symbol are not cut out and read.

Symbols are drawn by zxing-cpp's writer; nothing here depends on timing.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
import zxingcpp

from drivers.camera.decoders import (
    ZBAR_LINEAR,
    CombinedDecoder,
    PyzbarDecoder,
    Symbol,
    _scratch,
    locate_bar_fields,
)
from simulators.camera_sim.scenes import SCENARIOS, render

UPRIGHT = [
    ("(01)09506000134352(10)AB-123(17)261231", zxingcpp.BarcodeFormat.Code128, True),
    ("09506000134352", zxingcpp.BarcodeFormat.ITF, False),
    ("9506000134352", zxingcpp.BarcodeFormat.EAN13, False),
]


def upright(text: str, fmt: zxingcpp.BarcodeFormat, gs1: bool) -> np.ndarray:
    sym = np.array(zxingcpp.create_barcode(text, fmt, gs1=gs1).to_image(scale=2, add_quiet_zones=True))
    return np.pad(sym, 12, constant_values=255)


def zbar_view(symbols: list[Symbol]) -> list[tuple[str, int, tuple[tuple[float, float], ...]]]:
    return sorted((s.raw, s.quality, s.corners) for s in symbols)


@pytest.mark.parametrize(("text", "fmt", "gs1"), UPRIGHT)
def test_rows_only_pyzbar_reads_an_upright_code_exactly_as_pyzbar_does(text: str, fmt: zxingcpp.BarcodeFormat,
                                                                        gs1: bool) -> None:
    img = upright(text, fmt, gs1)
    both = PyzbarDecoder(ZBAR_LINEAR).decode(img)
    rows = PyzbarDecoder(ZBAR_LINEAR, rows_only=True).decode(img)
    assert both, "pyzbar read nothing: the fixture is wrong"
    assert zbar_view(rows) == zbar_view(both)


def test_rows_only_pyzbar_skips_codes_whose_bars_lie_across_the_rows() -> None:
    """The trade-off, stated: a quarter-turned code is only read by column scans.  The rescue never
    hands pyzbar such a crop (it straightens the field first), which is why it may use rows only."""
    img = np.ascontiguousarray(np.rot90(upright(*UPRIGHT[1])))
    assert PyzbarDecoder(ZBAR_LINEAR).decode(img)
    assert PyzbarDecoder(ZBAR_LINEAR, rows_only=True).decode(img) == []


def test_locator_fields_do_not_depend_on_buffers_left_by_earlier_frames_or_threads() -> None:
    frames = [cv2.cvtColor(render(SCENARIOS["tilted"], i, seed=11)[0], cv2.COLOR_BGR2GRAY) for i in range(2)]
    small = cv2.resize(frames[0], (1280, 720), interpolation=cv2.INTER_AREA)
    first = [locate_bar_fields(f) for f in (frames[0], small, frames[1])]
    assert first[0] and first[2]
    # other sizes in between (the tracker's region crops) and the same frames again
    for crop in (frames[0][100:400, 200:700], frames[1][:301, :517]):
        locate_bar_fields(crop)
    assert [locate_bar_fields(f) for f in (frames[0], small, frames[1])] == first
    # another thread has buffers of its own
    other: list[object] = []
    worker = threading.Thread(target=lambda: other.extend(locate_bar_fields(f) for f in (frames[1], frames[0])))
    worker.start()
    worker.join(timeout=60)
    assert other == [first[2], first[0]]


@pytest.mark.parametrize("shape", [(1080, 1920), (301, 517), (77, 129)])
def test_locator_scales_odd_sizes_by_the_factor_not_by_a_rounded_size(shape: tuple[int, int]) -> None:
    """The reused buffer must get exactly ``cv2.resize(fx=0.5)``: asked for a size instead, OpenCV
    scales a 517 px wide crop by 258/517, which found other fields in the tracker's regions (the
    benchmark's video clips read fewer codes per frame until this was fixed)."""
    frame = cv2.cvtColor(render(SCENARIOS["video"], 0, seed=2)[0], cv2.COLOR_BGR2GRAY)
    region = frame[200:200 + shape[0], 300:300 + shape[1]] if shape != frame.shape else frame
    locate_bar_fields(region)
    expected = cv2.resize(region, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert np.array_equal(_scratch(region.shape, 0.5).small, expected)


class CountingCrop:
    """zxing-cpp's crop reader, counting the crops it is given."""

    name = "zxing-cpp"

    def __init__(self) -> None:
        self.inner = CombinedDecoder().crop
        self.calls = 0

    def decode(self, image: np.ndarray) -> list[Symbol]:
        self.calls += 1
        return self.inner.decode(image)


def test_fields_too_short_across_the_bars_for_a_gs1_symbol_are_not_read() -> None:
    frame = np.full((1080, 1920), 140, np.uint8)
    cv2.rectangle(frame, (800, 400), (1200, 700), 235, -1)  # a label with five ruled lines: 40 px across them
    for k in range(5):
        cv2.rectangle(frame, (850, 520 + 6 * k), (1150, 522 + 6 * k), 20, -1)
    [field] = locate_bar_fields(frame)
    assert field.length < 48 < field.height
    for min_length, calls in ((48.0, 0), (0.0, 1)):
        crop = CountingCrop()
        assert CombinedDecoder(crop=crop, use_fallback=False, min_length=min_length).decode(frame) == []
        assert crop.calls == calls
