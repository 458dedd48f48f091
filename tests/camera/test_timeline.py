"""The scripted (timeline) camera: specific labels at specific times, read back exactly.

Pacing is tested on a fake clock; the driver runs the real grabber and decode pool in ``live=0``
mode, where frame ``k`` shows scene time ``k / fps`` (deterministic, every frame decoded).  One
test opens the demo's URL form on the real clock, bounded by a timeout and asserting no times.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from drivers.camera.decoders import make_decoder
from drivers.camera.source import CameraURLError, parse_url
from gateway.reads import Read
from simulators.camera_sim.labels import GS, Code
from simulators.camera_sim.timeline import (
    Appearance,
    Timeline,
    TimelineCamera,
    TimelineError,
    TimelineRenderer,
    timeline_url,
    write_timeline,
)
from tests.camera.conftest import collect, reads, statuses

ROOT = Path(__file__).resolve().parents[2]

# Three trucks' worth of labels over ~3 s, every label kind and both data forms; boundaries sit between
# frames (fps 10) so that no frame lands on one.
TIMELINE = {
    "fps": 10, "size": "1280x720", "repeat_s": 4.0,
    "appearances": [
        {"start": 0.25, "end": 1.05, "labels": [
            {"kind": "datamatrix", "data": "(01)04012345000023(10)LOT7(17)250200(21)5001"},
            {"kind": "logistic", "data": "(00)340123450000002011(02)04012345000023(37)24"}]},
        {"start": 1.45, "end": 2.05, "labels": [
            {"kind": "qr-dl", "data": "(01)04012345000016(17)281231(10)A1"},
            {"kind": "ean13", "data": "(01)04012345000030"},
            {"kind": "logistic", "symbols": ["(02)04012345000054(37)12(10)B47", "(410)4012345000009"]}]},
        {"start": 2.45, "end": 3.05, "labels": [
            {"kind": "gs1-128", "data": [["00", "340123450000002035"]]},
            {"kind": "databar", "data": "(01)04012345000054"},
            {"kind": "itf14", "data": "(01)14012345000013"}]},
    ],
}

# What a conforming reader returns for each appearance: byte-exact, symbology identifier first, GS kept.
EXPECTED = [
    {"]d2010401234500002310LOT7" + GS + "17250200215001", "]C102040123450000233724", "]C100340123450000002011"},
    {"]Q1https://id.gs1.org/01/04012345000016/10/A1?17=281231", "]E04012345000030",
     "]C102040123450000543712" + GS + "10B47", "]C14104012345000009"},
    {"]C100340123450000002035", "]e00104012345000054", "]I114012345000013"},
]


class FakeClock:
    """Epoch seconds that only move when the camera sleeps (or the test says so)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(scope="module")
def timeline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("timeline") / "tl.yaml"
    path.write_text(yaml.safe_dump(TIMELINE))
    return path


def test_codes_are_the_golden_raws_with_their_elements() -> None:
    tl = Timeline.parse(TIMELINE)
    for appearance, expected in zip(tl.appearances, EXPECTED, strict=True):
        codes = appearance.codes()
        assert {c.raw for c in codes} == expected
    dl = tl.appearances[1].codes()[0]
    assert dl.pairs == (("01", "04012345000016"), ("10", "A1"), ("17", "281231"))  # in the URI's order
    assert [c.symbology for c in tl.appearances[2].codes()] == ["GS1-128", "GS1 DataBar", "ITF-14"]


def test_active_states_and_repeat() -> None:
    tl = Timeline.parse(TIMELINE)
    assert [tl.active(t) for t in (0.0, 0.3, 1.1, 1.5, 2.5, 3.5, 4.3, 9.6)] == \
        [(), (0,), (), (1,), (2,), (), (0,), (1,)]
    assert tl.active(-0.5) == ()  # before t0: the empty scene
    assert tl.states() == [(), (0,), (1,), (2,)]
    once = tl.with_options(repeat_s=0)
    assert once.repeat_s is None and once.active(4.3) == ()
    overlap = Timeline.parse({"appearances": [
        {"start": 0, "end": 2, "labels": [("ean13", "(01)04012345000030")]},
        {"start": 1, "end": 3, "labels": [("itf14", "(01)14012345000013")]}]})
    assert overlap.states() == [(), (0,), (0, 1), (1,)]


