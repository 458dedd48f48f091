"""ANPR sources on real parts: plate events POSTed over a real HTTP socket, and published through Mosquitto."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx

from drivers.anpr.sources import AnprWebhookSource
from drivers.registry import open_source
from gateway.reads import SourceEvent, SourceStatus, Trigger, VehicleRead
from tests.anpr.support import fixture, hikvision_multipart
from tests.llrp.support import collect
from tests.vendor_json.test_vendor_json import _publish_when_subscribed


def vehicle_reads(events: list[SourceEvent]) -> list[VehicleRead]:
    return [e for e in events if isinstance(e, VehicleRead)]


def test_webhook_takes_each_preset_answers_at_once_and_survives_bad_bodies() -> None:
    async def main() -> None:
        hik = open_source("anpr-rear", "anpr+webhook://127.0.0.1:0/isapi?preset=hikvision&position=rear")
        rekor = open_source("anpr-front", "anpr+webhook://127.0.0.1:0/alpr?preset=rekor&position=front&token=s3cret")
        assert isinstance(hik, AnprWebhookSource) and isinstance(rekor, AnprWebhookSource)
        tasks = [asyncio.create_task(collect(src, until=lambda ev, n=n: len(vehicle_reads(ev)) >= n, timeout=15))
                 for src, n in ((hik, 3), (rekor, 1))]
        await asyncio.wait_for(asyncio.gather(hik.listening.wait(), rekor.listening.wait()), 10)
        hik_url = "http://{}:{}/isapi".format(*hik.address)
        rekor_url = "http://{}:{}/alpr".format(*rekor.address)
        body, multipart = hikvision_multipart(fixture("hikvision-anpr.xml"))
        async with httpx.AsyncClient(timeout=10) as client:
            answers = [
                await client.post(hik_url, content=fixture("hikvision-anpr.xml"),
                                  headers={"Content-Type": "application/xml"}),
                await client.post(hik_url, content=b"<EventNotificationAlert><eventType>ANPR",
                                  headers={"Content-Type": "application/xml"}),  # cut short: 400, nothing lost
                await client.post(hik_url, content=body, headers={"Content-Type": multipart}),
                await client.post(hik_url, content=fixture("hikvision-noplate.xml")),
                await client.post(hik_url, content=fixture("hikvision-videoloss.xml")),
                await client.post(hik_url, content=fixture("hikvision-anpr.json"),
                                  headers={"Content-Type": "application/json"}),
                await client.post(rekor_url, content=fixture("rekor-alpr_group.json")),  # no token
                await client.post(rekor_url, content=fixture("rekor-alpr_group.json"),
                                  headers={"Authorization": "Bearer s3cret"}),
            ]
        hik_events, rekor_events = await asyncio.gather(*tasks)
        await hik.close()
        await rekor.close()
        assert [a.status_code for a in answers] == [200, 400, 200, 200, 200, 200, 401, 200]
        assert answers[0].json() == {"accepted": 1} and answers[4].json() == {"accepted": 0}
        assert "not well-formed XML" in answers[1].json()["error"]
        assert [(r.value, r.position, r.image_ref) for r in vehicle_reads(hik_events)] == [
            ("BXZ77", "rear", None), ("BXZ77", "rear", "licensePlatePicture.jpg"), ("BXY1234", "rear", None)]
        assert [t.kind for t in hik_events if isinstance(t, Trigger)] == ["camera"]  # the unread plate
        assert hik.bad_documents == 1 and hik.requests == 5
        assert any(isinstance(s, SourceStatus) and "bad ANPR event" in s.detail for s in hik_events)
        [front] = vehicle_reads(rekor_events)
        assert (front.value, front.position, front.source) == ("BXY1234", "front", "anpr-front")

    asyncio.run(asyncio.wait_for(main(), 60))


def test_mqtt_source_reads_json_presets_through_mosquitto(mqtt_broker: Any) -> None:
    host, port = mqtt_broker.host, mqtt_broker.port
    topic = f"bx-test/anpr/{threading.get_ident()}/lpr"
    url = (f"anpr+mqtt://{host}:{port}/{topic}?preset=generic&match=webhook_type:lpr&plate=data.license_plate_number"
           "&confidence=data.confidence&scale=1&time=data.detected&time_unit=ms&position=trailer")
    verkada = json.loads(fixture("verkada-lpr.json"))
    payloads = [json.dumps(verkada), "{not json", json.dumps(dict(verkada, webhook_type="motion")),
                json.dumps({"webhook_type": "lpr", "data": {}}), json.dumps(verkada)]

    async def main() -> None:
        src = open_source("anpr-trailer", url)
        task = asyncio.create_task(collect(src, until=lambda ev: len(vehicle_reads(ev)) >= 2, timeout=15))
        await asyncio.wait_for(src.subscribed.wait(), 10)  # type: ignore[attr-defined]
        await asyncio.to_thread(_publish_when_subscribed, src, host, port, topic, payloads)
        events = await task
        await src.close()
        reads = vehicle_reads(events)
        assert [(r.value, r.position, r.confidence) for r in reads] == [("BXY1Z34", "trailer", 0.663)] * 2
        bad = [s.detail for s in events if isinstance(s, SourceStatus) and "ignored" in s.detail]
        assert len(bad) == 2 and "data.license_plate_number: missing" in bad[1]  # both named, the feed goes on

    asyncio.run(asyncio.wait_for(main(), 30))
