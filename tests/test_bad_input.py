"""Bad input at every boundary (issue #12, item 3): each gets its typed error or HTTP status, the service
stays up, and nothing already accepted is lost.

Where each boundary is proven (``test_the_index_names_real_tests`` keeps this index honest):

* garbage / CRC-broken serial frames:
    tests/serial/test_mercury_codec.py::test_resync_after_garbage_and_crc_errors
    tests/serial/test_mercury_codec.py::test_length_errors_are_counted
    tests/serial/test_mercury_driver.py::test_garbage_and_crc_errors_are_reported_and_skipped
    tests/serial/test_ascii.py::test_garbage_lines_raise_typed_error
    tests/serial/test_ascii.py::test_garbage_partial_lines_burst_and_replug
* malformed / truncated LLRP (codec):
    tests/llrp/test_codec_fuzz.py::test_typed_errors
    tests/llrp/test_codec_fuzz.py::test_malformed_body_in_stream_keeps_sync
* malformed / truncated LLRP (live):
    tests/llrp/test_client.py::test_live_client_survives_malformed_truncated_and_garbage_messages
    tests/test_bad_input.py::test_running_gateway_survives_bad_input_at_every_boundary
* random bytes as EPCs:
    tests/epc/test_fuzz_roundtrip.py::test_fuzz_decode_arbitrary_bytes
    tests/llrp/test_client.py::test_live_client_survives_malformed_truncated_and_garbage_messages
    tests/vendor_json/test_vendor_json.py::test_impinj_mapping_base64_hex_cdbm_and_antenna_name
* non-GS1 and malformed barcodes:
    tests/camera/test_source.py::test_non_gs1_code_is_reported_not_dropped
    tests/camera/test_confirm.py::test_bad_check_digit_and_odd_itf_need_two_frames
    tests/gs1/test_fuzz.py::test_arbitrary_text_only_raises_gs1_parse_error
* invalid / oversized declarations, HTTP:
    tests/service/test_api_masterdata.py::test_invalid_declaration_gets_422_with_camel_case_paths
    tests/service/test_api_basics.py::test_oversized_body_gets_413
    tests/service/test_api_basics.py::test_chunked_oversized_body_gets_413
    tests/test_bad_input.py::test_running_gateway_survives_bad_input_at_every_boundary
* integers the store cannot keep (version = 2**63 in a body, a bulk or ``?version=``), HTTP -> 422 with the
  field path (``body.declarationRef.version``, ``query.version``); the bulk keeps its good rows (#22 item 1):
    tests/service/test_api_hostile.py::test_integers_the_store_cannot_keep_are_422_with_their_path
* NaN, Infinity, 1e999 in grossMassKg / grossWeightKg, HTTP -> 422 with the field path, nothing stored
  without the field (#22 item 2):
    tests/service/test_api_hostile.py::test_non_finite_numbers_are_refused_like_nan
* JSON nested 1,000 deep in any body, HTTP -> 422 ``path: body`` before parsing (#22 item 1):
    tests/service/test_api_hostile.py::test_json_nested_1000_deep_is_422_before_parsing
    tests/test_json_limits.py::test_the_limit_is_exact_and_checked_before_parsing
    tests/test_json_limits.py::test_depth_equals_the_nesting_the_parser_builds
* CSV field over 131,072 characters, conflicting or far-off CSV columns, a 5,000-digit number in an import,
  HTTP -> 422 naming the CSV line or the reason (#22 item 1):
    tests/service/test_api_hostile.py::test_import_bodies_the_parser_refuses_are_422_with_the_reason
* a 300-character schema name, HTTP -> 404 (#22 item 1):
    tests/service/test_api_hostile.py::test_schema_names_never_reach_the_file_system
* a command whose response topic is not under ``cmd/{site}/{gw}/reply/`` (a customs topic, the prefix
  itself, another gateway's, not a string; MQTT 5 or in a 3.1.1 body) -> no reply, one warning line, nothing
  published there; a command payload nested 5,000 deep, a 5,000-digit number, not UTF-8, not a JSON object,
  a correlationId that is not a string -> an error reply; the documented ACL lets each caller read only its
  replies (#22 item 5):
    tests/publishing/test_commands.py::test_replies_go_only_under_the_reply_prefix_and_bad_payloads_get_an_error_reply
    tests/publishing/test_commands.py::test_the_documented_acl_lets_callers_read_their_replies_and_nothing_is_published_elsewhere
    tests/test_bad_input.py::test_running_gateway_survives_bad_input_at_every_boundary
* an MQTT 5 Response Topic outside ``in/{site}/{gw}/reply/`` on an intake message -> the records stored, the
  answer on the error topic naming ``(responseTopic)``, nothing published there (#22 item 5):
    tests/enrichment/test_mqtt_intake.py::test_a_response_topic_gets_the_stored_count_of_a_clean_message
    tests/publishing/test_commands.py::test_the_documented_acl_lets_callers_read_their_replies_and_nothing_is_published_elsewhere
* the next truck in the lane, a passage closed without a result, a late revision of the previous truck's
  record -> the retained lane state shows no decision while occupied, and only the decision of the passage
  it names (#22 item 6):
    tests/publishing/test_lane_state.py::test_two_trucks_in_a_row_each_show_only_their_own_decision
    tests/golden/test_wire.py::test_demo_scenario_is_unchanged_on_the_wire
* partial direction evidence (only the entry zone seen so far, entry and portal antennas starting together,
  one barrier) -> an open passage is "unknown" on the passage events and the dashboard until the evidence
  decides, then what it closes with (#22 item 7):
    tests/lane/test_direction_open.py::test_the_demo_lane2_never_shows_a_direction_it_does_not_close_with
    tests/lane/test_direction_open.py::test_only_the_entry_zone_seen_is_unknown_even_on_an_inbound_lane
    tests/service/test_dashboard_direction.py::test_the_dashboard_shows_unknown_until_the_direction_is_decided
* invalid declarations, MQTT intake:
    tests/enrichment/test_mqtt_intake.py::test_intake_stores_valid_and_answers_invalid
    tests/test_bad_input.py::test_running_gateway_survives_bad_input_at_every_boundary
* 5,000 nested brackets, a 5,000-digit number, a bulk [good, version=2**63, good], 1e999, MQTT intake ->
  an answer on the error topic for every message, each refused record by index and path, every good
  record stored; a clean message's stored count on its Response Topic (#22 item 3):
    tests/enrichment/test_mqtt_intake.py::test_every_hostile_message_gets_an_answer_and_every_good_record_is_kept
    tests/enrichment/test_mqtt_intake.py::test_a_response_topic_gets_the_stored_count_of_a_clean_message
    tests/test_bad_input.py::test_running_gateway_survives_bad_input_at_every_boundary
* bad vendor JSON / webhook requests:
    tests/vendor_json/test_vendor_json.py::test_bad_events_raise_typed_errors
    tests/vendor_json/test_webhook.py::test_each_kind_of_bad_request_gets_its_status_and_the_receiver_keeps_serving
* numbers no float holds in peakRssiCdbm / phaseAngle / lastSeenTime, lists nested 500 deep, webhook ->
  200 with the rejected index and field / 204 (time ignored) / 400 (#22 item 4):
    tests/vendor_json/test_webhook.py::test_numbers_no_float_holds_and_deep_nesting_are_answered
* a client trickling a request byte by byte, webhook -> 408 when request_timeout runs out (#22 item 4):
    tests/vendor_json/test_webhook.py::test_a_trickling_client_is_answered_408_when_the_request_deadline_runs_out
* more connections than max_connections, webhook -> 503 with Retry-After (#22 item 4):
    tests/vendor_json/test_webhook.py::test_connections_over_the_limit_get_503_and_the_limit_frees_up
* hostile messages on the demo's topics, demo console -> printed or skipped, console keeps going (#22 item 11):
    tests/service/test_demo_console.py::test_console_keeps_printing_after_hostile_messages
* the shipped GS1-tag scenarios given to the Mercury simulator, a reader the scenario lacks -> played /
  one line, exit 2 (#22 item 12):
    tests/serial/test_cli.py::test_mercury_simulator_plays_the_shipped_scenarios
    tests/serial/test_cli.py::test_simulators_name_a_reader_the_scenario_does_not_have
* invalid config files:
    tests/test_config.py::test_errors_name_the_key_path
    tests/test_config.py::test_invalid_yaml_reports_line
    tests/vendor_json/test_webhook.py::test_bad_urls_are_refused_by_the_driver_and_by_config_check
    tests/test_bad_input.py::test_run_refuses_an_invalid_config_file_with_the_key_path
* an invalid site file on a reload (SIGHUP, ``POST /api/reload``) -> nothing changes, logged with the key path,
  ``config.error`` in the retained status, ``422`` with the path (#23 item 3):
    tests/service/test_reload.py::test_sighup_reloads_rules_readers_and_lanes_and_a_bad_file_changes_nothing
* malformed command-line arguments (one line, non-zero exit, no traceback):
    tests/test_cli.py::test_a_malformed_argument_is_one_line_and_a_non_zero_exit_for_every_subcommand
* bad mercury: / serial-ascii: / camera: / impinj-iot+http: URL parameters (format=pipe among them), a
  webhook URL with both user:pw@ and ?token=, config check and run -> exit 1 with the key path (#22 items 4, 13):
    tests/test_readme_config.py::test_config_check_and_run_refuse_a_bad_url_naming_its_key_path
    tests/vendor_json/test_webhook.py::test_bad_urls_are_refused_by_the_driver_and_by_config_check
* the README's documented URLs, URL options and configuration keys, config check -> accepted (#22 item 13):
    tests/test_readme_config.py::test_every_url_in_the_readme_passes_config_check
    tests/test_readme_config.py::test_every_documented_option_passes_config_check
    tests/test_readme_config.py::test_every_documented_key_is_in_the_schema_and_passes_config_check
* bad lane-controller triggers, MQTT -> error topic naming the field (``"kind": "trigger"``); HTTP -> 401 without
  the write token, 404 for an unknown lane, 422 with the field path (#17):
    tests/lane/test_trigger_doors.py::test_mqtt_triggers_are_validated_and_handed_over
    tests/lane/test_trigger_doors.py::test_http_triggers_need_a_write_token_and_name_bad_fields
* bad ANPR / OCR camera events (Rekor, Hikvision XML/JSON/multipart, generic JSON), webhook -> 4xx naming the
  field, the receiver keeps answering; bad container codes kept as evidence, not mapped (#17):
    tests/anpr/test_formats.py::test_bad_documents_are_typed_errors_naming_the_field
    tests/anpr/test_formats.py::test_multipart_without_an_event_part_is_refused
    tests/anpr/test_sources.py::test_webhook_takes_each_preset_answers_at_once_and_survives_bad_bodies
    tests/lane/test_vehicles.py::test_bad_container_codes_are_kept_as_evidence_and_unmapped_cameras_are_counted
* bad central decisions (an unknown outcome, two subjects, not an object, not JSON), MQTT -> each rejected
  record by index and field path on the intake error topic, the good ones of the message stored and
  acknowledged; HTTP ``POST /api/decisions`` -> 401 without the write token, 422 with ``body.issuedAt`` /
  ``body[1].agency`` and the good records' acks; an older issue -> ``superseded``, a repeat -> ``duplicate``,
  nothing changed (#18):
    tests/decisions/test_decisions_e2e.py::test_bad_decisions_are_named_by_index_and_field_path
    tests/decisions/test_decisions_e2e.py::test_duplicate_conflicting_and_superseded_decisions_are_acknowledged
* an unknown passage id, ``GET /api/passages/{id}`` -> 404 ``{"detail": "no such passage"}`` (#18):
    tests/history/test_history_api.py::test_history_is_told_by_the_api_and_survives_a_restart
* a lane output on a reader that is not an LLRP reader of the site, or beyond its ``gpos``, config check -> one
  line with the key path (#18):
    tests/llrp/test_gpo.py::test_config_check_names_the_bad_output
* bad ``simulate preclearance`` options (target, declarations file, unreachable broker, store or NATS, a
  NATS URL of another scheme), CLI -> one line, no traceback (#21):
    tests/central/test_preclearance.py::test_cli_bad_options_are_one_line
* codec fuzzing (>= 10,000 examples/CI):
    tests/test_bad_input.py::test_every_codec_fuzz_test_runs_fuzz_examples
* a second gateway on the same storage, an unusable API certificate, a database of a newer release:
    tests/service/test_operations.py::test_a_second_gateway_on_the_same_storage_refuses
    tests/service/test_operations.py::test_start_up_failures_are_one_line
* backups that are not ours, damaged or of another gateway; a restore while a gateway runs:
    tests/storage/test_backup_retention.py::test_restore_checks_before_it_replaces
    tests/storage/test_backup_retention.py::test_restore_refuses_while_a_gateway_holds_the_storage

The service-level test runs the real ``border-gateway run`` process against a real Mosquitto, an LLRP
reader simulator and the Impinj webhook receiver, and throws bad input at all of its doors at once.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from drivers.llrp.messages import Message
from drivers.llrp.reports import TagReport
from gateway.enrichment.mqtt_intake import intake_topics
from gateway.service.broker import free_port
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.tag_world import TagWorld, synthetic_sgtin96
from tests.enrichment.helpers import bad, declaration, mrn, sscc
from tests.support.fuzz import FUZZ_EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bad-input-token"

# -- the index above --------------------------------------------------------------------------------


def _index_entries() -> list[tuple[str, str]]:
    text = __doc__ or ""
    return re.findall(r"(tests/[\w/]+\.py)::(\w+)", text)


def test_the_index_names_real_tests() -> None:
    entries = _index_entries()
    assert len(entries) >= 20
    for path, name in entries:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{path}::{name} does not exist"


# -- every codec's fuzz tests really run FUZZ_EXAMPLES examples -------------------------------------

CODEC_FUZZ_MODULES = {
    "GS1": "tests.gs1.test_fuzz",
    "EPC": "tests.epc.test_fuzz_roundtrip",
    "LLRP": "tests.llrp.test_codec_fuzz",
    "Mercury": "tests.serial.test_mercury_codec",
}


def test_every_codec_fuzz_test_runs_fuzz_examples() -> None:
    """Each codec has fuzz tests marked ``fuzz`` (``./run.sh fuzz`` selects them with ``-m fuzz`` and the
    ``long`` profile) whose hypothesis settings use FUZZ_EXAMPLES (10,000 under HYPOTHESIS_PROFILE=ci)."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "ci":
        assert FUZZ_EXAMPLES >= 10_000
    for codec, module_name in CODEC_FUZZ_MODULES.items():
        module = importlib.import_module(module_name)
        fuzz_tests = []
        for name, fn in vars(module).items():
            if not name.startswith("test_") or not callable(fn):
                continue
            module_marks = getattr(module, "pytestmark", [])  # a MarkDecorator or a list of them
            module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
            marks = [m.name for m in [*getattr(fn, "pytestmark", []), *module_marks]]
            hyp = getattr(fn, "_hypothesis_internal_use_settings", None)
            if "fuzz" in marks:
                assert hyp is not None, f"{module_name}.{name} is marked fuzz but is not a hypothesis test"
                assert hyp.max_examples == FUZZ_EXAMPLES, f"{module_name}.{name}: {hyp.max_examples} examples"
                fuzz_tests.append(name)
        assert fuzz_tests, f"{codec}: no fuzz-marked test in {module_name}"


