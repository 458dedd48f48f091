"""Barcode decoding on simulator scenes: zxing-cpp alone, pyzbar alone and our combined pipeline.

    .venv/bin/python benchmarks/bench_camera.py [--frames 48] [--seconds 4]

One run renders the scenes once (``mixed``, ``tilted`` and ``upright`` (quarter-turned) labels and
``empty`` clutter frames, 1080p; 720p is the same frame resized, resize not timed) and gives every
backend the same frames:

- decode rate: share of ground-truth codes read (data compared without identifier and GS);
- exact-GS1 rate: share of codes read byte-exact with identifier and GS separators;
- false positives per 1,000 frames: results matching no code in the frame (ground truth compared as
  in the decode rate: a GTIN read in another of its symbologies is not a false positive), raw and
  after confirmation (each still frame through a fresh ``Confirmer``: a single frame confirms only
  what the gateway would confirm at once, i.e. valid GS1 check digits and, for EAN/UPC and ITF, a
  sound read with no rival value on the same symbol); and the share of codes confirmed on one frame;
- median / p90 ms per frame on one thread (wall clock, and CPU time of the decoding thread, which
  other processes on a shared machine disturb less), frames/s on a pool of ``os.cpu_count()``
  threads (zxing-cpp and combined measured in alternation, so machine load hits both alike);
  OpenCV runs single-threaded (:func:`~drivers.camera.decoders.serial_opencv`), as under the gateway's
  pool, so the decoding thread's CPU time is all of a frame's;
- tracked regions (``TrackingDecoder``) on ``video`` clips, labels drifting across 15 frames:
  codes read per frame and ms per frame against full frames;
- frame age at decode: a live 25 fps source through the grabber thread and the pool.

Targets (issue 7): decode rate >= zxing-cpp alone; >= 50 full 1080p frames/s with the pool;
frame age at decode <= 2 frame intervals.  Writes ``benchmarks/results/camera.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from drivers.camera.confirm import Confirmer
from drivers.camera.decoders import (
    CombinedDecoder,
    Decoder,
    PyzbarDecoder,
    TrackingDecoder,
    ZxingDecoder,
    serial_opencv,
)
from gateway.reads import Read
from simulators.camera_sim.scenes import SCENARIOS, render

GS = "\x1d"


def norm(raw: str) -> str:
    data = raw[3:] if raw.startswith("]") else raw
    data = data.replace(GS, "")
    if raw[:3] in ("]E0", "]I1", "]I0") and data.isdigit():
        data = data.rjust(14, "0")
    return data


def scenes(frames: int) -> list[tuple[np.ndarray, list[dict[str, object]]]]:
    n_mixed, n_tilted, n_upright = frames * 5 // 12, frames * 5 // 24, frames // 6
    mix = [("mixed", n_mixed), ("tilted", n_tilted), ("upright", n_upright),
           ("empty", frames - n_mixed - n_tilted - n_upright)]
    out = []
    for name, n in mix:
        for i in range(n):
            img, truth = render(SCENARIOS[name], i, seed=11)
            out.append((cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), list(truth["codes"])))  # type: ignore[call-overload]
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def evaluate(decoder: Decoder, data: list[tuple[np.ndarray, list[dict[str, object]]]]) -> dict[str, float]:
    codes = read = exact = fp = fp_confirmed = confirmed_read = 0
    times: list[float] = []
    cpu: list[float] = []
    for gray, truth in data:
        t0, c0 = time.perf_counter(), time.thread_time()
        found = decoder.decode(gray)
        cpu.append((time.thread_time() - c0) * 1000.0)
        times.append((time.perf_counter() - t0) * 1000.0)
        want = {norm(str(c["raw"])): str(c["raw"]) for c in truth}
        got_raw = {s.raw for s in found}
        got = {norm(r) for r in got_raw}
        confirmed = {o.raw for o in Confirmer().update("bench", 0, 0.0, found)}  # a still frame: no second one
        codes += len(want)
        read += len(set(want) & got)
        confirmed_read += len(set(want) & {norm(r) for r in confirmed})
        exact += len(set(want.values()) & got_raw)
        for r in got_raw:
            if norm(r) not in want:
                fp += 1
                fp_confirmed += r in confirmed
    n = len(data)
    return {"decode_rate": read / max(codes, 1), "exact_gs1_rate": exact / max(codes, 1),
            "confirmed_rate": confirmed_read / max(codes, 1),
            "fp_per_1000": 1000.0 * fp / n, "fp_confirmed_per_1000": 1000.0 * fp_confirmed / n,
            "median_ms": statistics.median(times), "p90_ms": pct(times, 0.9), "cpu_median_ms": statistics.median(cpu),
            "cpu_mean_ms": statistics.mean(cpu), "codes": codes}


def throughput(decoder: Decoder, images: list[np.ndarray], seconds: float, workers: int) -> float:
    with ThreadPoolExecutor(workers) as pool:
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            list(pool.map(decoder.decode, images))
            done += len(images)
        return done / (time.perf_counter() - start)


class _Replay:
    """A live 25 fps camera replaying pre-rendered BGR frames (rendering is slower than real time)."""

    live = True

    def __init__(self, frames: list[np.ndarray], fps: float, count: int) -> None:
        self.frames, self.fps, self.count = frames, fps, count
        self.i = 0
        self.next_at = time.monotonic()

    def read(self) -> np.ndarray | None:
        if self.i >= self.count:
            time.sleep(60)  # frozen: the benchmark closes the source first
        self.next_at += 1.0 / self.fps
        time.sleep(max(0.0, self.next_at - time.monotonic()))
        frame = self.frames[self.i % len(self.frames)]
        self.i += 1
        return frame

    def close(self) -> None:
        pass


def frame_age(frames: list[np.ndarray], seconds: float, fps: float = 25.0) -> dict[str, float]:
    from drivers.camera.source import CameraSource

    src = CameraSource("bench", "camera:sim?decoder=combined&live=1&window=0.5&track=0")  # full frames: worst case
    count = int(seconds * fps)
    src.opener = lambda: _Replay(frames, fps, count)

    async def run() -> None:
        async def consume() -> None:
            async for ev in src.events():
                if isinstance(ev, Read):
                    pass
        try:
            await asyncio.wait_for(consume(), seconds + 1.0)
        except TimeoutError:
            pass
        finally:
            await src.close()

    asyncio.run(run())
    ages = [a * 1000.0 for a in src.ages]
    return {"age_median_ms": statistics.median(ages) if ages else -1.0, "age_p90_ms": pct(ages, 0.9),
            "age_max_ms": max(ages) if ages else -1.0, "frames_decoded": float(src.frames_decoded),
            "frames_offered": float(count), "interval_ms": 1000.0 / fps}


def clips(count: int = 2, length: int = 15) -> list[list[tuple[np.ndarray, list[dict[str, object]]]]]:
    """``video`` clips: the same labels drifting across ``length`` frames, one clip per seed."""
    out = []
    for seed in range(2, 2 + count):
        clip = []
        for i in range(length):
            img, truth = render(SCENARIOS["video"], i, seed=seed)
            clip.append((cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), list(truth["codes"])))  # type: ignore[call-overload]
        out.append(clip)
    return out


def tracking(data: list[list[tuple[np.ndarray, list[dict[str, object]]]]], workers: int,
             seconds: float) -> dict[str, dict[str, float]]:
    """Full frames (zxing-cpp, combined) against tracked regions, per clip in order; a new decoder per clip."""
    makers: dict[str, Callable[[], Decoder]] = {
        "zxing-cpp full": ZxingDecoder, "combined full": CombinedDecoder,
        "tracking full_every=3": lambda: TrackingDecoder(CombinedDecoder(), full_every=3),
        "tracking full_every=5": lambda: TrackingDecoder(CombinedDecoder(), full_every=5)}
    out: dict[str, dict[str, float]] = {}
    for name, make in makers.items():
        read = codes = 0
        cpu: list[float] = []
        for clip in data:
            dec = make()
            for gray, truth in clip:
                c0 = time.thread_time()
                found = dec.decode(gray)
                cpu.append((time.thread_time() - c0) * 1000.0)
                want = {norm(str(c["raw"])) for c in truth}
                codes += len(want)
                read += len(want & {norm(s.raw) for s in found})
        done = 0
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            while time.perf_counter() - start < seconds:
                for clip in data:
                    dec = make()
                    list(pool.map(dec.decode, [g for g, _ in clip]))
                    done += len(clip)
        out[name] = {"codes_per_frame": read / max(codes, 1), "cpu_mean_ms": statistics.mean(cpu),
                     "cpu_median_ms": statistics.median(cpu), "fps_pool": done / (time.perf_counter() - start)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=48, help="scenes to render (default 48, ~25 s)")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per throughput / frame-age run")
    args = ap.parse_args()
    workers = os.cpu_count() or 1
    serial_opencv()  # as CameraSource does for its pool; also puts all of a decode's CPU time on its thread
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    print(f"rendering {args.frames} 1080p scenes ... (load average {load0[0]:.1f})", flush=True)
    data1080 = scenes(args.frames)
    data720 = [(cv2.resize(g, (1280, 720), interpolation=cv2.INTER_AREA), [
        dict(c, corners=None) for c in t]) for g, t in data1080]
    backends: dict[str, Callable[[], Decoder]] = {
        "zxing-cpp": ZxingDecoder, "pyzbar": PyzbarDecoder, "combined": CombinedDecoder}
    results: dict[str, dict[str, float]] = {}
    decoders = {name: make() for name, make in backends.items()}
    for name, dec in decoders.items():
        for res, data in (("1080p", data1080), ("720p", data720)):
            r = evaluate(dec, data)
            results[f"{name} {res}"] = r
            print(f"{name:9s} {res:5s}  decode {r['decode_rate']:6.1%}  exact-GS1 {r['exact_gs1_rate']:6.1%}  "
                  f"confirmed on 1 frame {r['confirmed_rate']:6.1%}  "
                  f"FP/1000 raw {r['fp_per_1000']:6.1f} confirmed {r['fp_confirmed_per_1000']:5.1f}  "
                  f"median {r['median_ms']:5.1f} ms  p90 {r['p90_ms']:5.1f} ms  "
                  f"(CPU median {r['cpu_median_ms']:5.1f} ms)", flush=True)
    imgs = [g for g, _ in data1080]
    fps: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(2):  # alternate, so a burst of load from elsewhere hits every backend alike
        for name, dec in decoders.items():
            fps[name].append(throughput(dec, imgs, args.seconds / 4, workers))
    for name in decoders:
        results[f"{name} 1080p"]["fps_pool"] = statistics.mean(fps[name])
        print(f"{name:9s} 1080p  {statistics.mean(fps[name]):6.1f} frames/s on {workers} threads "
              f"(runs: {', '.join(f'{v:.1f}' for v in fps[name])})", flush=True)
    print("tracked regions on video clips ...", flush=True)
    track = tracking(clips(), workers, args.seconds / 2)
    for name, t in track.items():
        print(f"{name:22s} codes/frame {t['codes_per_frame']:6.1%}  CPU mean {t['cpu_mean_ms']:5.1f} ms  "
              f"median {t['cpu_median_ms']:5.1f} ms  {t['fps_pool']:6.1f} frames/s on {workers} threads", flush=True)
    bgr = [cv2.cvtColor(g, cv2.COLOR_GRAY2BGR) for g, _ in data1080[: max(4, args.frames // 2)]]
    age = frame_age(bgr, args.seconds)
    print(f"frame age at decode (live 25 fps, combined, pool): median {age['age_median_ms']:.1f} ms, "
          f"p90 {age['age_p90_ms']:.1f} ms, max {age['age_max_ms']:.1f} ms; "
          f"{age['frames_decoded']:.0f}/{age['frames_offered']:.0f} frames decoded", flush=True)
    zx, ours = results["zxing-cpp 1080p"], results["combined 1080p"]
    ratio_dr = ours["decode_rate"] / zx["decode_rate"] if zx["decode_rate"] else None
    print(f"combined / zxing-cpp decode rate at 1080p: {ratio_dr:.3f}" if ratio_dr else "no reads")

    def row(metric: str, ours_v: float, anchor: float | None, unit: str, target: str,
            anchor_name: str | None = "zxing-cpp alone") -> dict[str, object]:
        ratio = round(ours_v / anchor, 3) if anchor else None
        return {"metric": metric, "ours": round(ours_v, 4), "anchor": None if anchor is None else round(anchor, 4),
                "anchor_name": anchor_name if anchor is not None else None, "ratio": ratio, "unit": unit,
                "target": target}

    rows = []
    for res in ("1080p", "720p"):
        o, a, z = results[f"combined {res}"], results[f"zxing-cpp {res}"], results[f"pyzbar {res}"]
        rows += [
            row(f"decode rate {res} (combined vs zxing-cpp)", o["decode_rate"], a["decode_rate"], "share",
                ">= zxing-cpp alone"),
            row(f"decode rate {res} pyzbar alone", z["decode_rate"], a["decode_rate"], "share", "reference"),
            row(f"exact-GS1 rate {res}", o["exact_gs1_rate"], a["exact_gs1_rate"], "share", "every read GS-exact"),
            row(f"false positives {res} raw", o["fp_per_1000"], a["fp_per_1000"], "per 1000 frames", "low"),
            row(f"false positives {res} after confirmation", o["fp_confirmed_per_1000"],
                a["fp_confirmed_per_1000"], "per 1000 frames", "<= 0.1"),
            row(f"codes confirmed on one frame {res}", o["confirmed_rate"], a["confirmed_rate"], "share",
                "~ decode rate (the rest confirm on a 2nd frame)"),
            row(f"median ms per frame {res}", o["median_ms"], a["median_ms"], "ms", "-"),
            row(f"p90 ms per frame {res}", o["p90_ms"], a["p90_ms"], "ms", "-"),
        ]
    rows += [
        row(f"frames/s 1080p, pool of {workers}", ours["fps_pool"], zx["fps_pool"], "frames/s", ">= 50"),
        row(f"frames/s 1080p pyzbar, pool of {workers}", results["pyzbar 1080p"]["fps_pool"], zx["fps_pool"],
            "frames/s", "reference"),
        row("CPU ms per frame 1080p, mean (decoding thread)", ours["cpu_mean_ms"], zx["cpu_mean_ms"], "ms",
            "<= 1.8x zxing-cpp (50 of zxing-cpp's 90 frames/s unloaded)"),
        row("video clips: codes read per frame, tracking full_every=3",
            track["tracking full_every=3"]["codes_per_frame"], track["combined full"]["codes_per_frame"],
            "share", "~ full frames", "combined, full frames"),
        row("video clips: CPU ms per frame, tracking full_every=3", track["tracking full_every=3"]["cpu_mean_ms"],
            track["combined full"]["cpu_mean_ms"], "ms", "< full frames", "combined, full frames"),
        row(f"video clips: frames/s, tracking full_every=3, pool of {workers}",
            track["tracking full_every=3"]["fps_pool"], track["combined full"]["fps_pool"], "frames/s", "-",
            "combined, full frames"),
        row("frame age at decode, p90 (live 25 fps)", age["age_p90_ms"], None, "ms", "<= 80 (2 frame intervals)"),
        row("frame age at decode, max (live 25 fps)", age["age_max_ms"], None, "ms", "<= 80 (2 frame intervals)"),
    ]
    load = os.getloadavg()
    loaded = load0[0] > 0.5 * workers  # at the end the load is this benchmark's own
    out = {"benchmark": "Barcode cameras: decoders on simulator scenes (issue 7)",
           "machine": f"{platform.machine()}, {workers} cores, Python {platform.python_version()}, "
                      f"{args.frames} scenes, 1080p and 720p; load average {load0[0]:.1f} at start, "
                      f"{load[0]:.1f} at end" + (" - the machine was LOADED by other work: absolute times and "
                                                 "frames/s are low and noisy, compare the ratios" if loaded else ""),
           "rows": rows, "details": results, "tracking": track, "frame_age": age}
    path = Path(__file__).resolve().parent / "results" / "camera.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
