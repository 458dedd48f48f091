"""``border-gateway run`` as an operator's service: systemd's notify protocol, one gateway per storage,
backup while it runs, and the unit file of ``deploy/``.

The service runs as a child process against the Mosquitto fixture.  The notify protocol is tested over
a real unix datagram socket bound by the test, as systemd binds its own: ``READY=1`` arrives once the
API answers, ``WATCHDOG=1`` every half ``WATCHDOG_USEC``, ``STOPPING=1`` on SIGTERM.  A second ``run``
of the same site file must refuse with one line before it connects to MQTT (the first gateway's
session is never taken over: no ``offline`` Last Will appears on its status topic) or binds the API.

No wall-clock time is asserted: every wait is bounded and only says what it waited for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.enrichment.importer import import_file
from gateway.enrichment.store import Store
from gateway.service.broker import LOOPBACK, free_port
from tests.publishing.support import Subscriber
from tests.support.brokers import SharedBroker

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "border-gateway.service"


def _site(tmp_path: Path, broker: SharedBroker, name: str, **storage: Any) -> Path:
    config = {"site": name, "gateway": "gw1", "lanes": [{"id": "lane1"}],
              "mqtt": {"url": broker.url, "keepalive_s": 5},
              "api": {"bind": f"{LOOPBACK}:{free_port()}", "tokens": ["write-token"]},
              "storage": {"path": str(tmp_path / "data"), **storage}}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(site: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(site)], cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **env})


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A unix datagram socket where systemd's would be (a short path: sun_path has 108 bytes)."""
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
    path = str(folder / f"bx-notify-{os.getpid()}-{time.monotonic_ns()}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    try:
        yield sock, path
    finally:
        sock.close()
        os.unlink(path)


def _datagrams(sock: socket.socket, until: Any, timeout: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(got):
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return got


def test_run_speaks_the_notify_protocol(tmp_path: Path, mqtt_broker: SharedBroker,
                                        notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    site = _site(tmp_path, mqtt_broker, "ops-notify", retention={"declarations": 30})
    api = "http://" + yaml.safe_load(site.read_text())["api"]["bind"]
    with Store(tmp_path / "data" / "enrichment.sqlite") as store:  # declarations received long ago
        assert import_file(store, "declarations", ROOT / "config" / "demo-data" / "declarations.json").outcomes
        store._db.execute("UPDATE declarations SET stored = 0")
    process = _start(site, tmp_path / "gateway.log", NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    try:
        got = _datagrams(sock, lambda g: any("READY=1" in d for d in g), 60)
        ready = next((d for d in got if "READY=1" in d), None)
        assert ready is not None, (tmp_path / "gateway.log").read_text()
        assert httpx.get(api + "/health", timeout=5).status_code == 200  # ready means the API answers, now
        assert "STATUS=running: site ops-notify, gateway gw1, 1 lanes" in ready.split("\n")
        pings = _datagrams(sock, lambda g: g.count("WATCHDOG=1") >= 3, 30)
        assert pings.count("WATCHDOG=1") >= 3, pings
        # The service applied the retention periods at start-up (then it does so daily).
        deadline = time.monotonic() + 20
        with Store(tmp_path / "data" / "enrichment.sqlite") as store:
            while store.counts()["declaration_versions"] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert store.counts()["declaration_versions"] == 0
        process.send_signal(signal.SIGTERM)
        stopping = _datagrams(sock, lambda g: any(d.startswith("STOPPING=1") for d in g), 30)
        assert any(d.startswith("STOPPING=1\nSTATUS=stopping") for d in stopping), stopping
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_second_gateway_on_the_same_storage_refuses(tmp_path: Path, mqtt_broker: SharedBroker) -> None:
    site = _site(tmp_path, mqtt_broker, "ops-twice")
    api = "http://" + yaml.safe_load(site.read_text())["api"]["bind"]
    status = Subscriber(mqtt_broker.host, mqtt_broker.port, "bx/v1/ops/ops-twice/gw1/status").start()
    first = _start(site, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            try:
                if httpx.get(api + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the first gateway never became ready:\n" + (tmp_path / "first.log").read_text())
        # the first gateway's birth, live (a retained message left by an earlier run comes with retain set)
        before = status.wait_for(lambda m: any(b'"online"' in r.payload and not r.retain for r in m), 10)
        assert before, "no online status"

        second = subprocess.run([sys.executable, "-m", "gateway.cli", "run", "--config", str(site)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert re.fullmatch(rf"border-gateway run: storage .*/data/ is in use by another gateway \(pid {first.pid}\);"
                            r" refusing to start a second gateway on it \(.*\)", lines[0]), lines[0]
        # The first gateway kept its session: no Last Will, no second "online", and it still answers.
        time.sleep(1.0)  # a takeover would have shown by now (the broker sends the Will at once)
        after = [json.loads(r.payload) for r in status.messages[len(before):]]
        assert not [p for p in after if p["state"] != "online" or p.get("reason") in ("lwt", "startup")], after
        assert httpx.get(api + "/ready", timeout=5).status_code == 200

        # While it runs: a backup works, a restore is refused.
        backup = subprocess.run([sys.executable, "-m", "gateway.cli", "backup", str(tmp_path / "b.tar.gz"),
                                 "-c", str(site)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert backup.returncode == 0 and "outbox (schema 1," in backup.stdout, backup.stderr
        restore = subprocess.run([sys.executable, "-m", "gateway.cli", "restore", str(tmp_path / "b.tar.gz"),
                                  "-c", str(site)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert restore.returncode == 1 and f"(pid {first.pid}): stop it first" in restore.stderr
        assert len(restore.stderr.strip().splitlines()) == 1
    finally:
        status.stop()
        first.send_signal(signal.SIGTERM)
        try:
            first.wait(60)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait(10)
    assert first.returncode == 0
    # Once it has stopped, the storage is free again: the restore goes through.
    restore = subprocess.run([sys.executable, "-m", "gateway.cli", "restore", str(tmp_path / "b.tar.gz"),
                              "-c", str(site)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert restore.returncode == 0, restore.stderr


def test_the_unit_file_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text()
    assert "ExecStart=/opt/border-gateway/bin/border-gateway --log-json run --config /etc/border-gateway/site.yaml" \
        in text
    # The state directory is the example site file's storage.path.
    example = yaml.safe_load((ROOT / "config" / "site.example.yaml").read_text())
    assert example["storage"]["path"] == "/var/lib/border-gateway" and "StateDirectory=border-gateway\n" in text
    # verify checks that ExecStart's program exists: point it at this environment's.
    program = Path(sys.executable).parent / "border-gateway"
    unit = tmp_path / "border-gateway.service"
    unit.write_text(text.replace("/opt/border-gateway/bin/border-gateway", str(program)))
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    ours = [line for line in (verify.stdout + verify.stderr).splitlines() if unit.name in line]
    assert verify.returncode == 0 and not ours, verify.stdout + verify.stderr
    # The hardening, as systemd rates it (0 = locked down, 10 = exposed); offline needs systemd >= 252.
    security = subprocess.run([analyze, "security", "--offline=true", "--threshold=30", str(unit)],
                              capture_output=True, text=True, timeout=60)
    if "--offline" in security.stderr and "unrecognized" in security.stderr:
        return
    assert security.returncode == 0, security.stdout[-2000:] + security.stderr
    assert re.search(r"Overall exposure level for border-gateway.service: [0-2]\.\d", security.stdout)


def test_start_up_failures_are_one_line(tmp_path: Path, mqtt_broker: SharedBroker) -> None:
    """A certificate that cannot be loaded, a database from a newer release: one line, exit 1, nothing bound."""
    site = _site(tmp_path, mqtt_broker, "ops-fail")
    config = yaml.safe_load(site.read_text())
    config["api"]["tls"] = {"cert": str(tmp_path / "missing.crt"), "key": str(tmp_path / "missing.key")}
    site.write_text(yaml.safe_dump(config))
    run = subprocess.run([sys.executable, "-m", "gateway.cli", "run", "--config", str(site)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stderr.strip().splitlines() == [
        f"border-gateway run: api.tls: {tmp_path / 'missing.crt'}: no such file or directory"], run.stderr
    del config["api"]["tls"]
    site.write_text(yaml.safe_dump(config))
    (tmp_path / "data").mkdir(exist_ok=True)
    db = sqlite3.connect(tmp_path / "data" / "enrichment.sqlite")
    db.execute("PRAGMA user_version = 99")
    db.close()
    run = subprocess.run([sys.executable, "-m", "gateway.cli", "run", "--config", str(site)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "enrichment database" in run.stderr and "has schema version 99, newer than this release knows" \
        in run.stderr
