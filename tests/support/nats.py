"""A NATS cluster of our own for the tests and benchmarks: JetStream and the MQTT listener on every node.

:func:`nats_cluster` starts ``nodes`` ``nats-server`` processes on free loopback ports in a temporary
directory, routed to each other, each with JetStream (file store) and an MQTT listener, waits until
JetStream has a leader, and stops them all on exit::

    with nats_cluster(3) as cluster:
        cluster.mqtt_urls                # ["mqtt://127.0.0.1:p1", ...] in node order
        cluster.kill(0)                  # SIGKILL node 0 (its data stays for restart(0))
        cluster.restart(0)

What NATS needs, and what its MQTT listener does not do (nats-server 2.9, Debian 12; see the
README section "Running on NATS" for what the gateway does about it):

* ``server_name`` on every node ("mqtt requires server name to be explicitly set"), and JetStream
  (a standalone server without it refuses the MQTT block).
* The first MQTT CONNECT creates the ``$MQTT_sess``, ``$MQTT_msgs`` and ``$MQTT_rmsgs`` streams,
  replicated on three nodes; that needs a JetStream meta leader, so :meth:`NatsCluster.wait_ready`
  waits for ``/healthz`` on every node before any client connects.
* MQTT 3.1.1 only in 2.9: an MQTT 5 CONNECT is refused (paho sees CONNACK code 1, "unacceptable
  protocol version"); a QoS 2 PUBLISH closes the connection; QoS 2 SUBSCRIBE is granted as 1.
* With a node down, a QoS 1 SUBSCRIBE may be denied (JetStream timeout, about 4 s) and succeed when
  retried: subscribers must re-subscribe when the SUBACK says 0x80.

Start/skip: :func:`nats_binary` raises :class:`NatsMissing` when ``nats-server`` is not installed
(Debian package ``nats-server``; ``scripts/setup.sh test`` installs it); the pytest fixture turns that
into a skip.  Facts above: nats-server 2.9.10 docs and our own runs on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gateway.service.broker import LOOPBACK, free_port, wait_port


class NatsMissing(RuntimeError):
    """``nats-server`` is not installed."""


def nats_binary() -> str:
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise NatsMissing("nats-server is not installed (Debian package 'nats-server'; scripts/setup.sh test installs it)")


@dataclass
class NatsNode:
    name: str
    workdir: Path
    client_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.mqtt_port}"

    @property
    def nats_url(self) -> str:
        return f"nats://{LOOPBACK}:{self.client_port}"

    @property
    def config_file(self) -> Path:
        return self.workdir / f"{self.name}.conf"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def write_config(self, cluster: str, routes: list[int], mqtt_extra: str = "") -> None:
        store = self.workdir / f"data-{self.name}"
        store.mkdir(parents=True, exist_ok=True)
        route_list = ", ".join(f"nats-route://{LOOPBACK}:{port}" for port in routes)
        self.config_file.write_text(
            f"server_name: {self.name}\n"
            f"listen: {LOOPBACK}:{self.client_port}\n"
            f"http: {LOOPBACK}:{self.http_port}\n"
            # small limits: a test cluster must not reserve the machine's memory or disk
            f"jetstream {{ store_dir: \"{store}\", max_memory_store: 64MB, max_file_store: 256MB }}\n"
            f"cluster {{ name: {cluster}, listen: {LOOPBACK}:{self.cluster_port}, routes: [{route_list}] }}\n"
            f"mqtt {{ listen: {LOOPBACK}:{self.mqtt_port}\n{mqtt_extra} }}\n",
            encoding="utf-8")

    def start(self) -> None:
        if self.running:
            return
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen([nats_binary(), "-c", str(self.config_file)],
                                            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        """``/healthz`` says ok: JetStream is up on this node and it knows a meta leader."""
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{self.http_port}/healthz", timeout=1) as response:
                return bool(json.loads(response.read()).get("status") == "ok")
        except (OSError, ValueError):
            return False


@dataclass
class NatsCluster:
    nodes: list[NatsNode]
    name: str = "bx-test"

    @property
    def mqtt_urls(self) -> list[str]:
        return [node.mqtt_url for node in self.nodes]

    @property
    def nats_urls(self) -> list[str]:
        """The nodes' NATS client URLs (JetStream clients, e.g. ``simulate preclearance --nats-url``)."""
        return [node.nats_url for node in self.nodes]

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0, nodes: list[int] | None = None) -> None:
        """Every (given) node listens for MQTT and reports JetStream healthy."""
        deadline = time.monotonic() + timeout
        for index in nodes if nodes is not None else range(len(self.nodes)):
            node = self.nodes[index]
            wait_port(LOOPBACK, node.mqtt_port, max(0.1, deadline - time.monotonic()))
            while not node.healthy():
                if not node.running:
                    raise RuntimeError(f"nats-server {node.name} exited: {node.log_file.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"NATS node {node.name} not healthy after {timeout}s")
                time.sleep(0.1)

    def kill(self, index: int) -> None:
        """SIGKILL one node (its JetStream store stays on disk for :meth:`restart`)."""
        self.nodes[index].stop(kill=True)

    def restart(self, index: int, timeout: float = 30.0) -> None:
        self.nodes[index].start()
        self.wait_ready(timeout, [index])

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def logs(self) -> str:
        """Every node's log (for assertion messages)."""
        return "\n".join(f"--- {n.name}\n{n.log_file.read_text()[-4000:]}" for n in self.nodes
                         if n.log_file.exists())


@contextlib.contextmanager
def nats_cluster(nodes: int = 3, workdir: Path | None = None, mqtt_extra: str = "",
                 timeout: float = 30.0) -> Iterator[NatsCluster]:
    """A running cluster of ``nodes`` nodes on loopback; stopped (and its directory removed) on exit.

    ``mqtt_extra`` goes into every node's ``mqtt {}`` block (e.g. ``ack_wait: "5s"``).
    Raises :class:`NatsMissing` when ``nats-server`` is not installed.
    """
    nats_binary()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bx-nats-")))
        cluster = NatsCluster([NatsNode(f"n{i}", workdir) for i in range(nodes)])
        routes = [node.cluster_port for node in cluster.nodes]
        for node in cluster.nodes:
            node.write_config(cluster.name, routes, mqtt_extra)
        stack.callback(cluster.stop)
        cluster.start(timeout)
        yield cluster
