"""Camera simulator: GS1 label scenes with ground truth, as images, a video or a live source.

``border-gateway simulate camera --out DIR [--scenario mixed] [--frames 20] [--video]`` writes
``frame_0000.png`` ... with ``frame_0000.json`` ground truth beside each image and all of it in
``truth.json`` (or ``scene.mp4`` + ``truth.json``).  The first line printed is the source URL
to read it back with (``images:DIR`` or ``camera:DIR/scene.mp4``).  ``camera:sim?scenario=...``
serves the same frames directly to the camera driver (see :mod:`simulators.camera_sim.stream`);
``camera:sim?timeline=FILE`` shows scripted labels at set times (see :mod:`simulators.camera_sim.timeline`).

Symbols are drawn by zxing-cpp's writer (zint inside), an encoder independent of the decoders
under test; expected data is built from the element values (:mod:`simulators.camera_sim.labels`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulators.camera_sim.scenes import SCENARIOS, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--scenario", default="mixed", choices=sorted(SCENARIOS))
    parser.add_argument("--frames", type=int, default=10, help="number of frames (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", default="1920x1080", help="frame size WxH (default 1920x1080)")
    parser.add_argument("--video", action="store_true", help="write scene.mp4 instead of images")
    parser.add_argument("--fps", type=float, default=25.0, help="video frame rate")
    parser.add_argument("--image-format", choices=("png", "jpg"), default="png")


def write(out: Path, scenario: str, frames: int, *, seed: int = 1, size: tuple[int, int] = (1920, 1080),
          video: bool = False, fps: float = 25.0, image_format: str = "png") -> str:
    """Render ``frames`` frames into ``out``; returns the URL that reads them back."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    truths = []
    writer = None
    if video:
        writer = cv2.VideoWriter(str(out / "scene.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise OSError(f"cannot write {out / 'scene.mp4'}")
    try:
        for i in range(frames):
            frame, truth = render(SCENARIOS[scenario], i, seed=seed, size=size)
            if writer is not None:
                writer.write(frame)
            else:
                name = f"frame_{i:04d}.{image_format}"
                truth["file"] = name
                if not cv2.imwrite(str(out / name), frame):
                    raise OSError(f"cannot write {out / name}")
                (out / f"frame_{i:04d}.json").write_text(json.dumps(truth, indent=1))
            truths.append(truth)
    finally:
        if writer is not None:
            writer.release()
    (out / "truth.json").write_text(json.dumps({"scenario": scenario, "seed": seed, "frames": truths}, indent=1))
    return f"camera:{out / 'scene.mp4'}" if video else f"images:{out}"


def main(args: argparse.Namespace) -> int:
    try:
        w, h = (int(v) for v in str(args.size).lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be WxH, got {args.size!r}") from None  # one line, from the CLI dispatcher
    url = write(args.out, args.scenario, args.frames, seed=args.seed, size=(w, h), video=args.video, fps=args.fps,
                image_format=args.image_format)
    print(url, flush=True)
    return 0
