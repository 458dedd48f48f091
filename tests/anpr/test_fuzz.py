"""Fuzzing the ANPR parsers: whatever a camera (or anyone reaching its webhook) sends, the parser answers
with events or with its own typed error (:class:`AnprEventError`), never anything else; the events it
does return are well-formed (text bounded, confidence on 0..1, containers with a bad check digit flagged).

``HYPOTHESIS_PROFILE=ci`` runs each test with 10,000 examples (``tests/support/fuzz.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.anpr.formats import AnprEventError, AnprFormat, Event, parse_body, parse_document
from gateway.reads import Trigger, VehicleRead
from tests.anpr.support import fixture, fixture_json, hikvision_multipart
from tests.support.fuzz import FUZZ_EXAMPLES

FORMATS = [AnprFormat.from_query({"preset": "rekor"}), AnprFormat.from_query({"preset": "hikvision"}),
           AnprFormat.from_query({"preset": "generic", "plate": "data.license_plate_number", "items": "list",
                                  "confidence": "data.confidence", "time": "data.detected", "country": "data.c"}),
           AnprFormat.from_query({"preset": "generic", "container": "a[0].b", "time": "t", "time_unit": "iso"})]
CONTENT_TYPES = ["", "application/json", "application/xml", "text/xml", "multipart/form-data; boundary=MIME_boundary",
                 "multipart/form-data", "multipart/mixed; boundary=b"]
JSON_FIXTURES = [fixture_json(name) for name in ("rekor-alpr_group.json", "rekor-alpr_results.json",
                                                 "hikvision-anpr.json", "verkada-lpr.json")]
XML_FIXTURES = [fixture(name) for name in ("hikvision-anpr.xml", "hikvision-noplate.xml")]
SETTINGS = settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=list(HealthCheck), deadline=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=4)


def check(events: list[Event]) -> None:
    for event in events:
        assert isinstance(event, (VehicleRead, Trigger))
        if isinstance(event, VehicleRead):
            assert len(event.text) <= 64 and len(event.value) <= 64 and event.kind in ("plate", "container")
            assert event.confidence is None or 0.0 <= event.confidence <= 1.0
            assert event.usable == (bool(event.value) and event.error is None)
            assert len(event.candidates) <= 10


def run(fmt: AnprFormat, body: bytes, content_type: str) -> None:
    try:
        check(parse_body(fmt, "cam", 1.0, body, content_type))
    except AnprEventError:
        pass


@pytest.mark.fuzz
@SETTINGS
@given(st.sampled_from(FORMATS), st.binary(max_size=600), st.sampled_from(CONTENT_TYPES))
def test_random_bytes(fmt: AnprFormat, body: bytes, content_type: str) -> None:
    run(fmt, body, content_type)


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """``doc`` with the node at ``path`` (indexes into dicts' keys / lists) replaced by ``value``."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(doc, dict) and doc:
        key = list(doc)[step % len(doc)]
        return {**doc, key: _mutate(doc[key], rest, value)}
    if isinstance(doc, list) and doc:
        i = step % len(doc)
        return [*doc[:i], _mutate(doc[i], rest, value), *doc[i + 1:]]
    return value


@pytest.mark.fuzz
@SETTINGS
@given(st.sampled_from(FORMATS), st.sampled_from(JSON_FIXTURES), st.lists(st.integers(0, 50), max_size=3), json_values)
def test_documented_events_with_one_field_replaced(fmt: AnprFormat, doc: Any, path: list[int], value: Any) -> None:
    try:
        check(parse_document(fmt, "cam", 1.0, _mutate(doc, path, value)))
    except AnprEventError:
        pass


@pytest.mark.fuzz
@SETTINGS
@given(st.sampled_from(XML_FIXTURES), st.integers(0, 2000), st.integers(0, 40), st.binary(max_size=20),
       st.sampled_from(["xml", "multipart", "multipart cut short"]))
def test_hikvision_xml_and_multipart_cut_and_spliced(xml: bytes, at: int, cut: int, splice: bytes, form: str) -> None:
    at %= len(xml) + 1
    body = xml[:at] + splice + xml[at + cut:]
    if form == "xml":
        run(FORMATS[1], body, "application/xml")
        return
    body, content_type = hikvision_multipart(body)
    run(FORMATS[1], body if form == "multipart" else body[:at], content_type)
