"""``border-gateway simulate rfid-mercury|rfid-ascii`` and ``border-gateway read URL`` as installers run them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize(("kind", "url"), [
    ("rfid-mercury", "mercury://{path}?region=EU&antennas=1,2"),
    ("rfid-ascii", "serial-ascii://{path}?format=alien"),
])
def test_simulate_then_read_json(kind: str, url: str) -> None:
    extra = ["--format", "alien"] if kind == "rfid-ascii" else ["--antennas", "1,2"]
    sim = subprocess.Popen([sys.executable, "-m", "gateway", "simulate", kind, "--tags", "4", "--rate", "100", *extra],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        path = sim.stdout.readline().strip()
        assert Path(path).exists()
        out = subprocess.run([sys.executable, "-m", "gateway", "read", url.format(path=path), "--limit", "5",
                              "--format", "json", "--timeout", "30"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(lines) == 5
        for row in lines:
            assert {"reader", "antenna", "rssi_dbm", "epc_hex", "scheme", "uri", "elements", "reader_time",
                    "host_time"} <= row.keys()
            assert row["scheme"] == "sgtin-96" and row["uri"].startswith("urn:epc:id:sgtin:")
        assert "connected" in out.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        assert sim.wait(10) == 0


@pytest.mark.parametrize("scenario", ["config/scenarios/demo.yaml", "tests/fixtures/e2e/four-trucks.yaml"])
def test_mercury_simulator_plays_the_shipped_scenarios(scenario: str) -> None:
    """Issue #22 item 12: ``--scenario`` takes the GS1-tag scenario files the LLRP simulator and the demo use
    (it failed with ``'epcs'``); the Mercury module at lane 2 reads truck 2's tags (``also_read_by``)."""
    sim = subprocess.Popen([sys.executable, "-m", "gateway", "simulate", "rfid-mercury", "--scenario", scenario,
                            "--reader", "mercury-sim", "--speed", "10"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        path = sim.stdout.readline().strip()
        assert Path(path).exists(), sim.stderr.read() if sim.stderr else ""
        out = subprocess.run([sys.executable, "-m", "gateway", "read", f"mercury://{path}?region=EU", "--limit", "3",
                              "--format", "json", "--timeout", "30"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        truck2 = next(t for t in load_scenario(ROOT / scenario).trucks if t.name.startswith("2 "))
        assert len(rows) == 3 and {row["epc_hex"] for row in rows} <= set(truck2.epcs)
    finally:
        sim.send_signal(signal.SIGTERM)
        assert sim.wait(10) == 0


def test_simulators_name_a_reader_the_scenario_does_not_have() -> None:
    for kind in ("rfid-mercury", "rfid-llrp"):
        out = subprocess.run([sys.executable, "-m", "gateway", "simulate", kind, "--scenario",
                              "config/scenarios/demo.yaml", "--reader", "nope"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "reader 'nope' is not in" in out.stderr and "mercury-sim" in out.stderr
        assert "Traceback" not in out.stderr