def test_python_objects_and_file_round_trip(tmp_path: Path) -> None:
    class ScenarioAppearance:  # the scenario loader's shape: start, end, ((kind, data), ...)
        start, end = 3.0, 6.0
        labels = (("datamatrix", "(01)04012345000016(10)A1"),)

    path = write_timeline(tmp_path / "t.yaml", [
        ScenarioAppearance(), Appearance.of(8, 9, [("ean13", "(01)04012345000030")]),
        {"start_s": 10, "end_s": 11, "labels": [{"kind": "gs1-128", "data": [["00", "340123450000002035"]]}]},
    ], repeat_s=30, size=(960, 540))
    tl = Timeline.load(path)
    assert (tl.repeat_s, tl.size, tl.fps) == (30.0, (960, 540), 10.0)
    assert [(a.start_s, a.end_s, a.labels[0].kind, a.labels[0].data) for a in tl.appearances] == [
        (3.0, 6.0, "datamatrix", "(01)04012345000016(10)A1"), (8.0, 9.0, "ean13", "(01)04012345000030"),
        (10.0, 11.0, "gs1-128", "(00)340123450000002035")]
    assert Timeline.load(tl.dump(tmp_path / "again.yaml")) == tl
    assert timeline_url(path, t0=1700000000.5, repeat=60, fps=8) == \
        f"camera:sim?timeline={path}&t0=1700000000.500&repeat=60&fps=8"


@pytest.mark.parametrize("change,message", [
    ({"appearances": [{"start": 2, "end": 2, "labels": [("ean13", "(01)04012345000030")]}]}, "start < end"),
    ({"appearances": [{"start": 0, "end": 1, "labels": [("pdf417", "(01)04012345000030")]}]}, "unknown label kind"),
    ({"appearances": [{"start": 0, "end": 1, "labels": [("datamatrix", "0104012345000030")]}]}, "bracketed"),
    ({"appearances": [{"start": 0, "end": 1, "lables": []}]}, "unknown keys"),
    ({"appearances": [{"start": 0, "end": 1, "labels": []}]}, "no labels"),
    ({"size": "1280"}, "WxH"),
    ({"fps": 0}, "fps"),
    ({"colour": "red"}, "unknown keys"),
])
def test_malformed_timelines_name_the_problem(change: dict[str, object], message: str) -> None:
    with pytest.raises(TimelineError, match=message):
        Timeline.parse({**TIMELINE, **change})


def test_unencodable_or_crowded_labels_fail_before_the_first_frame() -> None:
    bad_digit = Timeline.parse({"appearances": [{"start": 0, "end": 1, "labels": [("ean13", "(01)04012345000031")]}]})
    with pytest.raises(TimelineError, match="check digit"):
        TimelineRenderer(bad_digit)
    crowded = Timeline.parse({"size": "640x360", "appearances": [{"start": 0, "end": 1, "labels": [
        ("logistic", "(02)04012345000054(37)12(15)270101(10)LOT7(410)4012345000009(00)340123450000002035")] * 3}]})
    with pytest.raises(TimelineError, match=r"do not fit 640x360 .* use size=\d+x\d+"):
        TimelineRenderer(crowded)


def test_bad_timeline_urls_are_camera_url_errors(tmp_path: Path) -> None:
    from drivers.registry import open_source

    with pytest.raises(CameraURLError, match="cannot read"):
        open_source("cam", f"camera:sim?timeline={tmp_path / 'missing.yaml'}")
    (tmp_path / "x.yaml").write_text("appearances: 3\n")
    with pytest.raises(CameraURLError, match="must be a list"):
        open_source("cam", f"camera:sim?timeline={tmp_path / 'x.yaml'}")


def test_url_options() -> None:
    cfg = parse_url("camera:sim?timeline=/tmp/t.yaml&t0=1700000000.25&repeat=60&fps=8&size=1280x720")
    assert cfg.kind == "sim" and cfg.live  # a timeline plays on the clock unless live=0
    assert cfg.sim == {"timeline": "/tmp/t.yaml", "t0": "1700000000.25", "repeat": "60", "fps": "8",
                       "size": "1280x720"}
    assert not parse_url("camera:sim?timeline=/tmp/t.yaml&live=0").live
    assert not parse_url("camera:sim?scenario=video").live  # unchanged for the random scenes


def test_frames_follow_the_clock_repeat_and_skip_ahead_when_late() -> None:
    clock = FakeClock(1_000.0)
    tl = Timeline.parse(TIMELINE)
    cam = TimelineCamera(tl, t0=1_000.0, clock=clock, sleep=clock.sleep)
    reader = cam()
    images = [reader.read() for _ in range(50)]
    assert [round(s.elapsed, 6) for s in cam.shown] == [round(k / 10, 6) for k in range(50)]
    want = {k: (0,) for k in range(3, 11)} | {k: (1,) for k in range(15, 21)} | {k: (2,) for k in range(25, 31)}
    want |= {k: (0,) for k in range(43, 50)}  # the second run, repeat_s = 4
    assert [s.active for s in cam.shown] == [want.get(k, ()) for k in range(50)]
    # each state is composed once and then served as is: nothing to render per frame
    assert images[3] is images[10] and images[43] is images[3] and images[0] is images[11]
    assert images[3] is not None and not images[3].flags.writeable and images[3].shape == (720, 1280, 3)

    clock.t += 5.0  # the consumer was away for 5 s: the camera shows now, not a backlog
    reader.read()
    reader.read()
    assert [round(s.elapsed, 6) for s in list(cam.shown)[-2:]] == [9.9, 10.0]


