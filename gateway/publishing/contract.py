"""The machine-readable contract: JSON Schemas for every payload and an AsyncAPI 3.0 document.

Generated from the pydantic models (:mod:`payloads`) and the classification table
(:mod:`projections`): the agency and ops projections get schemas of their own that contain
only the fields those audiences receive.  ``tools/gen_contract.py`` writes them to
``gateway/publishing/schemas/``; ``tests/publishing/test_contract.py`` fails when the committed
files differ from what the code generates.

>>> files = generate()
>>> sorted(files)[:3]
['asyncapi.json', 'capabilities.v1.json', 'command-response.v1.json']
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from gateway.enrichment import result as vocabulary
from gateway.enrichment import schemas as intake_schemas
from gateway.enrichment.mqtt_intake import KINDS as INTAKE_KINDS
from gateway.enrichment.mqtt_intake import IntakeAnswer
from gateway.publishing import payloads as p
from gateway.publishing.cloudevents import CONTENT_TYPE, SCHEMA_FILES
from gateway.publishing.projections import CLASSIFICATION

SCHEMA_DIR = Path(__file__).parent / "schemas"
EPCIS_SCHEMA = "https://gs1.github.io/EPCIS/JSON-Schema/EPCIS-JSON-Schema.json"


class _WireSchema(GenerateJsonSchema):
    """Serialisation schemas, as the wire spells the fields.  The enrichment's classes are published as
    they are (:mod:`gateway.enrichment.result`): the contract carries their fields' descriptions, but not
    their class docstrings, which are written for the enrichment's readers."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        if schema["cls"].__module__ == vocabulary.__name__:
            json_schema.pop("description", None)
        return json_schema


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, mode="serialization", schema_generator=_WireSchema)


def _envelope(schema_id: str, data: dict[str, Any]) -> dict[str, Any]:
    env = _schema(p.CloudEvent[p.Payload])
    defs = {**env.pop("$defs", {}), **data.pop("$defs", {})}
    env["properties"]["data"] = data
    env["title"] = schema_id
    env["$defs"] = defs
    return env


def _filter(schema: dict[str, Any], defs: dict[str, Any], audience: str, path: str = "") -> dict[str, Any]:
    """Keep only the properties ``audience`` receives (refs inlined so each projection stands alone)."""
    if "$ref" in schema:
        schema = copy.deepcopy(defs[schema["$ref"].rsplit("/", 1)[-1]])
    schema = copy.deepcopy(schema)
    for key in ("anyOf", "allOf", "oneOf"):
        if key in schema:
            schema[key] = [_filter(s, defs, audience, path) for s in schema[key]]
    if schema.get("type") == "array" and "items" in schema:
        schema["items"] = _filter(schema["items"], defs, audience, path)
    if "properties" in schema:
        kept = {}
        for name, sub in schema["properties"].items():
            child = f"{path}.{name}" if path else name
            if audience in CLASSIFICATION.get(child, {}):
                kept[name] = _filter(sub, defs, audience, child) if child not in ("observation.epcis",) else sub
        schema["properties"] = kept
        schema["required"] = [r for r in schema.get("required", []) if r in kept]
        if not schema["required"]:
            schema.pop("required")
    return schema


def _projection(audience: str) -> dict[str, Any]:
    full = _schema(p.EnrichedData)
    defs = full.pop("$defs", {})
    data = _filter(full, defs, audience)
    data["title"] = f"EnrichedData ({audience} projection)"
    return data


PAYLOADS: dict[str, tuple[str, Any]] = {
    # schema id -> (kind, model or projection audience)
    "bx.observation.v1": ("event", p.ObservationData),
    "bx.enriched.v1": ("event", p.EnrichedData),
    "bx.referral.sps.v1": ("event", "sps"),
    "bx.referral.cites.v1": ("event", "cites"),
    "bx.ops.decision.v1": ("event", "ops"),
    "bx.flag.v1": ("event", p.FlagData),
    "bx.passage.v1": ("event", p.PassageLifecycle),
    "bx.status.v1": ("state", p.Status),
    "bx.capabilities.v1": ("state", p.Capabilities),
    "bx.lane-state.v1": ("state", p.LaneState),
    "bx.command-response.v1": ("state", p.CommandResponse),
}


