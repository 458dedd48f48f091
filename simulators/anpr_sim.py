"""ANPR / OCR cameras on the scenario clock: each sighting of the scenario is POSTed to the gateway's
``anpr+webhook://`` source in the camera's own event format, as the real camera would send it.

Formats (the same shapes as the fixtures, from the vendors' public documentation; see
:mod:`drivers.anpr.formats`):

* ``rekor`` - a Rekor Scout / OpenALPR ``alpr_group`` (JSON, confidence 0-100, ``best_region``);
* ``hikvision`` - an ISAPI ``EventNotificationAlert`` ANPR alarm as XML, in a ``multipart/form-data``
  POST with the plate picture after it (``pictures=True``) or alone;
* ``generic`` - ``{"code": ..., "confidence": ..., "time": ...}`` for an OCR camera reading container
  codes (read by the generic preset with ``container=code&confidence=conf&scale=100&time=time``).

>>> from simulators.scenario import Sighting
>>> v = Sighting("anpr-front", "plate", 3.0, "B-UN 6006", "B-UN 6006", 0.94, "front", "lane1")
>>> body, ctype = event_body("rekor", v, epoch=1_796_634_000.0)
>>> import json; doc = json.loads(body); doc["data_type"], doc["best_plate_number"], doc["best_confidence"], ctype
('alpr_group', 'B-UN 6006', 94.0, 'application/json')
>>> body, ctype = event_body("hikvision", v, epoch=1_796_634_000.0, pictures=True)
>>> ctype.startswith("multipart/form-data; boundary=") and b"<licensePlate>B-UN 6006</licensePlate>" in body
True
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from simulators.scenario import Sighting

log = logging.getLogger(__name__)
_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # an empty JPEG stands for the picture


def event_body(fmt: str, sighting: Sighting, epoch: float, pictures: bool = False) -> tuple[bytes, str]:
    """(body, content type) of one sighting in ``fmt`` (rekor, hikvision, generic)."""
    ms = int(epoch * 1000)
    uuid = f"sim-{sighting.camera}-{ms}"
    if fmt == "rekor":
        doc = {"version": 2, "data_type": "alpr_group", "epoch_start": ms - 800, "epoch_end": ms,
               "camera_id": zlib.crc32(sighting.camera.encode()) % 10_000, "agent_type": "alprd", "country": "eu",
               "best_plate_number": sighting.text, "best_confidence": round(sighting.confidence * 100, 2),
               "best_region": "de", "best_uuid": uuid, "uuids": [uuid],
               "candidates": [{"plate": sighting.text, "confidence": round(sighting.confidence * 100, 2),
                               "matches_template": 0}]}
        return json.dumps(doc).encode(), "application/json"
    if fmt == "hikvision":
        stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0" '
               'xmlns="http://www.isapi.org/ver20/XMLSchema"><ipAddress>127.0.0.1</ipAddress><channelID>1</channelID>'
               f"<dateTime>{stamp}</dateTime><activePostCount>1</activePostCount><eventType>ANPR</eventType>"
               "<eventState>active</eventState><eventDescription>ANPR</eventDescription><ANPR>"
               f"<licensePlate>{escape(sighting.text)}</licensePlate><line>1</line><direction>forward</direction>"
               f"<confidenceLevel>{round(sighting.confidence * 100)}</confidenceLevel><vehicleType>truck</vehicleType>"
               f"</ANPR><UUID>sim-{escape(sighting.camera)}-{ms}</UUID></EventNotificationAlert>").encode()
        if not pictures:
            return xml, "application/xml"
        boundary = "MIME_boundary"
        body = b""
        for name, media, data in (("anpr.xml", "application/xml", xml),
                                  ("licensePlatePicture.jpg", "image/jpeg", _JPEG)):
            body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                     f"Content-Type: {media}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data + b"\r\n"
        return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
    doc2 = {"code": sighting.text, "confidence": round(sighting.confidence * 100, 1), "time": epoch}
    return json.dumps(doc2).encode(), "application/json"


@dataclass(frozen=True, slots=True)
class CameraTarget:
    """Where a simulated camera posts: the gateway's webhook URL and the camera's format."""

    url: str
    format: str  # rekor | hikvision | generic
    pictures: bool = False


class AnprCameraSimulator:
    """Posts the scenario's sightings of every camera in ``targets`` on the scenario clock (``t0`` on the
    loop's monotonic clock; ``repeat_s`` plays them again), each with the wall-clock time it happens."""

    def __init__(self, sightings: tuple[Sighting, ...], targets: Mapping[str, CameraTarget], speed: float = 1.0,
                 repeat_s: float | None = None, timeout_s: float = 5.0) -> None:
        self.sightings = tuple(s for s in sightings if s.camera in targets)
        self.targets = dict(targets)
        self.speed, self.repeat_s, self.timeout_s = speed, repeat_s, timeout_s
        self.posted = 0
        self.failed = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, t0: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(loop.time() if t0 is None else t0))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, t0: float) -> None:
        import httpx

        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            cycle = 0
            while self.sightings:
                base = cycle * (self.repeat_s or 0.0)
                for sighting in self.sightings:
                    due = t0 + (base + sighting.time) / self.speed
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await self._post(client, sighting, time.time())
                if not self.repeat_s:
                    return
                cycle += 1

    async def _post(self, client: object, sighting: Sighting, epoch: float) -> None:
        import httpx

        assert isinstance(client, httpx.AsyncClient)
        target = self.targets[sighting.camera]
        body, content_type = event_body(target.format, sighting, epoch, target.pictures)
        try:
            answer = await client.post(target.url, content=body, headers={"Content-Type": content_type})
            answer.raise_for_status()
            self.posted += 1
        except httpx.HTTPError as exc:  # the gateway restarting: a real camera loses the event too
            self.failed += 1
            log.debug("ANPR simulator: %s could not post: %s", sighting.camera, type(exc).__name__)