def test_before_t0_and_default_t0() -> None:
    clock = FakeClock(500.0)
    tl = Timeline.parse(TIMELINE)
    early = TimelineCamera(tl, t0=510.0, clock=clock, sleep=clock.sleep)
    early().read()
    assert early.shown[-1].active == () and early.shown[-1].elapsed == -10.0
    assert TimelineCamera(tl, clock=clock).t0 == 500.0 == TimelineCamera(tl, t0=0, clock=clock).t0  # when opened


def test_empty_scene_has_no_false_positives() -> None:
    decoder = make_decoder("combined")
    for seed in range(1, 6):
        frame, truth = TimelineRenderer(Timeline.parse({**TIMELINE, "seed": seed})).frame(())
        assert truth == []
        assert decoder.decode(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)) == []


def _cycle_and_appearance(read: Read, tl: Timeline) -> tuple[int, int]:
    first = int(read.extra["first_frame"])  # type: ignore[call-overload]
    t = first / tl.fps
    assert tl.repeat_s is not None
    [index] = tl.active(t)  # read while a label was in view, never in an empty interval
    return int(t // tl.repeat_s), index


def test_source_reads_each_appearance_exactly_once_per_run(timeline_file: Path) -> None:
    """Two runs of the timeline (80 frames at 10 fps, repeat 4 s) through the real driver."""
    tl = Timeline.load(timeline_file)
    events = asyncio.run(collect(f"camera:sim?timeline={timeline_file}&live=0&frames=80", timeout=120))
    codes: dict[str, Code] = {c.raw: c for a in tl.appearances for c in a.codes()}
    got: dict[tuple[int, int], list[str]] = {}
    for read in reads(events):
        assert read.raw in codes, f"unexpected read {read.raw!r}"
        code = codes[read.raw]
        assert read.extra["symbology_id"] == code.symbology_id and read.raw.startswith(code.symbology_id)
        assert read.extra["confirmed"] is True
        if code.pairs[0][0] == "410":  # a ship-to alone is no GS1 key: delivered, with the reason
            assert read.identifier is None and read.error and "no GS1 key" in read.error
        else:
            assert read.identifier is not None and read.error is None
        assert list(read.extra["gs1"].items()) == list(code.pairs)  # type: ignore[attr-defined]
        got.setdefault(_cycle_and_appearance(read, tl), []).append(read.raw)
    assert {key: sorted(raws) for key, raws in got.items()} == {
        (cycle, i): sorted(EXPECTED[i]) for cycle in (0, 1) for i in range(3)}
    assert statuses(events)[-1].detail == "end of input"


def test_demo_url_form_on_the_real_clock(timeline_file: Path) -> None:
    """``camera:sim?timeline=...&t0=...&repeat=...`` as the demo config writes it: live, paced, read."""
    tl = Timeline.parse({"appearances": [{"start": 0, "end": 60, "labels": TIMELINE["appearances"][0]["labels"]}]})  # type: ignore[index]
    path = tl.dump(timeline_file.parent / "live.yaml")
    url = timeline_url(path, t0=time.time(), repeat=60, fps=10, size="1280x720")
    want = EXPECTED[0]
    events = asyncio.run(collect(url, timeout=60, until=lambda evs: {r.raw for r in reads(evs)} >= want))
    assert {r.raw for r in reads(events)} == want
    assert any(s.state == "connected" for s in statuses(events))


def test_demo_scenario_labels_all_read() -> None:
    """The demo's own scenario: every camera label decodes exactly, and nothing else does."""
    from simulators.scenario import load_scenario

    scenario = load_scenario(ROOT / "config" / "scenarios" / "demo.yaml")
    tl = Timeline.parse({"repeat_s": scenario.repeat_s, "appearances": [
        {"start": a.start, "end": a.end, "labels": a.labels} for a in scenario.camera]})
    renderer = TimelineRenderer(tl)
    decoder = make_decoder("combined")
    for state in tl.states():
        frame, truth = renderer.frame(state)
        got = {s.raw for s in decoder.decode(cv2.cvtColor(np.asarray(frame), cv2.COLOR_BGR2GRAY))}
        assert got == {str(c["raw"]) for c in truth}
