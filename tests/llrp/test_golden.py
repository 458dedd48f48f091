"""Real reader captures (EdgeX device-rfid-llrp-go testdata, Apache-2.0) decode to their JSON twins
and re-encode byte-exactly; whole messages survive any TCP segmentation."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from drivers.llrp import LLRPFramer, Message, decode_body
from drivers.llrp.constants import MessageType
from drivers.llrp.params import Param
from drivers.llrp.reports import tag_reports

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llrp"
CAPTURES = sorted(p.stem for p in FIXTURES.glob("*.bytes"))

TYPE_OF_CAPTURE = {
    "CloseConnectionResponse": MessageType.CLOSE_CONNECTION_RESPONSE,
    "GetAccessSpecsResponse": MessageType.GET_ACCESSSPECS_RESPONSE,
    "GetROSpecsResponse": MessageType.GET_ROSPECS_RESPONSE,
    "GetReaderCapabilitiesResponse": MessageType.GET_READER_CAPABILITIES_RESPONSE,
    "GetReaderConfigResponse": MessageType.GET_READER_CONFIG_RESPONSE,
    "ROAccessReport": MessageType.RO_ACCESS_REPORT,
    "ReaderEventNotification": MessageType.READER_EVENT_NOTIFICATION,
}

# The twins use the EdgeX Go struct names; where they differ from the standard's parameter names:
JSON_KEY_TO_PARAM = {
    "ReceiveSensitivities": "ReceiveSensitivityTableEntry",
    "PerAntennaReceiveSensitivityRanges": "PerAntennaReceiveSensitivityRange",
    "PerAntennaAirProtocols": "PerAntennaAirProtocol",
    "TransmitPowerLevels": "TransmitPowerLevelTableEntry",
    "FrequencyHopTables": "FrequencyHopTable",
    "C1G2RFModes": "UHFC1G2RFModeTable",
    "UHFC1G2RFModeTableEntries": "UHFC1G2RFModeTableEntry",
    "AntennaConfigurations": "AntennaConfiguration",
    "EventNotificationStates": "EventNotificationState",
    "GPIPortCurrentStates": "GPIPortCurrentState",
    "KeepAliveSpec": "KeepaliveSpec",
    "RFControl": "C1G2RFControl",
    "SingulationControl": "C1G2SingulationControl",
    "InvAwareAction": "C1G2TagInventoryStateAwareSingulationAction",
    "Filters": "C1G2Filter",
    "EPC96": "EPC-96",
    "FirstSeenUTC": "FirstSeenTimestampUTC",
    "FirstSeenUptime": "FirstSeenTimestampUptime",
    "LastSeenUTC": "LastSeenTimestampUTC",
    "LastSeenUptime": "LastSeenTimestampUptime",
    "AccessSpecs": "AccessSpec",
    "ROSpecs": "ROSpec",
}


def _capture(stem: str) -> tuple[int, bytes, dict[str, Any]]:
    kind = stem.rsplit("-", 1)[0]
    body = (FIXTURES / f"{stem}.bytes").read_bytes()
    twin = json.loads((FIXTURES / f"{stem}.json").read_text())
    return int(TYPE_OF_CAPTURE[kind]), body, twin


def _is_zero(v: Any) -> bool:
    return v is None or v == 0 or v is False or v == "" or v == [] or (isinstance(v, dict) and all(
        _is_zero(x) for x in v.values()))


def _same_scalar(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bytes):
        return bool(base64.b64encode(ours).decode() == theirs)
    if isinstance(ours, tuple):
        return bool(list(ours) == theirs)
    return bool(ours == theirs)


def _compare(node: Param | Message, twin: dict[str, Any], path: str) -> None:
    """Every non-null value in the twin is found in our decode, under the same (or mapped) name."""
    for key, want in twin.items():
        here = f"{path}/{key}"
        if key in node.fields:
            assert _same_scalar(node.fields[key], want), f"{here}: ours {node.fields[key]!r} != {want!r}"
            continue
        pname = JSON_KEY_TO_PARAM.get(key, key)
        subs = [p for p in node.params if p.name == pname]
        if want is None or (not subs and _is_zero(want)):
            assert not subs, f"{here}: twin says absent, we decoded {len(subs)}"
            continue
        assert subs, f"{here}: twin has {want!r}, we decoded no {pname}"
        if isinstance(want, list):
            assert len(subs) == len(want), f"{here}: {len(subs)} != {len(want)}"
            for i, (p, w) in enumerate(zip(subs, want, strict=True)):
                _compare_one(p, w, f"{here}[{i}]")
        else:
            assert len(subs) == 1, f"{here}: expected one {pname}, got {len(subs)}"
            _compare_one(subs[0], want, here)


def _compare_one(p: Param, want: Any, here: str) -> None:
    if isinstance(want, dict):
        _compare(p, want, here)
    else:  # the twin flattens single-field parameters (AccessReportSpec: 1, AntennaID: 1 ...)
        assert len(p.fields) == 1, f"{here}: {p.name} has {len(p.fields)} fields"
        value = next(iter(p.fields.values()))
        assert _same_scalar(value, want), f"{here}: ours {value!r} != {want!r}"


@pytest.mark.parametrize("stem", CAPTURES)
def test_capture_decodes_to_its_twin(stem: str) -> None:
    msg_type, body, twin = _capture(stem)
    msg = decode_body(msg_type, body)
    assert msg.error is None
    _compare(msg, twin, stem)


@pytest.mark.parametrize("stem", CAPTURES)
def test_capture_reencodes_byte_exactly(stem: str) -> None:
    msg_type, body, _ = _capture(stem)
    msg = decode_body(msg_type, body, msg_id=1234)
    assert msg.body() == body
    wire = msg.encode()
    assert wire[10:] == body and len(wire) == 10 + len(body)


def test_capture_values_spot_checks() -> None:
    _, body, _ = _capture("GetReaderCapabilitiesResponse-000")
    caps = decode_body(MessageType.GET_READER_CAPABILITIES_RESPONSE, body)
    gdc = caps.first("GeneralDeviceCapabilities")
    assert gdc is not None and gdc.fields["FirmwareVersion"] == "5.14.0.240"
    assert gdc.fields["DeviceManufacturer"] == 25882  # Impinj's IANA PEN
    reg = caps.first("RegulatoryCapabilities")
    assert reg is not None
    powers = [p.fields["TransmitPowerValue"] for p in reg.params[0].all("TransmitPowerLevelTableEntry")]
    assert powers[0] == 1000 and powers[-1] == 3000 and len(powers) == 81

    _, body, _ = _capture("ROAccessReport-003")
    [report] = tag_reports(decode_body(MessageType.RO_ACCESS_REPORT, body))
    assert report.epc_hex == "301430a55c0ac30000000009"
    assert (report.antenna, report.peak_rssi, report.first_seen_utc) == (1, -54, 1594174805147920)

    _, body, _ = _capture("ReaderEventNotification-000")
    event = decode_body(MessageType.READER_EVENT_NOTIFICATION, body).params[0]
    assert event.first("ConnectionCloseEvent") is not None
    assert event.value("UTCTimestamp") == 1596721689842138


def _stream() -> tuple[bytes, list[Message]]:
    msgs = []
    for i, stem in enumerate(CAPTURES):
        msg_type, body, _ = _capture(stem)
        msgs.append(decode_body(msg_type, body, msg_id=1000 + i, version=1 + i % 2))
    return b"".join(m.encode() for m in msgs), msgs


@pytest.mark.parametrize("seed", range(25))
def test_random_segmentation_gives_the_same_messages(seed: int) -> None:
    wire, expected = _stream()
    rng = random.Random(seed)
    framer = LLRPFramer(strict=True)
    got: list[Message] = []
    pos = 0
    while pos < len(wire):
        step = rng.choice((1, 2, 3, 9, 10, 11, rng.randint(1, 400)))
        got += framer.feed(wire[pos:pos + step])
        pos += step
    assert got == expected
    assert framer.buffered == 0


def test_one_byte_at_a_time_and_all_at_once() -> None:
    wire, expected = _stream()
    framer = LLRPFramer()
    assert [m for b in wire for m in framer.feed(bytes((b,)))] == expected
    assert LLRPFramer().feed(wire) == expected


def test_fast_report_decoder_matches_on_captures() -> None:
    from drivers.llrp.reports import decode_tag_reports

    for stem in CAPTURES:
        if stem.startswith("ROAccessReport"):
            _, body, _ = _capture(stem)
            assert decode_tag_reports(body) == tag_reports(decode_body(MessageType.RO_ACCESS_REPORT, body))