def payload_schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for schema_id, (kind, source) in PAYLOADS.items():
        data = _projection(source) if isinstance(source, str) else _schema(source)
        schema = _envelope(schema_id, data) if kind == "event" else {**data, "title": schema_id}
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = SCHEMA_FILES[schema_id]
        _mark_epcis(schema)
        out[SCHEMA_FILES[schema_id]] = schema
    return out


def _mark_epcis(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "epcis" and isinstance(value, dict):
                value["description"] = (value.get("description", "") + f" Validates against {EPCIS_SCHEMA}").strip()
            else:
                _mark_epcis(value)
    elif isinstance(node, list):
        for item in node:
            _mark_epcis(item)


# channel id -> (address, schema id(s), direction, retain, expiry class, description)
CHANNELS: dict[str, tuple[str, list[str], str, bool, str]] = {
    "status": ("{base}/ops/{site}/{gw}/status", ["bx.status.v1"], "send", True,
               "Birth (online) after every CONNACK, Last Will (offline, reason lwt), offline on graceful stop; "
               "re-published when a reader or camera changes state (sources, reason source) or the outbox "
               "had to drop or refuse messages (outbox, reason degraded)."),
    "capabilities": ("{base}/ops/{site}/{gw}/capabilities", ["bx.capabilities.v1"], "send", True,
                     "Lanes, read points, schema ids and the AsyncAPI URL."),
    "laneState": ("{base}/ops/{site}/{gw}/lane/{lane}/state", ["bx.lane-state.v1"], "send", True,
                  "Lane open/closed/fault, occupancy, current passage, decision. MQTT 5 message expiry."),
    "passage": ("{base}/ops/{site}/{gw}/lane/{lane}/passage", ["bx.passage.v1", "bx.ops.decision.v1"], "send",
                False, "Passage lifecycle new/update/end, then the ops decision (proceed / go to bay)."),
    "observation": ("{base}/customs/{site}/{gw}/observation/{lane}", ["bx.observation.v1"], "send", False,
                    "EPCIS 2.0 core event(s) of a closed passage; CloudEvents id = CBV 2.0 event hash."),
    "enriched": ("{base}/customs/{site}/{gw}/enriched/{lane}", ["bx.enriched.v1"], "send", False,
                 "The full enriched record (customs audience)."),
    "flag": ("{base}/customs/{site}/{gw}/flag/{severity}", ["bx.flag.v1"], "send", False,
             "One message per flag, for alerting."),
    "spsReferral": ("{base}/sps/{site}/{gw}/referral/{lane}", ["bx.referral.sps.v1"], "send", False,
                    "Minimised SPS projection: no values, no rule logic, natural persons masked."),
    "citesReferral": ("{base}/cites/{site}/{gw}/referral/{lane}", ["bx.referral.cites.v1"], "send", False,
                      "Minimised CITES projection."),
    "command": ("{base}/cmd/{site}/{gw}/{command}", [], "receive", False,
                "Requests (JSON object). MQTT 5: Response Topic + Correlation Data; 3.1.1: responseTopic and "
                "correlationId fields. The reply (bx.command-response.v1) goes to the response topic, which "
                "must lie under bx/v1/cmd/{site}/{gw}/reply/ (channel commandReply); a request naming any other "
                "topic, or none, gets no reply. A payload that is not a JSON object (nested deeper than 64 "
                "levels, not UTF-8) or a correlationId that is not a string gets an error reply."),
    "commandReply": ("{base}/cmd/{site}/{gw}/reply/{reply}", ["bx.command-response.v1"], "send", False,
                     "Replies to commands, on the request's response topic: only under this prefix, never on "
                     "another topic a request names. On a broker with ACLs, grant read here to every client "
                     "that may write the command topics (pattern in docs/mqtt-topics.md)."),
}
_PARAMETERS = {"reply": "one or more topic levels the requester chooses (its response topic under the prefix)"}


# The intake (gateway.enrichment.mqtt_intake, switched on by enrichment.intake_mqtt): what the
# pre-clearance system publishes to the gateway, and the gateway's answers.  The record schemas are the
# enrichment models' own (gateway/enrichment/schemas/), written next to this document as well so that
# the contract folder stands alone.
INTAKE_FILES = {"declarations": "declaration.v1.json", "products": "product.v1.json", "parties": "party.v1.json",
                "movements": "movement.v1.json"}
TRIGGER_FILE = "lane-trigger.v1.json"
INTAKE_ANSWER_FILE = "intake-answer.v1.json"
_INTAKE_SWITCH = "Subscribed only when enrichment.intake_mqtt is true (persistent session, QoS 1)."


def lane_trigger_schema() -> dict[str, Any]:
    from gateway.lane.external import TriggerMessage

    schema = TriggerMessage.model_json_schema(mode="validation")
    return {**schema, "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": TRIGGER_FILE,
            "title": "bx.lane-trigger.v1"}


def intake_answer_schema() -> dict[str, Any]:
    schema = IntakeAnswer.model_json_schema(by_alias=True, mode="serialization")
    return {**schema, "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": INTAKE_ANSWER_FILE,
            "title": "bx.intake-answer.v1"}


def _add_intake(channels: dict[str, Any], operations: dict[str, Any], messages: dict[str, Any]) -> None:
    reply = {"bindingVersion": "0.2.0", "correlationData": {"type": "string"}, "responseTopic": {"type": "string"}}
    params = {"site": {"description": "configured site id"}, "gw": {"description": "configured gw id"}}
    for kind in INTAKE_KINDS:
        ref = {"$ref": f"./{INTAKE_FILES[kind]}"}
        name = f"intake-{kind}"
        messages[name] = {"name": f"bx.intake.{kind}", "contentType": "application/json",
                          "payload": {"oneOf": [ref, {"type": "array", "items": ref}]},
                          "bindings": {"mqtt": reply}}
        cid = f"intake{kind.capitalize()}"
        channels[cid] = {
            "address": f"bx/v1/in/{{site}}/{{gw}}/{kind}",
            "description": f"{kind.capitalize()} from the pre-clearance system: one object or a list (bulk). "
                           "Each record is validated and stored on its own; the answer (bx.intake-answer.v1) "
                           "goes to the intake error topic when a record or the payload is refused, and to "
                           "the MQTT 5 Response Topic (with its Correlation Data) in every case when it lies "
                           "under bx/v1/in/{site}/{gw}/reply/ (channel intakeReply; any other Response Topic is "
                           f"named on the error topic instead, path (responseTopic)). {_INTAKE_SWITCH}",
            "parameters": params,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"receive{cid[0].upper()}{cid[1:]}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{cid}"},
            "bindings": {"mqtt": {"bindingVersion": "0.2.0", "qos": 1, "retain": False}}}
    messages["lane-trigger"] = {"name": "bx.lane-trigger.v1", "contentType": "application/json",
                                "payload": {"$ref": f"./{TRIGGER_FILE}"}, "bindings": {"mqtt": reply}}
    channels["intakeLaneTrigger"] = {
        "address": "bx/v1/in/{site}/{gw}/lane/{lane}/trigger",
        "description": "A lane controller's or PLC's trigger: a vehicle detected (or gone) at the lane's entry, "
                       "exit or presence input. Goes to the lane engine at once (it opens and closes passages like "
                       "a loop on a reader's GPI); a refused one is answered on the intake error topic (kind "
                       "trigger). Subscribed only when lane_engine.intake_mqtt is true.",
        "parameters": {**params, "lane": {"description": "configured lane id"}},
        "messages": {"lane-trigger": {"$ref": "#/components/messages/lane-trigger"}},
    }
    operations["receiveIntakeLaneTrigger"] = {
        "action": "receive", "channel": {"$ref": "#/channels/intakeLaneTrigger"},
        "bindings": {"mqtt": {"bindingVersion": "0.2.0", "qos": 1, "retain": False}}}
    messages["intake-answer"] = {"name": "bx.intake-answer.v1", "contentType": "application/json",
                                 "payload": {"$ref": f"./{INTAKE_ANSWER_FILE}"},
                                 "bindings": {"mqtt": {"bindingVersion": "0.2.0", "payloadFormatIndicator": 1}}}
    channels["intakeError"] = {
        "address": "bx/v1/in/{site}/{gw}/error",
        "description": "The answer to every intake message that had a refused record or payload: the records "
                       "stored (by outcome) and each problem with the record's index and field path. "
                       + _INTAKE_SWITCH,
        "parameters": params,
        "messages": {"intake-answer": {"$ref": "#/components/messages/intake-answer"}},
    }
    operations["sendIntakeError"] = {"action": "send", "channel": {"$ref": "#/channels/intakeError"},
                                     "bindings": {"mqtt": {"bindingVersion": "0.2.0", "qos": 1, "retain": False}}}
    channels["intakeReply"] = {
        "address": "bx/v1/in/{site}/{gw}/reply/{reply}",
        "description": "The answer to an intake message on its MQTT 5 Response Topic, with its Correlation Data, "
                       "whether or not anything was refused: only under this prefix. On a broker with ACLs, "
                       "grant the pre-clearance system read here. " + _INTAKE_SWITCH,
        "parameters": {**params, "reply": {"description": _PARAMETERS["reply"]}},
        "messages": {"intake-answer": {"$ref": "#/components/messages/intake-answer"}},
    }
    operations["sendIntakeReply"] = {"action": "send", "channel": {"$ref": "#/channels/intakeReply"},
                                     "bindings": {"mqtt": {"bindingVersion": "0.2.0", "qos": 1, "retain": False}}}


