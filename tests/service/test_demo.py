"""``border-gateway demo`` end to end: the real command as a child process, then its summary line.

One 60-second run (the README's first command, with the dashboard on a free port, its LLRP simulator
stopped after the last truck, and the dashboard watched in headless Chromium meanwhile) is shared by the
tests of this module; a second, shorter run with the same seed plays the scenario at twice the speed
against the Mosquitto fixture (``--mqtt-url``, ``--no-dashboard``).  Determinism is shown twice,
cheaply: both runs give the same passages and flags, and both equal an offline replay of the same
scenario and seed through the lane engine and the enricher (:func:`gateway.service.demo.offline_summary`).

No wall-clock time is asserted: every wait is bounded and only says what it waited for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.service.broker import LOOPBACK, free_port, port_open
from gateway.service.demo import deterministic, offline_summary
from tests.service.dashboard_demo import LLRP_STOP_AT, DashboardSeen, watch_dashboard
from tests.support.brokers import SharedBroker

ROOT = Path(__file__).resolve().parents[2]
SEED = 5
FIVE_FLAGS = {"SSCC_NOT_DECLARED", "HS_MISMATCH", "EXPIRED", "SPS_DOC_MISSING", "NO_DECLARATION"}
CLEAN_TRUCK_SSCC = "340123450000001014"
CLEAN_TRUCK_MRN = "25DE0040560000001A"


@dataclass
class DemoRun:
    """A ``border-gateway demo`` child process; stdout is collected line by line as it comes."""

    args: list[str]
    workdir: Path
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    health: dict[str, Any] | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    dashboard: DashboardSeen = field(default_factory=DashboardSeen)

    def start(self) -> DemoRun:
        self.stderr_path = self.workdir / "stderr.log"
        self._stderr = self.stderr_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "demo", *self.args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def line_starting(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line
            if time.monotonic() >= deadline or (self.process.poll() is not None and not self._reader.is_alive()):
                break
            time.sleep(0.1)
        raise AssertionError(f"no line starting {prefix!r} after {timeout:.0f} s:\n" + self.output())

    def wait(self, timeout: float) -> int:
        try:
            self.returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"demo still running after {timeout:.0f} s:\n{self.output()}") from None
        finally:
            self._reader.join(10)
            self._stderr.close()
        return self.returncode

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        return "\n".join(self.lines[-40:]) + "\n--- stderr ---\n" + self.stderr[-4000:]

    @property
    def summary(self) -> dict[str, Any]:
        line = self.line_starting("demo summary: ", 0)
        data: dict[str, Any] = json.loads(line.removeprefix("demo summary: "))
        return data

    def address(self, prefix: str) -> str:
        """The first word after ``prefix`` on its line (``broker     mqtt://...``)."""
        return self.line_starting(prefix, 0).removeprefix(prefix).split()[0]


def _poll_api(run: DemoRun, base: str, timeout: float) -> None:
    """While the demo runs: /health, and the sources until all three are connected."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.process.poll() is None:
        try:
            run.health = httpx.get(f"{base}/health", timeout=2).json()
            run.sources = httpx.get(f"{base}/api/sources", timeout=2).json()
        except httpx.HTTPError:
            pass
        else:
            if run.sources and all(s.get("state") == "connected" for s in _sources(run.sources)):
                return
        time.sleep(0.25)


def _sources(body: Any) -> list[dict[str, Any]]:
    return list(body.get("sources", [])) if isinstance(body, dict) else list(body)


@pytest.fixture(scope="module")
def demo_60s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    api_port = free_port()
    # 63 s: the dashboard test sees the LLRP simulator stop after the last passage (LLRP_STOP_AT), and the
    # next cycle's first truck (at 64 s, read by that simulator) does not come.
    run = DemoRun(["--duration", "63", "--seed", str(SEED), "--api-port", str(api_port),
                   "--stop-llrp-at", str(LLRP_STOP_AT)], tmp_path_factory.mktemp("demo60")).start()
    try:
        run.line_starting("dashboard  ", timeout=60)
        _poll_api(run, f"http://127.0.0.1:{api_port}", timeout=40)
        if run.process.poll() is None:  # the officer's page, while the scenario plays (tests/service/dashboard_demo.py)
            watch_dashboard(f"http://127.0.0.1:{api_port}", run.dashboard)
        run.wait(timeout=150)
        yield run
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)


def test_demo_prints_the_dashboard_and_broker_first_and_serves_the_api(demo_60s: DemoRun) -> None:
    first, second = demo_60s.lines[0], demo_60s.lines[1]
    assert first.startswith("dashboard  http://127.0.0.1:"), demo_60s.output()
    assert second.startswith("broker     mqtt://127.0.0.1:"), demo_60s.output()
    assert demo_60s.health is not None and demo_60s.health["status"] == "ok", demo_60s.output()
    states = {s["id"]: s["state"] for s in _sources(demo_60s.sources)}
    assert states == {"llrp-sim": "connected", "mercury-sim": "connected", "cam-sim": "connected",
                      "anpr-l1-front": "connected", "anpr-l1-rear": "connected", "anpr-l2-front": "connected"}


def test_demo_exits_cleanly_and_leaves_nothing_behind(demo_60s: DemoRun) -> None:
    assert demo_60s.returncode == 0, demo_60s.output()
    assert "Traceback" not in demo_60s.stderr, demo_60s.stderr
    broker = demo_60s.address("broker     ").removeprefix("mqtt://")
    host, port = broker.rsplit(":", 1)
    assert not port_open(host, int(port)), "the demo's Mosquitto is still listening"
    readers = demo_60s.line_starting("readers    ", 0)  # readers    LLRP host:port, Mercury /path; ...
    llrp = readers.split("LLRP ")[1].split(",")[0]
    mercury = readers.split("Mercury ")[1].split(";")[0]
    assert not port_open(LOOPBACK, int(llrp.rsplit(":", 1)[1])), "the LLRP simulator is still listening"
    assert not Path(mercury).exists() and not Path(mercury).parent.exists(), "the Mercury pty was left behind"


def test_demo_raises_the_five_flags_and_the_clean_truck_none(demo_60s: DemoRun) -> None:
    summary = demo_60s.summary
    assert set(summary["flags"]) >= FIVE_FLAGS, summary["flags"]
    clean = [r for r in summary["results"] if CLEAN_TRUCK_SSCC in r["identifiers"]]
    assert clean == [{"lane": "lane1", "identifiers": ["04012345000016.9001", CLEAN_TRUCK_SSCC, "340123450000001021"],
                      "declarations": [CLEAN_TRUCK_MRN], "flags": []}]
    assert summary["clean_passages"] == 2  # the clean truck, and truck 6 linked by its plate (a movement)
    # every passage was published: an observation and an enriched record each, flags and SPS referrals
    published = summary["published"]
    assert summary["passages"] == 7  # ... and late central decisions published some records again
    assert published.get("customs/enriched") == summary["passages"] + summary["revisions"]
    assert published.get("customs/observation") == 5  # trucks 5 and 6 carried no GS1 key: no EPCIS event
    assert published.get("sps/referral", 0) >= 1


def test_demo_sees_the_untagged_trucks_by_their_loops_and_plates(demo_60s: DemoRun) -> None:
    """Issue 17: trucks 5-7, seen by the loops on the LLRP reader's GPIs and by the ANPR cameras."""
    results = demo_60s.summary["results"]
    assert {"lane": "lane1", "identifiers": [], "declarations": [], "flags": ["NO_DECLARATION"]} in results
    assert {"lane": "lane1", "identifiers": [], "declarations": ["25DE0040560000006A"], "flags": []} in results
    assert {"lane": "lane2", "identifiers": ["340123450000007016"], "declarations": ["25DE0040560000007A"],
            "flags": ["TRANSPORT_MISMATCH"]} in results


def test_demo_decisions_reach_the_lanes(demo_60s: DemoRun) -> None:
    """Issue 18: the pre-clearance simulator decides; pre-cleared trucks get proceed, a flagged one the bay, and
    the clean truck's declaration, decided only after its passage, a new revision of its enriched record."""
    decided = {tuple(d["declarations"]): d for d in demo_60s.summary["lane_decisions"]}
    assert len(demo_60s.summary["lane_decisions"]) == 7
    for mrn in ("25DE0040560000006A", "25DE0040560000007A"):  # released before arrival, no flag that raises it
        assert (decided[(mrn,)]["signal"], decided[(mrn,)]["source"]) == ("proceed", "central"), decided
    biscuits = decided[("25DE0040560000003A",)]  # released, but an SSCC not declared: the inspection bay
    assert biscuits["signal"] == "inspection" and biscuits["outcome"] == "physical-inspection"
    late = decided[(CLEAN_TRUCK_MRN,)]
    assert late["revision"] >= 2 and late["source"] == "central" and late["outcome"] != "release"
    assert demo_60s.summary["revisions"] >= 1
    assert {"proceed", "inspection"} <= set(demo_60s.summary["signals"]), demo_60s.summary["signals"]
    assert demo_60s.summary["published"].get("customs/decision-ack", 0) >= 1
    assert demo_60s.summary["published"].get("ops/lane", 0) >= 1  # the lane signal topics


def test_demo_equals_the_offline_replay_of_its_seed(demo_60s: DemoRun) -> None:
    assert deterministic(demo_60s.summary) == offline_summary(SEED)


def test_same_seed_same_passages_and_flags_on_another_run(demo_60s: DemoRun, mqtt_broker: SharedBroker,
                                                          tmp_path: Path) -> None:
    # The scenario at twice the speed (a hidden option for tests): every passage still happens, in 30 s.
    rerun = DemoRun(["--duration", "28", "--speed", "2", "--seed", str(SEED), "--no-dashboard",
                     "--mqtt-url", f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}"], tmp_path).start()
    try:
        assert rerun.wait(timeout=120) == 0, rerun.output()
    finally:
        if rerun.process.poll() is None:
            rerun.process.kill()
    assert rerun.lines[0] == "dashboard  off (--no-dashboard)"
    assert rerun.address("broker     ") == f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}"
    assert "Traceback" not in rerun.stderr, rerun.stderr
    assert deterministic(rerun.summary) == deterministic(demo_60s.summary)


# -- the dashboard an officer works from (#23 item 6, #18 item 3), seen in Chromium during the run ----------

GREEN, AMBER = "rgb(46, 160, 67)", "rgb(210, 153, 34)"  # --ok, --warn of dashboard.html


def _seen(run: DemoRun) -> DashboardSeen:
    seen = run.dashboard
    if seen.skipped:
        pytest.skip(seen.skipped)
    assert seen.error is None, seen.error
    return seen


def test_dashboard_lane_says_what_to_do_in_words_and_colour_beside_the_truck(demo_60s: DemoRun) -> None:
    seen = _seen(demo_60s)
    proceed, bay = seen.proceed, seen.bay
    assert proceed["words"] == "Proceed" and proceed["border"] == GREEN and proceed["colour"] == GREEN, proceed
    # the clean truck (its SSCCs and declaration) or truck 6 (its plates and the movement's declaration)
    assert ("340123450000001014" in proceed["identity"] and CLEAN_TRUCK_MRN in proceed["identity"]) or \
        ("B-MV 6006" in proceed["identity"] and "25DE0040560000006A" in proceed["identity"]), proceed
    assert bay["words"] == "Go to the inspection bay" and bay["border"] == AMBER and bay["colour"] == AMBER, bay
    assert "340123450000002011" in bay["identity"] and "25DE0040560000002A" in bay["identity"], bay
    # its source (the demo's central system sends it to a physical inspection) and the flags that weigh
    assert "central decision" in bay["text"] or "local decision" in bay["text"], bay
    assert "SPS_DOC_MISSING" in bay["text"], bay


def test_dashboard_flag_opens_on_its_rule_and_evidence_and_shows_the_sps_referral(demo_60s: DemoRun) -> None:
    seen = _seen(demo_60s)
    assert "SPS_DOC_MISSING" in seen.flag_closed and "R-SPS-DOC@1" not in seen.flag_closed
    opened = seen.flag_opened
    assert "R-SPS-DOC@1" in opened and "25DE0040560000002A" in opened, opened  # the rule, the declaration
    assert "expected_docs" in opened and "N853" in opened and "VET" in opened, opened  # the rule's inputs
    assert "referred to SPS" in seen.referral and "N853" in seen.referral and "missing" in seen.referral


def test_dashboard_recent_flags_name_time_lane_passage_and_declaration(demo_60s: DemoRun) -> None:
    seen = _seen(demo_60s)
    row = seen.recent_flag
    time_cell, lane_cell, _passage_cell, declaration_cell, flag_cell = row["cells"]
    assert row["lane"] == lane_cell == "lane2" and row["passage"].startswith("lane2-"), row
    assert ":" in time_cell and "25DE0040560000002A" in declaration_cell and "SPS_DOC_MISSING" in flag_cell, row


def test_dashboard_history_lists_the_passages_and_filters_them(demo_60s: DemoRun) -> None:
    seen = _seen(demo_60s)
    assert len(seen.history_all) >= 6, seen.history_all
    assert len(seen.history_by_flag) == 2, seen.history_by_flag  # the undeclared trucks of lanes 1 and 2
    assert all("NO_DECLARATION" in row for row in seen.history_by_flag)
    assert len(seen.history_by_flag_and_lane) == 1 and "340123450000004015" in seen.history_by_flag_and_lane[0]
    assert len(seen.history_by_mrn) == 1 and "Go to the inspection bay" in seen.history_by_mrn[0]


def test_dashboard_says_in_plain_words_that_the_reader_is_down(demo_60s: DemoRun) -> None:
    seen = _seen(demo_60s)
    assert re.fullmatch(r"⚠ reader llrp-sim unreachable since \d\d:\d\d, retrying", seen.warning.strip()), seen.warning
    assert "Error" not in seen.sources_row and "Errno" not in seen.sources_row, seen.sources_row


def test_dashboard_has_no_console_errors(demo_60s: DemoRun) -> None:
    seen = _seen(demo_60s)
    assert seen.console_errors == [], seen.console_errors
    assert seen.requests_failed == [], seen.requests_failed
