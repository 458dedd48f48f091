"""A local Mosquitto broker for the demo (and the tests): a free loopback port, a generated
config file, on-disk persistence, stop and restart on the same port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError("mosquitto is not installed (Debian package 'mosquitto'; ./run.sh installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class MosquittoBroker:
    """A mosquitto process of our own; ``stop()``/``start()`` keep its port and its data."""

    workdir: Path
    port: int = field(default_factory=free_port)
    host: str = LOOPBACK
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        # As root, mosquitto would drop to user 'mosquitto', which cannot read our files.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config_file.write_text(
            f"{user}per_listener_settings true\n"
            f"persistence true\npersistence_location {data}/\nautosave_interval 1\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\nlog_type error\nlog_type warning\n"
            f"log_type notice\n"
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            f"{self.extra_config}\n",
            encoding="utf-8",
        )

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        self.write_config()
        self.process = subprocess.Popen([mosquitto_binary(), "-c", str(self.config_file)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            log = self.workdir / "mosquitto.log"
            raise RuntimeError(f"mosquitto did not start: {log.read_text() if log.exists() else ''}") from None

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
