"""``border-gateway simulate rfid-llrp`` and ``border-gateway read llrp://...`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("version", ["1.1", "1.0.1"])
def test_simulate_then_read_json(version: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sim = subprocess.Popen([sys.executable, "-m", "gateway.cli", "simulate", "rfid-llrp", "--host", "127.0.0.1",
                            "--port", "0", "--tags", "5", "--rate", "300", "--llrp-version", version],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert sim.stdout is not None
        address = sim.stdout.readline().strip()
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        out = subprocess.run([sys.executable, "-m", "gateway.cli", "read", f"llrp://{address}?timeout=3",
                              "--limit", "7", "--format", "json", "--timeout", "20"],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(lines) == 7
        first = lines[0]
        assert first["carrier"] == "rfid" and first["antenna"] == 1 and first["key_type"] == "sgtin"
        assert len(first["epc_hex"]) == 24 and first["rssi_dbm"] is not None
        assert "connected" in out.stderr and f"LLRP {version}" in out.stderr  # negotiated, or fell back
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait(5)
