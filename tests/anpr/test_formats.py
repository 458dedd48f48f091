"""The ANPR event formats against fixtures built from the vendors' public documentation."""

from __future__ import annotations

import pytest

from drivers.anpr.formats import AnprEventError, AnprFormat, parse_body, parse_document
from gateway.reads import Trigger, VehicleRead
from tests.anpr.support import fixture, fixture_json, hikvision_multipart

REKOR = AnprFormat.from_query({"preset": "rekor", "position": "front"})
HIK = AnprFormat.from_query({"preset": "hikvision", "position": "rear"})
VERKADA = AnprFormat.from_query({
    "preset": "generic", "match": "webhook_type:lpr", "plate": "data.license_plate_number",
    "confidence": "data.confidence", "scale": "1", "time": "data.detected", "time_unit": "ms",
    "image": "data.image_url", "country": "data.license_plate_state", "event_id": "webhook_id"})


def plates(events: list[VehicleRead | Trigger]) -> list[VehicleRead]:
    return [e for e in events if isinstance(e, VehicleRead)]


def test_rekor_group_best_plate_with_its_candidates() -> None:
    [read] = parse_document(REKOR, "anpr-front", 50.0, fixture_json("rekor-alpr_group.json"))
    assert isinstance(read, VehicleRead)
    assert (read.kind, read.text, read.value, read.confidence, read.country, read.position) == (
        "plate", "BXY1234", "BXY1234", 0.942, "DE", "front")
    assert read.source_time == 1796634002.4 and read.host_time == 50.0
    assert read.event_id == read.image_ref == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-1234-1796634001200"
    assert read.candidates == (("8XY1234", 0.817), ("BXY124", 0.701))  # the best plate itself is not repeated
    assert read.direction == "182.5" and read.usable


def test_rekor_frame_results_and_heartbeat() -> None:
    reads = plates(parse_document(REKOR, "anpr-front", 1.0, fixture_json("rekor-alpr_results.json")))
    assert [(r.value, r.confidence, r.country) for r in reads] == [("BXY1234", 0.929, "DE"), ("BXZ77", 0.794, "DE")]
    assert reads[0].candidates == (("BXYI234", 0.808),) and reads[0].source_time == 1796634001.2
    assert parse_document(REKOR, "anpr-front", 1.0, fixture_json("rekor-heartbeat.json")) == []


def test_hikvision_xml_json_and_multipart_with_pictures() -> None:
    [xml] = plates(parse_body(HIK, "anpr-rear", 1.0, fixture("hikvision-anpr.xml"), "application/xml"))
    assert (xml.text, xml.value, xml.confidence, xml.country, xml.position, xml.direction) == (
        "B XZ 77", "BXZ77", 0.91, None, "rear", "forward")  # Hikvision's country index is not ISO: lane default
    assert xml.source_time == 1796634001.2 and xml.event_id == "5f3c2a10-0000-4000-8000-000000000017"
    [js] = plates(parse_body(HIK, "anpr-rear", 1.0, fixture("hikvision-anpr.json"), "application/json"))
    assert (js.value, js.confidence, js.event_id) == ("BXY1234", 0.97, "00:00:5e:00:53:02#3")
    body, content_type = hikvision_multipart(fixture("hikvision-anpr.xml"))
    [multi] = plates(parse_body(HIK, "anpr-rear", 1.0, body, content_type))
    assert multi.value == "BXZ77" and multi.image_ref == "licensePlatePicture.jpg"  # named, the bytes not kept
    body, content_type = hikvision_multipart(fixture("hikvision-anpr.json"), xml=False)
    assert plates(parse_body(HIK, "anpr-rear", 1.0, body, content_type))[0].value == "BXY1234"


def test_hikvision_unread_plate_is_a_presence_and_heartbeats_are_ignored() -> None:
    [trigger] = parse_body(HIK, "anpr-rear", 7.0, fixture("hikvision-noplate.xml"))
    assert isinstance(trigger, Trigger) and (trigger.kind, trigger.source, trigger.host_time) == ("camera", "anpr-rear",
                                                                                                 7.0)
    assert parse_body(HIK, "anpr-rear", 7.0, fixture("hikvision-videoloss.xml")) == []


