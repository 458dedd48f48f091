"""Scenario files: trucks with GS1-tagged goods, turned into a tag world and a camera timeline.

A scenario names its tags as GS1 element strings (``"(00)340123450000001014"``), not as EPC
hex: they are encoded here with the project's EPC encoder, so the file reads like a loading
list and stays valid when the encoding rules change.  See ``config/scenarios/demo.yaml``.

>>> s = load_scenario_dict({"repeat_s": 30, "company_prefix_length": 7, "trucks": [
...     {"name": "t", "lane": "lane1", "reader": "r1", "antennas": [1, 2], "start": 2,
...      "tags": ["(00)340123450000001014"],
...      "camera": [{"kind": "datamatrix", "data": "(01)04012345000016(10)A1"}]}]})
>>> s.trucks[0].epcs
('3154f4e4e4b2d05e65000000',)
>>> s.world.readers, s.world.repeat_s
(['r1'], 30.0)
>>> [(a.start, a.end, a.labels) for a in s.camera]
[(3.0, 6.0, (('datamatrix', '(01)04012345000016(10)A1'),))]

Induction loops wired to a reader's general-purpose inputs: ``loops`` names the reader and the GPI
ports of the entry and exit loops.  The entry loop is occupied from the truck's start for
``occupy_s`` (1.5 s), the exit loop from when the truck's tags leave the last antenna's field;
each occupation is a rising and a falling edge (:class:`GpiEdge`), which the LLRP simulator plays:

>>> s = load_scenario_dict({"trucks": [{"name": "t", "lane": "lane1", "reader": "r1", "start": 2,
...     "antennas": [1, 2], "dwell": 3, "loops": {"reader": "r1", "entry": 1, "exit": 2}}]})
>>> [(e.reader, e.port, e.time, e.high) for e in s.gpi]
[('r1', 1, 2.0, True), ('r1', 1, 3.5, False), ('r1', 2, 6.0, True), ('r1', 2, 7.5, False)]
>>> [e.time for e in edges_between(s.gpi, 0.0, 20.0, repeat_s=10.0)]
[2.0, 3.5, 6.0, 7.5, 12.0, 13.5, 16.0, 17.5]

What the ANPR / OCR cameras see of a truck: ``plates`` and ``containers``, each read by a named camera
``at`` seconds after the truck's start (:class:`Sighting`).  With ``misread_rate`` (scenario level) a
reading may come out with one character swapped for its OCR twin (O/0, I/1, B/8, S/5) and a lower
confidence, drawn from ``(seed, truck, sighting)``: the same seed gives the same misreads (a misread
container code fails its ISO 6346 check digit, as a real one would).

>>> s = load_scenario_dict({"misread_rate": 1.0, "trucks": [{"lane": "lane1", "start": 2,
...     "plates": [{"camera": "anpr-front", "text": "B-OI 1234", "confidence": 0.95}],
...     "containers": [{"camera": "ocr-side", "code": "CSQU3054383", "at": 2.5}]}]}, seed=3)
>>> [(v.camera, v.kind, v.time, v.text != v.true_text) for v in s.sightings]
[('anpr-front', 'plate', 3.0, True), ('ocr-side', 'container', 4.5, True)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulators.tag_world import TagTrack, TagWorld, truck_passage


@dataclass(frozen=True, slots=True)
class Truck:
    name: str
    lane: str
    start: float
    epcs: tuple[str, ...]
    element_strings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CameraAppearance:
    start: float
    end: float
    labels: tuple[tuple[str, str], ...]  # (kind, bracketed element string)


@dataclass(frozen=True, slots=True)
class GpiEdge:
    """A general-purpose input of ``reader`` going high (loop occupied) or low at scenario ``time``."""

    reader: str
    port: int
    time: float
    high: bool


@dataclass(frozen=True, slots=True)
class Sighting:
    """A plate or container code a camera reads at scenario ``time`` (``text`` as read, maybe misread)."""

    camera: str
    kind: str  # plate | container
    time: float
    text: str
    true_text: str
    confidence: float
    position: str
    lane: str


@dataclass(frozen=True, slots=True)
class Scenario:
    world: TagWorld
    trucks: tuple[Truck, ...]
    camera: tuple[CameraAppearance, ...]
    repeat_s: float | None
    gpi: tuple[GpiEdge, ...] = ()
    sightings: tuple[Sighting, ...] = ()


_OCR_TWINS = {"O": "0", "0": "O", "I": "1", "1": "I", "B": "8", "8": "B", "S": "5", "5": "S"}


def _misread(text: str, rate: float, seed: int, truck: int, index: int) -> tuple[str, float]:
    """``(text, confidence factor)``: with probability ``rate`` one character swapped for its OCR twin."""
    import hashlib
    import struct

    digest = hashlib.blake2b(struct.pack("<qqq", seed, truck, index), digest_size=16).digest()
    u1, u2 = struct.unpack("<QQ", digest)
    spots = [i for i, ch in enumerate(text) if ch in _OCR_TWINS]
    if not spots or u1 / 2**64 >= rate:
        return text, 1.0
    i = spots[u2 % len(spots)]
    return text[:i] + _OCR_TWINS[text[i]] + text[i + 1:], 0.75


def sightings_of(raw: dict[str, Any], number: int, start: float, rate: float, seed: int) -> list[Sighting]:
    out: list[Sighting] = []
    lane = str(raw.get("lane", ""))
    entries = [("plate", e) for e in raw.get("plates", [])] + [("container", e) for e in raw.get("containers", [])]
    for index, (kind, entry) in enumerate(entries):
        true = str(entry["text"] if kind == "plate" else entry["code"])
        text, factor = _misread(true, float(entry.get("misread_rate", rate)), seed, number, index)
        position = str(entry.get("position", "front" if kind == "plate" else "container"))
        out.append(Sighting(str(entry["camera"]), kind, round(start + float(entry.get("at", 1.0)), 6), text, true,
                            round(float(entry.get("confidence", 0.9)) * factor, 3), position, lane))
    return out


def edges_between(edges: tuple[GpiEdge, ...], t0: float, t1: float, repeat_s: float | None = None) -> list[GpiEdge]:
    """The edges with ``t0 < time <= t1`` (shifted by whole repeats when the scenario repeats), in order."""
    if t1 <= t0:
        return []
    if not repeat_s:
        return sorted((e for e in edges if t0 < e.time <= t1), key=lambda e: (e.time, e.port))
    out: list[GpiEdge] = []
    cycle = max(0, math.floor(t0 / repeat_s))
    while cycle * repeat_s <= t1:
        base = cycle * repeat_s
        out += [GpiEdge(e.reader, e.port, e.time + base, e.high) for e in edges if t0 < e.time + base <= t1]
        cycle += 1
    return sorted(out, key=lambda e: (e.time, e.port))


def loop_edges(loops: dict[str, Any], start: float, antennas: int, dwell: float) -> list[GpiEdge]:
    """The entry and exit loops of one truck (see the module docstring)."""
    reader = str(loops["reader"])
    occupy = float(loops.get("occupy_s", 1.5))
    leaves = start + dwell + (max(antennas, 1) - 1) * dwell / 3.0  # the last antenna's field ends
    out: list[GpiEdge] = []
    for key, at in (("entry", start), ("exit", float(loops.get("exit_at", leaves - start)) + start)):
        if loops.get(key) is not None:
            port = int(loops[key])
            out += [GpiEdge(reader, port, round(at, 6), True), GpiEdge(reader, port, round(at + occupy, 6), False)]
    return out


def encode_tag(tag: str | dict[str, Any], company_prefix_length: int, filter_value: int) -> str:
    """A scenario tag (element string, or ``{scheme, data}``) as lower-case EPC hex."""
    from gateway.gs1 import epc

    if isinstance(tag, dict):
        encoded = epc.encode(str(tag["data"]), scheme=str(tag["scheme"]), filter=int(tag.get("filter", 1)))
    else:
        encoded = epc.encode(tag, company_prefix_length=company_prefix_length, filter=filter_value)
    return str(encoded.hex).lower()


def load_scenario_dict(data: dict[str, Any], seed: int = 0) -> Scenario:
    gcp = int(data.get("company_prefix_length", 7))
    repeat = data.get("repeat_s")
    tracks: list[TagTrack] = []
    trucks: list[Truck] = []
    camera: list[CameraAppearance] = []
    gpi: list[GpiEdge] = []
    sightings: list[Sighting] = []
    rate = float(data.get("misread_rate", 0.0))
    for number, raw in enumerate(data.get("trucks", [])):
        dwell = float(raw.get("dwell", 4.0))
        start = float(raw["start"])
        tags = list(raw.get("tags", []))
        # SSCCs get filter 2 (full pallet), trade items filter 1 (point of sale).
        epcs = [encode_tag(t, gcp, 2 if isinstance(t, str) and t.startswith("(00)") else 1) for t in tags]
        trucks.append(Truck(str(raw.get("name", f"truck-{len(trucks) + 1}")), str(raw["lane"]), start,
                            tuple(epcs), tuple(t if isinstance(t, str) else str(t["data"]) for t in tags)))
        tracks += truck_passage(str(raw.get("reader", "")), raw.get("antennas", [1, 2]), epcs, start, dwell=dwell,
                                peak_rssi=float(raw.get("peak_rssi", -45.0)), rate_hz=float(raw.get("rate_hz", 40.0)),
                                reverse=bool(raw.get("reverse", False)))
        for extra in raw.get("also_read_by", []):
            tracks += truck_passage(str(extra["reader"]), extra.get("antennas", [1]), epcs, start, dwell=dwell,
                                    peak_rssi=float(extra.get("peak_rssi", -50.0)),
                                    rate_hz=float(extra.get("rate_hz", 30.0)))
        for cross in raw.get("cross_reads", []):
            tracks += truck_passage(str(cross["reader"]), cross.get("antennas", [1]), epcs, start, dwell=dwell,
                                    peak_rssi=float(cross.get("peak_rssi", -74.0)),
                                    rate_hz=float(cross.get("rate_hz", 10.0)))
        if raw.get("loops"):
            gpi += loop_edges(raw["loops"], start, len(raw.get("antennas", [1, 2])), dwell)
        sightings += sightings_of(raw, number, start, rate, seed)
        labels = tuple((str(label["kind"]), str(label["data"])) for label in raw.get("camera", []))
        if labels:
            camera.append(CameraAppearance(start + 1.0, start + 1.0 + dwell * 0.75, labels))
    world = TagWorld(tracks, seed=seed, duration=data.get("duration"), name=str(data.get("name", "scenario")),
                     repeat_s=float(repeat) if repeat else None)
    return Scenario(world, tuple(trucks), tuple(camera), float(repeat) if repeat else None,
                    tuple(sorted(gpi, key=lambda e: (e.time, e.reader, e.port))),
                    tuple(sorted(sightings, key=lambda v: (v.time, v.camera))))


def load_scenario(path: str | Path, seed: int = 0) -> Scenario:
    return load_scenario_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")), seed=seed)


def load_world(path: str | Path, seed: int | None = None) -> TagWorld:
    """The tag world of a scenario file in either format, for the reader simulators' ``--scenario``.

    Trucks with ``tags`` (GS1 element strings: ``config/scenarios/``, ``tests/fixtures/e2e/``) are a
    scenario (:func:`load_scenario_dict`); trucks with ``epcs`` (EPC hex) or raw ``tracks`` are the
    :class:`TagWorld` format.  A file that is neither is a ``ValueError`` that names the truck.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    ...     _ = f.write("trucks: [{reader: r1, lane: lane1, start: 1, tags: ['(00)340123450000001014']}]")
    >>> load_world(f.name).readers
    ['r1']
    >>> with open(f.name, "w") as f2:
    ...     _ = f2.write("trucks: [{reader: r1, start: 1}]")
    >>> load_world(f.name)
    Traceback (most recent call last):
    ...
    ValueError: truck 1 has neither tags (GS1 element strings) nor epcs (EPC hex)
    >>> import os; os.unlink(f.name)
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with trucks or tracks")
    trucks = data.get("trucks") or []
    for number, truck in enumerate(trucks, start=1):
        # a truck without GS1 tags is seen by loops and cameras only (no reads for the reader simulators)
        if not isinstance(truck, dict) or not any(k in truck for k in ("tags", "epcs", "plates", "containers",
                                                                          "loops")):
            raise ValueError(f"truck {number} has neither tags (GS1 element strings) nor epcs (EPC hex)")
    try:
        if any(k in truck for truck in trucks for k in ("tags", "plates", "containers", "loops")):
            return load_scenario_dict(data, seed=0 if seed is None else seed).world
        return TagWorld.from_dict(data, seed=seed, name=Path(path).stem)
    except KeyError as exc:
        raise ValueError(f"{path}: a truck has no {exc}") from None
