"""End to end: four trucks through two lanes, from simulated readers to the agencies' MQTT subscribers.

One run (module fixture, about 45 s) of the real service: ``border-gateway run --config site.yaml``
as a child process with an LLRP reader simulator on TCP (antennas 1-2 lane 1, 3-4 lane 2), a
Mercury module on a pty (lane 2), the camera simulator playing labels at lane 1, a Mosquitto of
the test's own, and the demo's declarations, products and parties.  The scenario
(``tests/fixtures/e2e/four-trucks.yaml``) plants a cross-read of every truck on the other lane's
entry antenna and the flags of ``config/demo-data/README.md``.

Two MQTT 5 subscribers with persistent sessions play the consumers: the pre-clearance system
(``bx/v1/#``: customs and ops topics) and an SPS agency (``bx/v1/sps/#`` only).  The tests below
each check one promise on what they received; what is counted is in each docstring.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from gateway.publishing.cloudevents import SCHEMA_FILES, flag_id, projection_id
from gateway.publishing.contract import SCHEMA_DIR
from gateway.publishing.event_hash import event_hash
from gateway.publishing.projections import CLASSIFICATION, OPAQUE
from gateway.service.broker import MosquittoBroker, free_port
from simulators.scenario import load_scenario
from tests.e2e.harness import (
    CAMERA,
    DEMO_DATA,
    FIXTURES,
    GATEWAY,
    LLRP,
    MERCURY,
    SITE,
    GatewayProcess,
    Msg,
    Site,
    SourceWatch,
    consumer,
    decode,
    kind,
    load_demo_data,
    site_config,
    wait_until,
)
from tests.publishing.test_epcis import assert_valid, reference_hash

# The hash oracle (test-only, third party) loads its bundled contexts with a deprecated call.
pytestmark = pytest.mark.filterwarnings(
    "ignore:open_text is deprecated:DeprecationWarning:epcis_event_hash_generator")

GS1 = "https://id.gs1.org/"


@dataclass(frozen=True)
class Expected:
    """What the pre-clearance system must receive for one truck (config/demo-data/README.md)."""

    truck: int
    lane: str
    identifiers: frozenset[str]  # EPCIS epcList + quantityList classes of the ObjectEvent
    mrns: frozenset[str]
    flags: frozenset[str]
    sps: bool  # routed to an SPS agency (PHYTO, VET)


EXPECTED = (
    Expected(1, "lane1", frozenset({GS1 + "00/340123450000001014", GS1 + "00/340123450000001021",
                                    GS1 + "01/04012345000016/21/9001"}),  # the camera's DataMatrix
             frozenset({"25DE0040560000001A"}), frozenset(), sps=True),
    Expected(2, "lane2", frozenset({GS1 + "00/340123450000002011", GS1 + "00/340123450000002028",
                                    GS1 + "01/04012345000023/21/1001"}),  # SGTIN+ with batch and expiry
             frozenset({"25DE0040560000002A"}), frozenset({"EXPIRED", "SPS_DOC_MISSING"}), sps=True),
    Expected(3, "lane1", frozenset({GS1 + "00/340123450000003018", GS1 + "00/340123450000003025",
                                    GS1 + "01/04012345000047/10/B47"}),  # camera only, a class (no serial)
             frozenset({"25DE0040560000003A"}), frozenset({"COUNT_MISMATCH", "HS_MISMATCH", "SSCC_NOT_DECLARED"}),
             sps=False),
    Expected(4, "lane2", frozenset({GS1 + "00/340123450000004015"}), frozenset(),
             frozenset({"NO_DECLARATION", "SSCC_NOT_DECLARED"}), sps=False),
)
LAST_TRUCK_START = 35.0  # seconds, from the scenario file


@dataclass
class Run:
    site: Site
    gateway: GatewayProcess
    everything: list[Msg]  # the pre-clearance system's subscription, bx/v1/#
    sps: list[Msg]  # the SPS agency's subscription, bx/v1/sps/#
    sources: dict[str, dict[str, Any]]
    exit_code: int | None

    def of(self, kind_: str) -> list[Msg]:
        return [m for m in self.everything if kind(m.topic) == kind_]

    def enriched_for(self, expected: Expected) -> Msg:
        found = [m for m in self.of("customs/enriched") if _identifiers(m) & expected.identifiers]
        assert len(found) == 1, f"truck {expected.truck}: {len(found)} enriched messages share its identifiers"
        return found[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("e2e")
    broker = MosquittoBroker(workdir=tmp / "broker")
    broker.start()
    site = Site(load_scenario(FIXTURES / "four-trucks.yaml"), tmp / "site").start()
    gateway: GatewayProcess | None = None
    customs = sps = None
    try:
        load_demo_data(tmp / "data", eta=site.t0)
        customs = consumer(broker.host, broker.port, "bx/v1/#", "e2e-preclearance")
        sps = consumer(broker.host, broker.port, "bx/v1/sps/#", "e2e-sps-agency")
        gateway = GatewayProcess(site_config(site, mqtt_url=broker.url, storage=tmp / "data", api_port=free_port()),
                                 tmp / "gateway").start()
        gateway.wait_sources({LLRP: "connected", MERCURY: "connected", CAMERA: "connected"}, timeout=60)
        dashboard = SourceWatch(gateway).start()  # an open dashboard: its event stream stays open to the end
        assert site.now() < 12.0, f"the gateway needed {site.now():.0f} s to connect its sources: the first " \
                                  "truck (14 s) would arrive before the readers are read"
        site.sleep_until(LAST_TRUCK_START)
        received, referred = customs.messages, sps.messages
        wait_until("4 enriched records and 2 SPS referrals",
                   lambda: sum("/enriched/" in r.topic for r in received) >= 4 and len(referred) >= 2,
                   timeout=40, gateway=gateway)
        sources = gateway.sources()
        exit_code = gateway.stop()
        dashboard.stop()
        yield Run(site, gateway, decode(customs.messages), decode(sps.messages), sources, exit_code)
    finally:
        if gateway is not None:
            gateway.stop()
        for subscriber in (customs, sps):
            if subscriber is not None:
                subscriber.stop()
        site.stop()
        broker.stop()


def _events(m: Msg) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = m.data["observation"]["epcis"]["epcisBody"]["eventList"]
    return events


def _identifiers(m: Msg) -> frozenset[str]:
    obj = _events(m)[0]
    return frozenset(obj.get("epcList", [])) | {q["epcClass"] for q in obj.get("quantityList", [])}


def test_every_truck_gives_one_passage_with_exactly_its_identifiers(run: Run) -> None:
    """Counts: 4 enriched records and 4 observations (one per truck, no duplicates, none extra);
    each record's EPCIS identifiers equal its truck's tags and camera labels exactly, so no
    cross-read tag of the other lane got in; each passage has a ``new`` and an ``end`` event; the
    gateway stopped cleanly (exit 0, no error or traceback in its log) with a dashboard stream open."""
    enriched, observations = run.of("customs/enriched"), run.of("customs/observation")
    assert len({m.id for m in enriched}) == 4 and len(enriched) == 4, [m.id for m in enriched]
    assert len({m.id for m in observations}) == 4 and len(observations) == 4, [m.id for m in observations]
    passage_events = Counter((m.data["passage"]["id"], m.data.get("kind")) for m in run.of("ops/lane")
                             if m.user.get("schema") == "bx.passage.v1")
    for expected in EXPECTED:
        m = run.enriched_for(expected)
        assert _identifiers(m) == expected.identifiers, f"truck {expected.truck}: identifiers"
        assert m.data["passage"]["lane"] == expected.lane and m.topic.endswith("/" + expected.lane)
        other = {i for e in EXPECTED if e.lane != expected.lane for i in e.identifiers}
        assert not _identifiers(m) & other, f"truck {expected.truck}: a tag of the other lane in its passage"
        pid = m.data["passage"]["id"]
        assert passage_events[(pid, "new")] == 1 and passage_events[(pid, "end")] == 1, (pid, passage_events)
    assert sorted(run.sources) == sorted([LLRP, MERCURY, CAMERA])
    assert all(s["state"] == "connected" and s["restarts"] == 0 for s in run.sources.values()), run.sources
    assert run.sources[CAMERA]["reads"] > 0 and run.sources[MERCURY]["reads"] > 0
    assert run.exit_code == 0, run.gateway.log_tail()
    log = run.gateway.log_path.read_text(encoding="utf-8")
    assert "Traceback" not in log and " ERROR " not in log, run.gateway.log_tail()  # also at shutdown


def test_declaration_links_and_the_planted_flags_and_no_others(run: Run) -> None:
    """Counts: per truck, the linked MRNs (record ``links``, CloudEvents ``subject``, EPCIS MRN
    transaction) and the flag codes; 7 flags planted in all, each also published once on
    ``customs/flag/{severity}`` with its id, and no other flag message."""
    flag_messages = run.of("customs/flag")
    for expected in EXPECTED:
        m = run.enriched_for(expected)
        data = m.data
        assert {link["mrn"] for link in data["links"]} == expected.mrns, f"truck {expected.truck}: links"
        assert m.body.get("subject") == (f"mrn:{min(expected.mrns)}" if expected.mrns else None)
        transactions = {t["bizTransaction"] for e in _events(m) for t in e.get("bizTransactionList", [])}
        assert {t for t in transactions if t.startswith("urn:bx:mrn:")} == {f"urn:bx:mrn:{x}" for x in expected.mrns}
        assert {f["code"] for f in data["flags"]} == expected.flags, f"truck {expected.truck}: flags"
        assert len(data["flags"]) == len(expected.flags)
        event_hash_ = data["observation"]["eventHash"]
        mine = [f for f in flag_messages if f.data["eventHash"] == event_hash_]
        assert sorted(f.id for f in mine) == sorted(flag_id(event_hash_, code, 1) for code in expected.flags)
        assert all(f.topic.endswith("/" + f.data["flag"]["severity"]) for f in mine)
    assert len(flag_messages) == sum(len(e.flags) for e in EXPECTED) == 7


def test_every_epcis_event_is_schema_valid_and_its_id_is_the_recomputed_hash(run: Run) -> None:
    """Counts: every EPCIS document of the 4 observations and 4 enriched records is validated
    against the EPCIS 2.0 JSON Schema with a format checker, and every event in them (Object and
    Aggregation) has ``eventID`` = the CBV 2.0 hash recomputed by the independent
    ``epcis-event-hash-generator`` (and by ours); CloudEvents ids join up with that hash."""
    checked = 0
    for m in run.of("customs/observation") + run.of("customs/enriched"):
        assert_valid(m.data["observation"]["epcis"])
        for event in _events(m):
            assert event["eventID"] == reference_hash(event) == event_hash(event), event
            checked += 1
        first = _events(m)[0]["eventID"]
        assert m.data["observation"]["eventHash"] == first
        expected_id = first if "/observation/" in m.topic else projection_id(first, "customs", 1)
        assert m.id == expected_id
        assert m.body["source"] == f"{GS1}414/4012345000009/254/{m.data['passage']['lane']}"
    assert checked >= 8


def test_every_payload_validates_against_its_committed_schema(run: Run) -> None:
    """Counts: every message received on ``bx/v1/#`` (CloudEvents and retained states) against
    the JSON Schema its ``schema`` user property names (``gateway/publishing/schemas``)."""
    registry: Registry = Registry().with_resources(  # type: ignore[type-arg]
        (path.name, Resource.from_contents(json.loads(path.read_text()))) for path in SCHEMA_DIR.glob("*.v1.json"))
    validators = {sid: Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text()), registry=registry,
                                            format_checker=FormatChecker()) for sid, name in SCHEMA_FILES.items()}
    for m in run.everything + run.sps:
        schema = m.user.get("schema") or ("bx.status.v1" if m.topic.endswith("/status") else
                                          "bx.capabilities.v1" if m.topic.endswith("/capabilities") else "")
        assert schema in validators, (m.topic, m.user)
        errors = [f"{list(e.path)}: {e.message}" for e in validators[schema].iter_errors(m.body)]
        assert not errors, (m.topic, errors[:3])


def _paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            yield child
            if child not in OPAQUE:
                yield from _paths(item, child)
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item, path)


CUSTOMS_ONLY_WORDS = ("flags", "value", "currency", "via", "confidence", "epcis", "aeo", "rulesVersion",
                      "masterData", "decision", "closeReason", "triggers")


def test_the_sps_agency_sees_only_its_projection(run: Run) -> None:
    """Counts: the SPS subscriber gets exactly the 2 referrals (trucks 1 and 2, routed to PHYTO and
    VET), only on ``bx/v1/sps/...``; every field in them is one the classification table gives to
    ``sps``, no customs-only field name or flag code appears, and they link the same MRNs."""
    assert len(run.sps) == 2 and len({m.id for m in run.sps}) == 2, [m.topic for m in run.sps]
    for m in run.sps:
        assert m.topic.startswith(f"bx/v1/sps/{SITE}/{GATEWAY}/referral/"), m.topic
        data = m.data
        assert data["audience"] == "sps" and m.user.get("audience") == "sps"
        leaked = [p for p in _paths(data) if "sps" not in CLASSIFICATION.get(p, {})]
        assert not leaked, f"fields outside the SPS projection: {leaked}"
        keys = set(re.findall(r'"([A-Za-z]+)":', json.dumps(data)))
        assert not keys & set(CUSTOMS_ONLY_WORDS), keys & set(CUSTOMS_ONLY_WORDS)
        text = json.dumps(data)
        for code in ("EXPIRED", "SPS_DOC_MISSING", "NO_DECLARATION"):
            assert code not in text
    truck_of = {e.truck: e for e in EXPECTED}
    linked = sorted(link["mrn"] for m in run.sps for link in m.data["links"])
    assert set(linked) == set(truck_of[1].mrns | truck_of[2].mrns)
    customs_ids = {run.enriched_for(e).data["observation"]["eventHash"] for e in EXPECTED if e.sps}
    assert {m.id for m in run.sps} == {projection_id(h, "sps", 1) for h in customs_ids}


def _confidential() -> set[str]:
    """Every identifier, plate, name, EORI, GLN and MRN of the scenario and the demo data."""
    words: set[str] = set()
    scenario = load_scenario(FIXTURES / "four-trucks.yaml")
    for truck in scenario.trucks:
        words |= set(truck.epcs)
        for element_string in truck.element_strings:
            words |= set(re.findall(r"\(\d+\)([^(]+)", element_string))
    for e in EXPECTED:
        words |= set(e.mrns)
        words |= {i.rsplit("/", 1)[-1] for i in e.identifiers}
    for declaration in json.loads((DEMO_DATA / "declarations.json").read_text()):
        words.add(declaration["declarationRef"]["mrn"])
        words.add(declaration["activeTransport"]["id"])  # the plate
        words.add(declaration["activeTransport"]["id"].replace(" ", ""))
    for party in json.loads((DEMO_DATA / "parties.json").read_text()):
        words.add(party["name"])
        words |= set(party["ids"].values())
    for product in json.loads((DEMO_DATA / "products.json").read_text()):
        words |= {str(v) for k, v in product.items() if k in ("gtin", "gtin14")}
    return {w for w in words if len(w) >= 4}


def test_no_identifier_plate_name_eori_or_mrn_in_any_topic(run: Run) -> None:
    """Counts: every topic the pre-clearance system and the SPS agency received (status,
    capabilities, lane state, passages, observations, records, flags, referrals) against every
    SSCC, GTIN, serial, EPC hex, plate, party name, EORI, GLN and MRN of the run."""
    words = _confidential()
    assert len(words) > 30
    topics = {m.topic for m in run.everything + run.sps}
    assert len(topics) >= 10, topics
    for topic in topics:
        assert topic.split("/")[:2] == ["bx", "v1"]
        hits = [w for w in words if w.lower() in topic.lower()]
        assert not hits, f"{topic} carries {hits}"
    counts = Counter(kind(t) for t in topics)
    assert counts["customs/enriched"] == 2 and counts["sps/referral"] == 2, counts  # one topic per lane


def test_data_files_are_what_the_expectations_assume() -> None:
    """The expectations above restate config/demo-data/README.md; fail early if the data moved."""
    readme = (DEMO_DATA / "README.md").read_text(encoding="utf-8")
    for e in EXPECTED:
        for mrn in e.mrns:
            assert mrn in readme
        for flag in e.flags:
            assert flag in readme
    assert Path(FIXTURES / "four-trucks.yaml").exists()
