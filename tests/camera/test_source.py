"""End to end: simulator scenes -> images:/camera: source -> reads, against the ground truth."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.camera.source import CameraURLError, parse_url
from gateway.cli.read import read_to_json
from tests.camera.conftest import collect, reads, statuses

ROOT = Path(__file__).resolve().parents[2]


def truth_codes(folder: Path) -> list[dict[str, object]]:
    truth = json.loads((folder / "truth.json").read_text())
    return [dict(c, file=f.get("file"), frame=f["frame"]) for f in truth["frames"] for c in f["codes"]]


def test_every_symbology_read_exact_with_gs1_elements(clean_scenes: Path) -> None:
    expected = truth_codes(clean_scenes)
    kinds = {c["kind"] for c in expected}
    assert kinds == {"gs1-128-sscc", "gs1-128-content", "gs1-128-shipto", "gs1-datamatrix", "gs1-qr-dl", "databar",
                     "databar-expanded", "databar-expanded-stacked", "ean-13", "upc-a", "itf-14"}
    got = {(r.extra["file"], r.raw): r for r in reads(asyncio.run(collect(f"images:{clean_scenes}")))}
    for code in expected:
        read = got.get((str(code["file"]), str(code["raw"])))
        assert read is not None, f"{code['kind']} not read: {code['raw']!r}"
        assert read.extra["symbology_id"] == code["symbology_id"]
        assert read.carrier == "barcode" and read.extra["confirmed"] is True
        gs1 = read.extra["gs1"]
        assert isinstance(gs1, dict) and list(gs1.items()) == [tuple(p) for p in code["elements"]]  # type: ignore
        assert read.identifier is not None or code["kind"] == "gs1-128-shipto"  # (410) alone is no key
        # the reported corners lie on the symbol the ground truth placed
        cx = sum(p[0] for p in read.position or ()) / 4
        tx = sum(p[0] for p in code["corners"]) / 4  # type: ignore[attr-defined]
        assert abs(cx - tx) < 60
    assert len(got) == len(expected)  # no false positives on these scenes


def test_gs_separators_survive_to_json(clean_scenes: Path) -> None:
    events = asyncio.run(collect(f"images:{clean_scenes}?decoder=zxing"))
    lines = [json.dumps(read_to_json(r), ensure_ascii=False) for r in reads(events)]
    with_gs = [json.loads(line) for line in lines if "\\u001d" in line]
    assert with_gs, "scenes carry variable-length AIs followed by others"
    for obj in with_gs:
        assert "\x1d" in obj["raw"] and obj["raw"].startswith(obj["symbology_id"])
        assert {"source", "frame", "symbology", "symbology_id", "raw", "gs1", "position", "confirmed"} <= set(obj)


def test_cli_read_images_json(clean_scenes: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "read", f"images:{clean_scenes}", "--format", "json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(objs) == len(truth_codes(clean_scenes))
    first = objs[0]
    assert first["source"] == "cli" and isinstance(first["frame"], int) and len(first["position"]) == 4
    assert any(o["gs1"] is None and o["symbology"] for o in objs) is False


def test_cli_simulate_camera_writes_scenes_with_truth(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "simulate", "camera", "--out", str(tmp_path),
                          "--scenario", "product", "--frames", "1", "--size", "960x540"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.splitlines()[0] == f"images:{tmp_path}"
    assert (tmp_path / "frame_0000.png").exists() and (tmp_path / "frame_0000.json").exists()
    assert json.loads((tmp_path / "truth.json").read_text())["frames"][0]["codes"]


def test_roi_limits_decoding_and_keeps_frame_coordinates(clean_scenes: Path) -> None:
    code = next(c for c in truth_codes(clean_scenes) if c["kind"] == "gs1-datamatrix")
    xs = [p[0] for p in code["corners"]]  # type: ignore[attr-defined]
    ys = [p[1] for p in code["corners"]]  # type: ignore[attr-defined]
    x, y = int(min(xs)) - 40, int(min(ys)) - 40
    w, h = int(max(xs) - min(xs)) + 80, int(max(ys) - min(ys)) + 80
    url = f"images:{clean_scenes}?roi={x},{y},{w},{h}&decoder=zxing"
    got = reads(asyncio.run(collect(url)))
    assert [r.raw for r in got] == [code["raw"]]
    assert abs(min(p[0] for p in got[0].position or ()) - min(xs)) < 10


def test_non_gs1_code_is_reported_not_dropped(tmp_path: Path) -> None:
    import cv2
    import numpy as np
    import zxingcpp

    img = np.full((400, 700), 255, np.uint8)
    sym = np.array(zxingcpp.create_barcode("HELLO-LANE-7", zxingcpp.BarcodeFormat.Code128).to_image(scale=3))
    img[100:100 + sym.shape[0], 50:50 + sym.shape[1]] = sym
    cv2.imwrite(str(tmp_path / "a.png"), img)
    [read] = reads(asyncio.run(collect(f"images:{tmp_path}")))
    assert read.raw == "]C0HELLO-LANE-7" and read.identifier is None
    assert read.error and "not GS1" in read.error
    assert read.extra["confirmed"] is False and read.extra["gs1"] is None


def test_video_file_confirms_over_frames_and_dedups(tmp_path: Path) -> None:
    from simulators.camera_sim import write

    url = write(tmp_path, "video", 6, seed=2, size=(1920, 1080), video=True)
    got = reads(asyncio.run(collect(url + "?window=5&decoder=zxing")))
    truth = json.loads((tmp_path / "truth.json").read_text())["frames"][0]["codes"]
    by_raw = {r.raw: r for r in got}
    assert len(by_raw) == len(got)  # one read per code: the six frames are one observation each
    dm = next(c["raw"] for c in truth if c["kind"] == "gs1-datamatrix")
    assert by_raw[dm].extra["confirmed"] is True


@pytest.mark.parametrize("url,message", [
    ("camera:0?roi=1,2,3", "roi"), ("camera:0?decoder=opencv", "decoder"), ("camera:?fps=2", "no device"),
    ("camera:0?fps=fast", "not a number"), ("rtsp://x", "expected camera"),
])
def test_bad_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(CameraURLError, match=message):
        parse_url(url)


def test_url_kinds() -> None:
    assert parse_url("camera:0").kind == "device" and parse_url("camera:0").live
    assert parse_url("camera:/dev/v4l/by-id/usb-x-video-index0").kind == "device"
    assert parse_url("camera:http://h/mjpg").kind == "stream"
    assert parse_url("camera:clip.mp4").kind == "file" and not parse_url("camera:clip.mp4").live
    assert parse_url("images:./d?fps=10").capture.fps == 10.0
    assert parse_url("camera:sim?scenario=video&frames=3").sim == {"scenario": "video", "frames": "3"}
    assert statuses([]) == []