def test_generic_mapping_reads_a_verkada_webhook() -> None:
    [read] = plates(parse_document(VERKADA, "anpr-v", 1.0, fixture_json("verkada-lpr.json")))
    assert (read.value, read.confidence, read.country, read.source_time) == ("BXY1Z34", 0.663, "DE", 1796634001.75)
    assert read.image_ref == "https://example.invalid/lpr/crop.jpg"
    assert read.event_id == "00000000-0000-0000-0000-000000000001"
    other = dict(fixture_json("verkada-lpr.json"), webhook_type="motion")
    assert parse_document(VERKADA, "anpr-v", 1.0, other) == []  # match=webhook_type:lpr


def test_generic_containers_are_checked_with_iso_6346() -> None:
    ocr = AnprFormat.from_query({"preset": "generic", "container": "code", "items": "reads", "confidence": "conf"})
    reads = plates(parse_document(ocr, "ocr", 1.0, {"reads": [{"code": "CSQU 305438 3", "conf": 88},
                                                             {"code": "CSQU3054384", "conf": 91}]}))
    assert [(r.kind, r.value, r.position, r.usable) for r in reads] == [
        ("container", "CSQU3054383", "container", True), ("container", "CSQU3054384", "container", False)]
    assert reads[1].error == "ISO 6346 check digit is wrong (CSQU3054384)"  # evidence with an error, never a key


@pytest.mark.parametrize(("fmt", "body", "why"), [
    (REKOR, b'{"data_type": "alpr_group"}', "best_plate_number: missing"),
    (REKOR, b'{"data_type": "alpr_group", "best_plate_number": ["x"]}', "expected text"),
    (REKOR, b'{"data_type": "alpr_results", "results": {}}', "results: expected a list"),
    (REKOR, b'{"data_type": "alpr_group", "best_plate_number": "A1", "epoch_end": 1e30}', "is not a time"),
    (REKOR, b'{"data_type": "alpr_group", "best_plate_number": "A1", "best_confidence": "high"}', "expected a number"),
    (REKOR, b'{"data_type": "carcheck"}', "not an OpenALPR"),
    (REKOR, b"[1, 2]", "expected a JSON object"),
    (REKOR, b"<EventNotificationAlert/>", "preset=rekor takes JSON"),
    (HIK, b"<EventNotificationAlert><eventType>ANPR</eventType></EventNotificationAlert>", "ANPR: missing"),
    (HIK, b"<Alert><eventType>ANPR</eventType></Alert>", "not EventNotificationAlert"),
    (HIK, b"<EventNotificationAlert><eventType>ANPR", "not well-formed XML"),
    (HIK, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><EventNotificationAlert>&a;</EventNotificationAlert>',
     "not well-formed XML (DTDForbidden"),
    (HIK, b'{"eventType": "ANPR", "dateTime": "yesterday", "ANPR": {"licensePlate": "A1"}}', "not an ISO 8601"),
    (HIK, b"{not json", "body: not JSON"),
    (VERKADA, b'{"webhook_type": "lpr", "data": {}}', "data.license_plate_number: missing"),
    (VERKADA, b'{"webhook_type": "lpr", "data": {"license_plate_number": "A1", "confidence": "x"}}', "not a number"),
])
def test_bad_documents_are_typed_errors_naming_the_field(fmt: AnprFormat, body: bytes, why: str) -> None:
    with pytest.raises(AnprEventError, match=why.replace("(", r"\(")):
        parse_body(fmt, "cam", 1.0, body)


def test_multipart_without_an_event_part_is_refused() -> None:
    with pytest.raises(AnprEventError, match="without an XML or JSON part"):
        parse_body(HIK, "cam", 1.0, b"--b\r\nContent-Type: image/jpeg\r\n\r\nxx\r\n--b--\r\n",
                   "multipart/form-data; boundary=b")
    with pytest.raises(AnprEventError, match="without a boundary"):
        parse_body(HIK, "cam", 1.0, b"x", "multipart/form-data")


@pytest.mark.parametrize(("query", "why"), [
    ({"preset": "acme"}, "preset must be one of"),
    ({"preset": "rekor", "position": "roof"}, "position must be one of"),
    ({"preset": "rekor", "plate": "x"}, "for preset=generic only"),
    ({"preset": "generic"}, "needs plate= or container="),
    ({"preset": "generic", "plate": "a", "container": "b"}, "not both"),
    ({"preset": "generic", "plate": "a..b"}, "not a field path"),
    ({"preset": "generic", "plate": "a", "scale": "10"}, "scale must be 1 or 100"),
    ({"preset": "generic", "plate": "a", "time_unit": "h"}, "time_unit must be"),
    ({"preset": "generic", "plate": "a", "match": "webhook_type"}, "use path:value"),
])
def test_format_parameters_are_checked(query: dict[str, str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        AnprFormat.from_query(query)
