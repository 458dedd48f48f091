"""``border-gateway simulate rfid-mercury|rfid-ascii`` and ``border-gateway read URL`` as installers run them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

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
