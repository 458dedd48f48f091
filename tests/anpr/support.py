"""Shared by the ANPR tests: the fixtures (shapes from the vendors' public documentation, see their README)
and the multipart POST a Hikvision camera sends with pictures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anpr"
JPEG = bytes.fromhex("ffd8ffe000104a464946000101") + b"\x00" * 64 + bytes.fromhex("ffd9")  # stands for a picture


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def hikvision_multipart(event: bytes, boundary: str = "MIME_boundary", xml: bool = True) -> tuple[bytes, str]:
    """(body, content type) of a Hikvision ANPR POST with pictures: the event part, then two JPEGs."""
    name = "anpr.xml" if xml else "anpr.json"
    parts = [(f'form-data; name="{name}"; filename="{name}"', "application/xml" if xml else "application/json", event),
             ('form-data; name="licensePlatePicture.jpg"; filename="licensePlatePicture.jpg"', "image/jpeg", JPEG),
             ('form-data; name="detectionPicture.jpg"; filename="detectionPicture.jpg"', "image/jpeg", JPEG)]
    body = b""
    for disposition, media, data in parts:
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {media}\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
