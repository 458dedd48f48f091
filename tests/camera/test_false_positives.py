"""Wrong values must not be confirmed: the exact benchmark scenes that produced them, and the rules.

The camera benchmark (``benchmarks/bench_camera.py``, seed 11) confirmed two false EAN-13 values at
720p: on ``upright`` scene 3 zxing-cpp reads the real ``9508595975426`` from a 14 px wide band of
scan lines, and two 1 px bands right beside it as ``2588181975426`` and ``3568195915426``, whose
check digits happen to pass.  More seeds showed the other shapes of the same problem: a lone 1 px
mis-read of a real, too small EAN (``retail`` 6, seed 12) and zbar's partial read of an ITF-14 in a
rescue crop (``mixed`` 7, seed 13).  Scenes are rendered here, as the benchmark renders them (1080p,
grey, resized to 720p with ``INTER_AREA``); nothing is timed.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.camera.confirm import Confirmer
from drivers.camera.decoders import (
    CombinedDecoder,
    Symbol,
    ZxingDecoder,
    contested,
    drop_misreads,
    misreads,
    same_symbol,
)
from simulators.camera_sim.scenes import SCENARIOS, render


def _norm(raw: str) -> str:
    """Data as the benchmark compares it: no identifier, no GS, GTINs as 14 digits."""
    data = raw[3:].replace("\x1d", "")
    return data.rjust(14, "0") if raw[:2] in ("]E", "]I") and data.isdigit() else data


def scene_720p(scenario: str, index: int, seed: int) -> tuple[np.ndarray, set[str]]:
    img, truth = render(SCENARIOS[scenario], index, seed=seed)
    gray = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (1280, 720), interpolation=cv2.INTER_AREA)
    return gray, {_norm(str(c["raw"])) for c in truth["codes"]}  # type: ignore[attr-defined]


def confirmed_on_one_frame(symbols: list[Symbol]) -> set[str]:
    return {o.raw for o in Confirmer().update("cam", 0, 0.0, symbols)}


@pytest.fixture(scope="module")
def upright3() -> tuple[np.ndarray, set[str]]:
    return scene_720p("upright", 3, 11)


def test_upright_scene_3_mis_reads_are_not_confirmed(upright3: tuple[np.ndarray, set[str]]) -> None:
    gray, truth = upright3
    raw = ZxingDecoder().decode(gray)
    assert "09508595975426" in {_norm(s.raw) for s in raw}  # the real code is read
    confirmed = confirmed_on_one_frame(raw)
    assert {_norm(r) for r in confirmed} <= truth  # zxing-cpp alone: wrong values read, none confirmed
    assert "]E09508595975426" in confirmed  # the wide band still confirms on this one frame


def test_upright_scene_3_combined_pipeline_drops_the_mis_reads(upright3: tuple[np.ndarray, set[str]]) -> None:
    gray, truth = upright3
    found = CombinedDecoder().decode(gray)
    assert {_norm(s.raw) for s in found} <= truth
    assert "]E09508595975426" in confirmed_on_one_frame(found)


@pytest.mark.parametrize(("scenario", "index", "seed"), [("retail", 6, 12), ("mixed", 7, 13)])
def test_other_offending_scenes_confirm_only_true_values(scenario: str, index: int, seed: int) -> None:
    gray, truth = scene_720p(scenario, index, seed)
    for decoder in (ZxingDecoder(), CombinedDecoder()):
        found = decoder.decode(gray)
        assert {_norm(r) for r in confirmed_on_one_frame(found)} <= truth
        if scenario == "mixed" and decoder.name == "combined":  # zbar's partial ITF is dropped, not only unconfirmed
            assert {_norm(s.raw) for s in found} <= truth


# -- the rules on hand-made reads (corners as zxing-cpp gives a linear read: a band along the bars) --

def band(raw: str, x: float, width: float, *, y0: float = 264.0, length: float = 195.0,
         backend: str = "zxing-cpp", quality: int = 0) -> Symbol:
    """A vertical read (bars horizontal) from ``y0`` down ``length`` px, ``width`` px of scan lines at ``x``."""
    corners = ((x + width, y0 + length), (x + width, y0), (x, y0), (x, y0 + length))
    return Symbol("EAN-13", raw[:3], raw[3:], corners, backend, quality)


TRUE, WRONG = "]E09508595975426", "]E02588181975426"


def test_thin_rival_beside_a_wide_band_is_a_mis_read() -> None:
    reads = [band(TRUE, 332, 14), band(WRONG, 324, 1)]
    assert same_symbol(reads[0], reads[1])
    assert misreads(reads) == {1} and contested(reads) == {1}
    assert drop_misreads(reads) == [reads[0]]
    assert confirmed_on_one_frame(reads) == {TRUE}


def test_rivals_of_equal_weight_both_wait_for_a_second_frame() -> None:
    reads = [band(TRUE, 332, 6), band(WRONG, 324, 5)]
    assert misreads(reads) == set() and contested(reads) == {0, 1}
    c = Confirmer()
    assert c.update("cam", 0, 0.0, reads) == []
    assert {o.raw for o in c.update("cam", 1, 0.04, [band(TRUE, 332, 6)])} == {TRUE}


def test_a_thin_band_alone_needs_two_frames() -> None:
    thin = band(WRONG, 895, 1)
    assert confirmed_on_one_frame([thin]) == set()
    assert confirmed_on_one_frame([band(WRONG, 895, 3)]) == {WRONG}  # three rows or more: one frame will do


def test_zbar_reads_confirm_on_one_frame_by_their_pass_count() -> None:
    assert confirmed_on_one_frame([band(TRUE, 300, 40, backend="pyzbar+rescue", quality=1)]) == set()
    assert confirmed_on_one_frame([band(TRUE, 300, 40, backend="pyzbar+rescue", quality=9)]) == {TRUE}


def test_partial_read_inside_a_longer_one_is_dropped() -> None:
    itf14, part = "]I109506490272497", "]I0272497"
    box = ((1087.0, 91.0), (1090.0, 122.0), (810.0, 146.0), (807.0, 115.0))  # zbar in a crop: the bar field
    reads = [Symbol("ITF-14", itf14[:3], itf14[3:], box, "pyzbar+rescue", 9),
             Symbol("ITF", part[:3], part[3:], box, "pyzbar+rescue", 9)]
    assert drop_misreads(reads) == [reads[0]]
    assert contested(reads) == {1}


def test_codes_printed_apart_are_not_rivals() -> None:
    stacked = [band(TRUE, 300, 60), band(WRONG, 300 + 60 + 16, 60)]  # one above the other, digits between
    side = [band(TRUE, 300, 60), band(WRONG, 300, 60, y0=264 + 195 + 40)]  # end to end along the reading axis
    other_symbology = [band(TRUE, 332, 14), band("]C1" + WRONG[3:], 324, 1)]
    for reads in (stacked, side, other_symbology):
        assert misreads(reads) == set() and contested(reads) == set()
    assert confirmed_on_one_frame(stacked) == {TRUE, WRONG}


def test_zbar_upc_a_is_reported_as_13_digits() -> None:
    """Asked for UPC-A by name (as the rescue asks), zbar returns 12 digits; ``]E0`` carries 13.  With 12 the
    GS1 core rejected a true read: not exact, never confirmed on one frame (benchmark scene 12 at 720p)."""
    import zxingcpp

    from drivers.camera.decoders import ZBAR_LINEAR, DecoderUnavailable, PyzbarDecoder

    try:
        decoder = PyzbarDecoder(ZBAR_LINEAR)
    except DecoderUnavailable as exc:
        pytest.skip(str(exc))
    img = np.pad(np.array(zxingcpp.create_barcode("05411262432", zxingcpp.BarcodeFormat.UPCA).to_image(scale=3)),
                 40, constant_values=255)
    [sym] = decoder.decode(img)
    assert sym.raw == "]E00054112624326"
    assert confirmed_on_one_frame([sym]) == {sym.raw}