# -- invalid config file: `run` refuses it, naming the key path --------------------------------------


def test_run_refuses_an_invalid_config_file_with_the_key_path(tmp_path: Path) -> None:
    cfg = tmp_path / "site.yaml"
    cfg.write_text(yaml.safe_dump({"site": "bx1", "gateway": "gw1", "lanes": [
        {"id": "lane1", "readers": [{"id": "r", "url": "llrp://10.0.0.5?report=0"},
                                    {"id": "w", "url": "impinj-iot+webhook://reader.example:8081/"}]}]}))
    out = subprocess.run([sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg)], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode != 0
    assert "lanes[0].readers[0].url" in out.stderr and "report must be" in out.stderr
    assert "lanes[0].readers[1].url" in out.stderr and "IP address or localhost" in out.stderr
    assert "Traceback" not in out.stderr


# -- the running service ---------------------------------------------------------------------------


class _SimThread:
    """The LLRP reader simulator on an event loop of its own (the test body is synchronous)."""

    def __init__(self, world: TagWorld) -> None:
        self.world = world
        self.loop = asyncio.new_event_loop()
        self.sim: LLRPReaderSimulator | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with LLRPReaderSimulator(self.world, "r", tick_s=0.02) as sim:
            self.sim = sim
            self._ready.set()
            await asyncio.wait_for(self._stop.wait(), 300)

    def inject(self, data: bytes) -> bool:
        assert self.sim is not None
        return asyncio.run_coroutine_threadsafe(self.sim.inject(data), self.loop).result(5)

    def __enter__(self) -> _SimThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_a: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class _Subscriber:
    """Records every message under this test's site id, with its arrival time."""

    def __init__(self, host: str, port: int, topic_filters: list[str]) -> None:
        self.messages: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-test-bad-{uuid.uuid4().hex[:8]}")

        def on_connect(c: Any, *_a: Any) -> None:
            for f in topic_filters:
                c.subscribe(f, qos=1)

        def on_subscribe(*_a: Any) -> None:
            self.ready.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            with self.lock:
                self.messages.append((time.monotonic(), msg.topic, bytes(msg.payload)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def since(self, t: float, contains: str) -> list[tuple[str, bytes]]:
        with self.lock:
            return [(topic, p) for at, topic, p in self.messages if at >= t and contains in topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> subprocess.Popen[bytes]:
        log = (tmp_path / "gateway.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_running_gateway_survives_bad_input_at_every_boundary(
        mqtt_broker: Any, tmp_path: Path, gateway_process: Callable[[Path], subprocess.Popen[bytes]]) -> None:
    site, gw = f"bad{uuid.uuid4().hex[:8]}", "gw1"
    api_port, hook_port = free_port(), free_port()
    # a truck with three tagged items passes every 3 s, so passages keep closing and being published
    world = TagWorld.from_dict({"trucks": [{"reader": "r", "antennas": [1], "start": 0.2, "dwell": 1.0,
                                            "rate_hz": 20.0, "epcs": [synthetic_sgtin96(i) for i in range(3)]}],
                                "duration": 3.0, "repeat_s": 3.0})
    topics = intake_topics("bx/v1", site, gw)
    with _SimThread(world) as sim_thread:
        assert sim_thread.sim is not None
        sim = sim_thread.sim
        config = tmp_path / "site.yaml"
        config.write_text(yaml.safe_dump({
            "site": site, "gateway": gw,
            "lanes": [{"id": "lane1", "read_point_gln": "4012345000009", "readers": [
                {"id": "llrp-1", "url": f"llrp://127.0.0.1:{sim.address[1]}?antennas=1&keepalive=1000"
                                        "&backoff=0.05,0.5&timeout=3", "antennas": {1: {"zone": "portal"}}},
                {"id": "r700", "url": f"impinj-iot+webhook://127.0.0.1:{hook_port}/impinj",
                 "antennas": {1: {"zone": "portal"}}}]}],
            "lane_engine": {"passage_quiet_s": 0.8, "depart_after_s": 0.5, "min_reads": 1},
            "mqtt": {"url": f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}"},
            "api": {"bind": f"127.0.0.1:{api_port}", "tokens": [TOKEN], "max_body_bytes": 20_000},
            "storage": {"path": str(tmp_path / "data")},
            "enrichment": {"border_office": "DE004056", "intake_mqtt": True},
        }))
        sub = _Subscriber(mqtt_broker.host, mqtt_broker.port, [f"bx/v1/+/{site}/#", f"bx/v1/in/{site}/#"])
        proc = gateway_process(config)
        api = f"http://127.0.0.1:{api_port}"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            assert sub.ready.wait(10)
            with httpx.Client(base_url=api, timeout=10) as http:
                def up() -> bool:
                    try:
                        return http.get("/health").status_code == 200
                    except httpx.HTTPError:
                        return False

                _wait(up, 60, "the gateway's /health")

                # -- 1. good input, accepted through every door ------------------------------------
                assert http.post("/api/declarations", json=declaration(n=1), headers=auth).status_code == 201
                pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bx-test-pub-{uuid.uuid4().hex[:8]}")
                pub.connect(mqtt_broker.host, mqtt_broker.port)
                pub.loop_start()
                _wait(lambda: bool(sub.since(0, "/status")), 30, "the gateway's birth message")

                def published(payload: Any) -> None:
                    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    pub.publish(topics["declarations"], body, qos=1).wait_for_publish(5)

                # the intake subscribes shortly after start-up: re-send until it has stored the declaration
                deadline = time.monotonic() + 30
                while http.get(f"/api/declarations/{mrn(2)}").status_code != 200:
                    assert time.monotonic() < deadline, "MQTT intake never stored the declaration"
                    published(declaration(n=2))
                    time.sleep(0.5)
                batch = json.loads((ROOT / "tests/fixtures/vendor_json/impinj_webhook_batch.json").read_text())
                hook = f"http://127.0.0.1:{hook_port}/impinj"
                _wait(lambda: _post_ok(hook, batch), 30, "the webhook receiver")
                _wait(lambda: bool(sub.since(0, "/passage")), 30, "a first passage")

                # -- 2. bad input at every door at once --------------------------------------------
                t_bad = time.monotonic()
                broken = declaration(n=3)
                broken["houseConsignments"][0]["goodsItems"][0]["gs1"]["ssccs"][1] = bad(sscc(2))
                res = http.post("/api/declarations", json=broken, headers=auth)
                assert res.status_code == 422
                assert {p["path"] for p in res.json()["detail"]} == {
                    "body.houseConsignments[0].goodsItems[0].gs1.ssccs[1]"}
                amended = declaration(n=1, version=2, office="not-an-office")  # a bad amendment of an accepted one
                res = http.put(f"/api/declarations/{mrn(1)}", json=amended, headers=auth)
                assert res.status_code == 422 and "body.customsOfficeOfFirstEntry" in res.text
                res = http.post("/api/declarations", content=b"{\"declarationRef\": ", headers={
                    **auth, "Content-Type": "application/json"})
                assert res.status_code == 422
                assert http.post("/api/declarations", content=b"[" + b" " * 30_000 + b"]",
                                 headers=auth).status_code == 413

                def chunks() -> Iterator[bytes]:
                    for _ in range(30):
                        yield b" " * 1000

                assert http.post("/api/declarations", content=chunks(), headers=auth).status_code == 413
                published(b"\xff not json")
                published(broken)
                not_json = httpx.post(hook, content=b"{not json", timeout=5)
                assert not_json.status_code == 400
                assert httpx.get(hook, timeout=5).status_code == 405
                # the reader: a report whose body lies about its length, then bytes that are no LLRP at all
                lying = bytes.fromhex("043d00000010" "00000007" "00f00040" "8d00")
                not_an_epc = Message(61, 9, {}, (TagReport(epc=bytes(range(200, 212)), antenna=1).to_param(),))
                assert sim_thread.inject(lying + not_an_epc.encode())
                assert sim_thread.inject(b"\x04\x3d\x00\x00\x00\x03garbage")

                # -- 3. typed answers, the service still up, nothing accepted lost -----------------
                _wait(lambda: len(sub.since(t_bad, "/error")) >= 2, 15, "the intake's two error answers")
                answers = [json.loads(p) for _, p in sub.since(t_bad, "/error")]
                assert answers[0]["errors"][0]["path"] == "(payload)"
                assert answers[1]["errors"][0]["path"] == "houseConsignments[0].goodsItems[0].gs1.ssccs[1]"
                _wait(lambda: sim.connections >= 2, 20, "the LLRP client to reconnect after the garbage")
                t_after = time.monotonic()
                _wait(lambda: bool(sub.since(t_after, "/passage")), 30, "a passage published after the garbage")
                assert proc.poll() is None, "the gateway died"
                assert http.get("/health").status_code == 200
                first = http.get(f"/api/declarations/{mrn(1)}").json()
                ref = first["declarationRef"]
                assert (ref["mrn"], ref["version"]) == (mrn(1), 1)  # the bad amendment did not touch it
                assert [h["version"] for h in first["history"]] == [1]
                assert http.get(f"/api/declarations/{mrn(2)}").status_code == 200
                assert http.get(f"/api/declarations/{mrn(3)}").status_code == 404
                assert _post_ok(hook, batch)  # the webhook still takes good batches

                # -- 4. the probes of issue #22, against the running service ------------------------
                t_22 = time.monotonic()
                huge = declaration(n=5)
                huge["declarationRef"]["version"] = 2**63
                res = http.post("/api/declarations", json=huge, headers=auth)
                assert res.status_code == 422 and "body.declarationRef.version" in res.text
                assert http.get(f"/api/declarations/{mrn(1)}", params={"version": str(2**63)}).status_code == 422
                res = http.post("/api/products/import", content=b"[" * 1000 + b"]" * 1000,
                                headers={**auth, "Content-Type": "application/json"})
                assert res.status_code == 422 and "nested deeper" in res.text
                assert http.get("/api/schemas/" + "x" * 300 + ".json").status_code == 404
                infinite = json.dumps(declaration(n=6)).replace('"seq": 1,', '"seq": 1, "grossMassKg": 1e999,')
                res = http.post("/api/declarations", content=infinite,
                                headers={**auth, "Content-Type": "application/json"})
                assert res.status_code == 422 and "grossMassKg" in res.text
                pub.publish(topics["products"], b"[" * 5000, qos=1).wait_for_publish(5)
                published([declaration(n=7), huge, declaration(n=8)])
                res = httpx.post(hook, content=json.dumps([{"tagInventoryEvent": {
                    "epcHex": "3074257bf7194e4000001a85", "antennaPort": 1, "peakRssiCdbm": 10**400}}]), timeout=5)
                assert res.status_code == 200 and "peakRssiCdbm" in res.json()["rejected"][0]["error"]
                assert httpx.post(hook, content=b"[" * 500 + b"]" * 500, timeout=5).status_code == 400
                _wait(lambda: len(sub.since(t_22, "/error")) >= 2, 15, "the intake's answers to the probes")
                deep, bulk = [json.loads(p) for _, p in sub.since(t_22, "/error")][:2]
                assert deep["errors"][0]["message"] == "JSON nested deeper than 64 levels"
                assert bulk["stored"] == {"created": 2} and [e["index"] for e in bulk["errors"]] == [1]
                assert http.get(f"/api/declarations/{mrn(8)}").status_code == 200  # the record after the bad one
                # a command that names the customs topic as its response topic (3.1.1: in the body)
                cmd = f"bx/v1/cmd/{site}/{gw}/ping"
                for reply_to, correlation in ((f"bx/v1/customs/{site}/{gw}/enriched/lane1", "probe-customs"),
                                              (f"bx/v1/cmd/{site}/{gw}/reply/probe", "probe-ok")):
                    request = {"responseTopic": reply_to, "correlationId": correlation}
                    pub.publish(cmd, json.dumps(request), qos=1).wait_for_publish(5)
                _wait(lambda: bool(sub.since(t_22, "/reply/probe")), 15, "the reply under the reply prefix")
                assert [(t, json.loads(p)["ok"]) for t, p in sub.since(t_22, "/reply/")] == [
                    (f"bx/v1/cmd/{site}/{gw}/reply/probe", True)]
                assert not [p for _, p in sub.since(t_22, "/customs/") if b"probe-customs" in p or b"pong" in p]
                assert http.get("/health").status_code == 200 and proc.poll() is None
                pub.loop_stop()
        finally:
            sub.close()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(30)
            except subprocess.TimeoutExpired:
                code = None
        log = (tmp_path / "gateway.log").read_text(errors="replace")
        assert code == 0, log[-3000:]
        assert "Traceback" not in log, log[-3000:]


def _post_ok(url: str, body: Any) -> bool:
    try:
        return httpx.post(url, json=body, timeout=5).status_code == 204
    except httpx.HTTPError:
        return False