DECISION_FILE = "decision.v1.json"
DECISION_ACK_FILE = "decision-ack.v1.json"
LANE_SIGNAL_FILE = "lane-signal.v1.json"


def decision_schemas() -> dict[str, dict[str, Any]]:
    """The decision (in), its acknowledgement and the lane signal (out): file -> JSON Schema."""
    from gateway.decisions.intake import DecisionAck
    from gateway.decisions.model import SCHEMA_ID, Decision
    from gateway.decisions.signals import SignalPayload

    head = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    return {
        DECISION_FILE: {**Decision.model_json_schema(by_alias=True, mode="validation"), **head, "$id": DECISION_FILE,
                        "title": SCHEMA_ID},
        DECISION_ACK_FILE: {**DecisionAck.model_json_schema(mode="serialization"), **head, "$id": DECISION_ACK_FILE,
                            "title": "bx.decision-ack.v1"},
        LANE_SIGNAL_FILE: {**SignalPayload.model_json_schema(by_alias=True, mode="serialization"), **head,
                           "$id": LANE_SIGNAL_FILE, "title": "bx.lane-signal.v1"},
    }


def _add_decisions(channels: dict[str, Any], operations: dict[str, Any], messages: dict[str, Any]) -> None:
    params = {"site": {"description": "configured site id"}, "gw": {"description": "configured gw id"}}
    plain = {"mqtt": {"bindingVersion": "0.2.0", "payloadFormatIndicator": 1}}
    ref = {"$ref": f"./{DECISION_FILE}"}
    messages["decision"] = {"name": "bx.decision.v1", "contentType": "application/json",
                            "payload": {"oneOf": [ref, {"type": "array", "items": ref}]}, "bindings": plain}
    messages["decision-ack"] = {"name": "bx.decision-ack.v1", "contentType": "application/json",
                                "payload": {"$ref": f"./{DECISION_ACK_FILE}"}, "bindings": plain}
    messages["lane-signal"] = {"name": "bx.lane-signal.v1", "contentType": "application/json",
                               "payload": {"$ref": f"./{LANE_SIGNAL_FILE}"}, "bindings": plain}
    switch = ("Subscribed when the site file has a decisions section with intake_mqtt true (the default; "
              "persistent session, QoS 1). The same bodies go to POST /api/decisions.")
    outcome = ("Central outcomes (release, documentary-check, physical-inspection, hold, refuse-entry) for a "
               "declaration (mrn), a movement (movementRef) or a passage (passageId): one object or a list. Each "
               "is validated, stored durably and idempotent by decisionId (per subject and agency the latest "
               "issuedAt wins), then acknowledged on the decisionAck channel; refused records are named by index "
               "and field path on the intake error topic (kind decisions). ")
    channels["decisionIntake"] = {
        "address": "bx/v1/in/{site}/{gw}/decisions", "description": outcome + switch, "parameters": params,
        "messages": {"decision": {"$ref": "#/components/messages/decision"}}}
    channels["decisionOfficeIntake"] = {
        "address": "bx/v1/in/office/{office}/decisions",
        "description": outcome + "One copy for every gateway of a customs office: each gateway subscribes for "
                       "the offices of decisions.offices. " + switch,
        "parameters": {"office": {"description": "customs office reference number, e.g. DE004056"}},
        "messages": {"decision": {"$ref": "#/components/messages/decision"}}}
    channels["decisionAck"] = {
        "address": "bx/v1/customs/{site}/{gw}/decision-ack",
        "description": "One acknowledgement per decision message (MQTT or HTTP): per record its index, decisionId "
                       "and status stored, duplicate, superseded or rejected, and the problems of the rejected "
                       "ones. Sent after the decisions are stored.",
        "parameters": params, "messages": {"decision-ack": {"$ref": "#/components/messages/decision-ack"}}}
    channels["laneSignal"] = {
        "address": "bx/v1/ops/{site}/{gw}/lane/{lane}/signal",
        "description": "What the lane's signs, lights and PLCs show now (retained): stop (the rest state), "
                       "proceed, inspection, hold or refuse, with the outcome, its source (central, local, default, "
                       "rest) and the passage. Each lane has its own small MQTT connection whose Last Will (no Will "
                       "Delay) is that lane's retained stop (reason gateway-offline), so a dead gateway leaves every "
                       "lane at stop; on each reconnect the current signal is published again. Every lane starts at "
                       "stop; a signal rests when the next vehicle enters or after decisions.signals.rest_timeout_s. "
                       "A lane a reload removes is left at stop (reason lane-removed).",
        "parameters": {**params, "lane": {"description": "configured lane id"}},
        "messages": {"lane-signal": {"$ref": "#/components/messages/lane-signal"}}}
    for cid, action, retain in (("decisionIntake", "receive", False), ("decisionOfficeIntake", "receive", False),
                                ("decisionAck", "send", False), ("laneSignal", "send", True)):
        operations[f"{action}{cid[0].upper()}{cid[1:]}"] = {
            "action": action, "channel": {"$ref": f"#/channels/{cid}"},
            "bindings": {"mqtt": {"bindingVersion": "0.2.0", "qos": 1, "retain": retain}}}


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for schema_id, file in SCHEMA_FILES.items():
        name = schema_id.removeprefix("bx.").replace(".", "-")
        messages[name] = {
            "name": schema_id,
            "contentType": CONTENT_TYPE if PAYLOADS[schema_id][0] == "event" else "application/json",
            "payload": {"$ref": f"./{file}"},
            "bindings": {"mqtt": {"bindingVersion": "0.2.0", "payloadFormatIndicator": 1}},
        }
    messages["command-request"] = {"name": "bx.command-request", "contentType": "application/json",
                                   "payload": {"type": "object"},
                                   "bindings": {"mqtt": {"bindingVersion": "0.2.0", "correlationData": {
                                       "type": "string"}, "responseTopic": {"type": "string"}}}}
    for cid, (address, ids, action, retain, description) in CHANNELS.items():
        params: dict[str, Any] = {name: {"description": _PARAMETERS.get(name, f"configured {name} id")}
                  for name in ("site", "gw", "lane", "severity", "command", "reply") if "{" + name + "}" in address}
        if "severity" in params:
            params["severity"] = {"enum": ["low", "medium", "high", "critical"]}
        refs = [f"#/components/messages/{i.removeprefix('bx.').replace('.', '-')}" for i in ids] or [
            "#/components/messages/command-request"]
        channels[cid] = {
            "address": address.replace("{base}/", "bx/v1/"),
            "description": description,
            "parameters": params,
            "messages": {ref.rsplit("/", 1)[-1]: {"$ref": ref} for ref in refs},
        }
        operations[f"{action}{cid[0].upper()}{cid[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{cid}"},
            "bindings": {"mqtt": {"bindingVersion": "0.2.0", "qos": 1, "retain": retain}},
        }
    _add_intake(channels, operations, messages)
    _add_decisions(channels, operations, messages)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "gs1-border-gateway MQTT interface", "version": "1.0.0",
                 "description": "Topic base bx/v1 is configurable (mqtt.base_topic). QoS 1 by default "
                                "(mqtt.qos); consumers dedupe by CloudEvents id. Events are never retained."},
        "servers": {"site": {"host": "broker:8883", "protocol": "secure-mqtt", "protocolVersion": "5",
                             "bindings": {"mqtt": {"bindingVersion": "0.2.0", "cleanSession": False,
                                                   "lastWill": {"topic": "bx/v1/ops/{site}/{gw}/status",
                                                                "qos": 1, "retain": True,
                                                                "message": '{"state":"offline","reason":"lwt"}'}}}}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def generate() -> dict[str, str]:
    """File name -> text, for everything under ``schemas/``."""
    files = {name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in payload_schemas().items()}
    files.update({name: intake_schemas.render(name) for name in INTAKE_FILES.values()})
    files[INTAKE_ANSWER_FILE] = json.dumps(intake_answer_schema(), indent=2, sort_keys=True) + "\n"
    files[TRIGGER_FILE] = json.dumps(lane_trigger_schema(), indent=2, sort_keys=True) + "\n"
    files.update({name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in
                  decision_schemas().items()})
    files["asyncapi.json"] = json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
