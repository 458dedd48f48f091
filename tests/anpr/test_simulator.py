"""The ANPR camera simulator posts a scenario's sightings, in each camera's format, over a real HTTP socket
to the gateway's ANPR sources, on the scenario clock; misreads are the seed's, not chance's."""

from __future__ import annotations

import asyncio

from drivers.anpr.sources import AnprWebhookSource
from drivers.registry import open_source
from gateway.reads import SourceEvent, VehicleRead
from simulators.anpr_sim import AnprCameraSimulator, CameraTarget
from simulators.scenario import load_scenario_dict
from tests.llrp.support import collect

SCENARIO = {"misread_rate": 0.5, "trucks": [
    {"name": "untagged", "lane": "lane1", "start": 0.2,
     "plates": [{"camera": "front", "text": "B-UN 6006", "confidence": 0.94, "at": 0.0},
                {"camera": "rear", "text": "B-UT 77", "position": "trailer", "at": 0.2}],
     "containers": [{"camera": "side", "code": "CSQU3054383", "confidence": 0.9, "at": 0.3}]},
    {"name": "second", "lane": "lane1", "start": 0.8,
     "plates": [{"camera": "front", "text": "B-OB 1010", "confidence": 0.9, "at": 0.0}]}]}


def test_sightings_arrive_in_each_cameras_format_with_the_seeds_misreads() -> None:
    scenario = load_scenario_dict(SCENARIO, seed=7)
    assert scenario.sightings == load_scenario_dict(SCENARIO, seed=7).sightings  # the seed decides

    async def main() -> list[list[SourceEvent]]:
        sources = {"front": open_source("anpr-front", "anpr+webhook://127.0.0.1:0/f?preset=rekor&position=front"),
                   "rear": open_source("anpr-rear", "anpr+webhook://127.0.0.1:0/r?preset=hikvision&position=trailer"),
                   "side": open_source("ocr-side", "anpr+webhook://127.0.0.1:0/s?preset=generic&container=code"
                                                   "&confidence=confidence&scale=100&time=time&time_unit=s")}
        wanted = {"front": 2, "rear": 1, "side": 1}
        tasks = {name: asyncio.create_task(collect(src, until=lambda ev, n=wanted[name]: sum(
            isinstance(e, VehicleRead) for e in ev) >= n, timeout=15)) for name, src in sources.items()}
        for src in sources.values():
            assert isinstance(src, AnprWebhookSource)
            await asyncio.wait_for(src.listening.wait(), 10)
        paths = {"front": "f", "rear": "r", "side": "s"}
        targets = {name: CameraTarget("http://{}:{}/{}".format(*src.address, paths[name]),  # type: ignore[attr-defined]
                                      {"front": "rekor", "rear": "hikvision", "side": "generic"}[name],
                                      pictures=name == "rear") for name, src in sources.items()}
        sim = AnprCameraSimulator(scenario.sightings, targets)
        await sim.start()
        results = [await tasks[name] for name in ("front", "rear", "side")]
        await sim.stop()
        for src in sources.values():
            await src.close()
        assert sim.posted == 4 and sim.failed == 0
        return results

    front, rear, side = asyncio.run(asyncio.wait_for(main(), 60))
    reads = {name: [e for e in events if isinstance(e, VehicleRead)] for name, events in
             (("front", front), ("rear", rear), ("side", side))}
    expected = {v.camera: [] for v in scenario.sightings}  # type: dict[str, list[str]]
    for v in scenario.sightings:
        expected[v.camera].append(v.text)
    from gateway.vehicle import container_code, plate_key
    assert [r.value for r in reads["front"]] == [plate_key(t) for t in expected["front"]]
    assert [(r.value, r.position, r.image_ref) for r in reads["rear"]] == [
        (plate_key(expected["rear"][0]), "trailer", "licensePlatePicture.jpg")]
    [container] = reads["side"]
    assert container.value == container_code(expected["side"][0])[0] and container.kind == "container"
    misread = [v for v in scenario.sightings if v.text != v.true_text]
    assert misread and all(v.confidence < 0.9 for v in misread)  # a misread comes with less confidence
