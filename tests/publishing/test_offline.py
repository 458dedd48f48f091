"""Publishing without a broker: the messages a Publisher stores, their topics, projections and schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from gateway.publishing import payloads as p
from gateway.publishing.contract import SCHEMA_DIR, generate
from gateway.publishing.outbox import OutboxMessage
from gateway.publishing.projections import CLASSIFICATION, OPAQUE, UnclassifiedField, project
from gateway.publishing.topics import Topics
from tests.publishing.support import EORI, MRN, PERSON, RESULT, SSCC, make_publisher, passage
from tests.publishing.test_epcis import assert_valid


def _stored(tmp_path: Path) -> list[OutboxMessage]:
    pub = make_publisher(tmp_path)
    from gateway.lane.passage import PassageEvent

    pub.publish_passage_event(PassageEvent("new", passage(), 1_740_824_090.0))
    pub.publish_enriched(passage(), RESULT)
    pub.publish_lane_state("L1", "closed", "maintenance")
    rows = pub.outbox.pending(after=0, limit=100)
    pub.outbox.close()
    return rows


def _by_schema(rows: list[OutboxMessage]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        schema = dict(row.props.get("user", []))["schema"]  # type: ignore[arg-type]
        out.setdefault(str(schema), []).append(json.loads(row.payload))
    return out


def test_committed_contract_matches_the_code() -> None:
    generated = generate()
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}
    assert sorted(committed) == sorted(generated), "run tools/gen_contract.py"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run tools/gen_contract.py and commit the schemas"


def test_every_published_payload_validates_against_its_committed_schema(tmp_path: Path) -> None:
    rows = _stored(tmp_path)
    registry: Registry = Registry().with_resources(  # type: ignore[type-arg]
        (path.name, Resource.from_contents(json.loads(path.read_text()))) for path in SCHEMA_DIR.glob("*.v1.json"))
    from gateway.publishing.cloudevents import SCHEMA_FILES

    seen = _by_schema(rows)
    assert {"bx.observation.v1", "bx.enriched.v1", "bx.referral.sps.v1", "bx.referral.cites.v1",
            "bx.ops.decision.v1", "bx.flag.v1", "bx.passage.v1", "bx.lane-state.v1"} <= set(seen)
    for schema_id, payloads in seen.items():
        schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[schema_id]).read_text())
        validator = Draft202012Validator(schema, registry=registry)
        for payload in payloads:
            errors = [e.message for e in validator.iter_errors(payload)]
            assert not errors, (schema_id, errors[:3])
    # Projections are closed: a customs-only field in an SPS payload fails its schema.
    sps_schema = json.loads((SCHEMA_DIR / SCHEMA_FILES["bx.referral.sps.v1"]).read_text())
    leaky = json.loads(json.dumps(seen["bx.referral.sps.v1"][0]))
    leaky["data"]["products"][0]["value"] = 1.0
    assert list(Draft202012Validator(sps_schema).iter_errors(leaky))


def test_observation_carries_valid_epcis_and_ids_join_up(tmp_path: Path) -> None:
    seen = _by_schema(_stored(tmp_path))
    obs = seen["bx.observation.v1"][0]
    document = obs["data"]["observation"]["epcis"]
    assert_valid(document)
    event_hash = obs["data"]["observation"]["eventHash"]
    assert obs["id"] == event_hash == document["epcisBody"]["eventList"][0]["eventID"]
    assert obs["source"] == "https://id.gs1.org/414/4012345000009/254/L1"
    assert obs["subject"] == f"mrn:{MRN}" and obs["specversion"] == "1.0"
    assert obs["time"] == document["epcisBody"]["eventList"][0]["eventTime"]
    assert obs["dataschema"].endswith("observation.v1.json")
    transactions = document["epcisBody"]["eventList"][0]["bizTransactionList"]
    assert {"type": "https://example.org/bx/voc/BTT-entrySummaryDeclaration",
            "bizTransaction": f"urn:bx:mrn:{MRN}"} in transactions
    enriched = seen["bx.enriched.v1"][0]
    assert enriched["id"] == f"{event_hash}#customs/r1"
    assert enriched["data"]["observation"]["eventHash"] == event_hash
    assert seen["bx.referral.sps.v1"][0]["id"] == f"{event_hash}#sps/r1"


def test_re_enrichment_gets_a_new_revision_of_the_same_hash(tmp_path: Path) -> None:
    pub = make_publisher(tmp_path)
    first = pub.publish_enriched(passage(), RESULT)
    second = pub.publish_enriched(passage(), RESULT)
    assert first is not None and second is not None
    assert first.endswith("#customs/r1") and second.endswith("#customs/r2")
    assert first.split("#")[0] == second.split("#")[0]
    observations = [m for m in pub.outbox.pending(0, 100) if "/observation/" in m.topic]
    assert len(observations) == 1  # the physical observation is published once
    pub.outbox.close()
    # Revisions survive a restart of the gateway.
    again = make_publisher(tmp_path)
    third = again.publish_enriched(passage(), RESULT)
    assert third is not None and third.endswith("#customs/r3")
    again.outbox.close()


def test_projections_minimise(tmp_path: Path) -> None:
    seen = _by_schema(_stored(tmp_path))
    customs = seen["bx.enriched.v1"][0]["data"]
    assert customs["products"][0]["value"] == 15400.0 and customs["flags"][0]["rule"] == "R-SPS-02@3"
    assert customs["parties"][0]["name"] == PERSON
    for schema_id in ("bx.referral.sps.v1", "bx.referral.cites.v1"):
        data = seen[schema_id][0]["data"]
        text = json.dumps(data)
        assert data["audience"] == schema_id.split(".")[2]
        assert "flags" not in data and "value" not in text and "15400" not in text and "R-SPS" not in text
        assert "confidence" not in text and "via" not in data["links"][0] and "epcis" not in data["observation"]
        assert PERSON not in text and EORI not in text  # natural person masked
        assert data["parties"][0] == {"role": "consignee", "naturalPerson": True}
        assert data["parties"][1]["name"] == "Frigorifico SA"  # legal person kept
        assert data["products"][0]["hs6Declared"] == "020230" and data["products"][0]["grossMassKg"] == 1205.0
        assert data["links"][0]["key"].endswith(SSCC) and data["links"][0]["seals"] == ["SEAL123"]
        assert data["links"][0]["documents"][0]["type"] == "N853"
    ops = seen["bx.ops.decision.v1"][0]["data"]
    assert ops["decision"] == "go_to_bay"
    assert set(ops) <= {"audience", "revision", "observation", "passage", "decision", "provenance"}
    assert MRN not in json.dumps(ops) and "links" not in ops


def _field_paths(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> list[str]:
    """The field paths of a serialisation schema, as the wire spells them (list items share their list's path):
    what is published.  The enrichment's own fields (exclude=True) are never serialised, so not in it."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    paths = []
    for sub in [*schema.get("anyOf", []), *([schema["items"]] if "items" in schema else [])]:
        paths += _field_paths(sub, defs, prefix)
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths.append(path)
        if path not in OPAQUE:
            paths += _field_paths(sub, defs, path)
    return paths


def test_every_field_of_the_enriched_record_is_classified() -> None:
    from gateway.publishing.contract import _schema

    schema = _schema(p.EnrichedData)
    paths = set(_field_paths(schema, schema.get("$defs", {})))
    missing = sorted(paths - set(CLASSIFICATION))
    assert not missing, f"classify these fields in projections.CLASSIFICATION: {missing}"
    stale = sorted(set(CLASSIFICATION) - paths)
    assert not stale, f"classified fields that no longer exist: {stale}"


def test_unknown_field_fails_rather_than_leaks() -> None:
    from gateway.publishing import projections

    record = p.EnrichedData(observation=p.Observation(event_hash="h"),
                            passage=p.PassageSummary(id="x", lane="L1", direction="inbound", state="closed",
                                                     opened_at="2025-01-01T00:00:00.000Z"),
                            provenance=p.Provenance(gateway_id="g", software="0"))
    saved = projections.CLASSIFICATION.pop("provenance.software")
    try:
        with pytest.raises(UnclassifiedField, match=r"provenance\.software"):
            project(record, "sps")
    finally:
        projections.CLASSIFICATION["provenance.software"] = saved


def test_topics_never_carry_identifiers(tmp_path: Path) -> None:
    rows = _stored(tmp_path)
    for row in rows:
        for secret in (MRN, SSCC, EORI, PERSON, "Jane", "p-1"):
            assert secret not in row.topic
        assert not (row.retain and "/ops/" not in row.topic), "only ops state is retained"
        if row.retain:
            assert row.topic.endswith("/state")


@pytest.mark.parametrize("bad", ["", "a/b", "a+", "#", "a b", "-x"])
def test_topic_segments_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        Topics(site=bad, gateway="gw")
    with pytest.raises(ValueError):
        Topics(site="s", gateway="gw").lane_state(bad)
    if "/" not in bad:  # a base may have several segments, each validated
        with pytest.raises(ValueError):
            Topics(site="s", gateway="gw", base=f"bx/{bad}" if bad else "bx//v1")


def test_topics_tree() -> None:
    t = Topics("s1", "gw-1", base="acme/bx/v2")
    assert t.status == "acme/bx/v2/ops/s1/gw-1/status"
    assert t.capabilities == "acme/bx/v2/ops/s1/gw-1/capabilities"
    assert t.passage("L1") == "acme/bx/v2/ops/s1/gw-1/lane/L1/passage"
    assert t.observation("L1") == "acme/bx/v2/customs/s1/gw-1/observation/L1"
    assert t.referral("cites", "L1") == "acme/bx/v2/cites/s1/gw-1/referral/L1"
    assert t.command("ping") == "acme/bx/v2/cmd/s1/gw-1/ping"
    with pytest.raises(ValueError):
        t.flag("urgent")
    with pytest.raises(ValueError):
        t.referral("customs", "L1")


def test_real_enrichment_result_is_published(tmp_path: Path) -> None:
    from gateway.enrichment import result as er

    result = er.EnrichmentResult(
        passage_id="p-1", lane="L1",
        links=[er.Link(mrn=MRN, key=SSCC, key_type="sscc", via="declared-sscc-list", confidence=1.0)],
        flags=[er.Flag(code="SPS_DOC_MISSING", severity="low", rule=er.RuleRef(id="R-SPS-02", version="3"),
                       evidence={})],
        parties=[er.Party(role="consignee", natural_person=True, name=PERSON, address="Street 1")],
        routing=[er.Routing(agency="VET", basis="HS chapter 02", expected_docs=["N853"], present=False)],
        rules_version="2025.03")
    pub = make_publisher(tmp_path)
    assert pub.publish_enriched(passage(), result) is not None
    seen = _by_schema(pub.outbox.pending(0, 100))
    flag = seen["bx.flag.v1"][0]["data"]["flag"]
    assert flag == {"code": "SPS_DOC_MISSING", "severity": "low", "rule": "R-SPS-02@3", "evidence": {}}
    assert "Street 1" not in json.dumps(seen["bx.enriched.v1"])  # the address is the enrichment's: never published
    assert PERSON not in json.dumps(seen["bx.referral.sps.v1"])
    pub.outbox.close()
