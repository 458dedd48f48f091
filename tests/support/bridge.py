"""A post's site broker bridged to a central broker: two Mosquitto processes on loopback.

:func:`bridged_site` starts a central Mosquitto (the fixture kind: persistence on, stop/start keep its
port and data) and a site Mosquitto running the shipped example ``config/mosquitto/site-bridge.conf``
made runnable here by :func:`loopback_bridge_config`::

    with bridged_site(tmp_path) as (site, central):
        site.url, central.url             # gateways publish to site, consumers read central
        central.stop(); central.start()   # the outage the bridge must ride out

or, against another central broker (a NATS cluster), ``SiteBroker(workdir, central="h:p1 h:p2 h:p3")``.

:func:`loopback_bridge_config` changes only what cannot work on a test machine: the listener port,
the persistence and log paths, the central address (``127.0.0.1:port``), the TLS lines (dropped: the
central broker here has a plain listener), ``restart_timeout`` (short, so that a test does not wait
out a production backoff after the centre returns) and, as root, ``user root``.  Everything the
example says about queues, QoS, sessions and topics is used as shipped.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.service.broker import LOOPBACK, MosquittoBroker

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "mosquitto" / "site-bridge.conf"
EXAMPLE_SITE = "de-ffo"  # the site id the example is written for
_TLS_KEYS = ("bridge_cafile", "bridge_capath", "bridge_certfile", "bridge_keyfile", "bridge_insecure",
             "bridge_tls_version")


def _set(text: str, key: str, value: str) -> str:
    """Replace the (first) ``key ...`` line; fail loudly when the example no longer has it."""
    pattern = re.compile(rf"^{re.escape(key)}\b.*$", re.MULTILINE)
    if not pattern.search(text):
        raise ValueError(f"{EXAMPLE.name} has no '{key}' line")
    return pattern.sub(lambda _: f"{key} {value}", text, count=1)


def loopback_bridge_config(example: str, *, port: int, central: str, workdir: Path,
                           restart_timeout: str = "1 2") -> str:
    text = _set(example, "listener", f"{port} {LOOPBACK}")
    text = _set(text, "persistence_location", f"{workdir / 'data'}/")
    text = _set(text, "address", central)
    text = _set(text, "restart_timeout", restart_timeout)
    text = "\n".join(line for line in text.splitlines() if not line.startswith(_TLS_KEYS))
    head = f"log_dest file {workdir / 'mosquitto.log'}\nlog_type error\nlog_type warning\nlog_type notice\n"
    if os.geteuid() == 0:
        head += "user root\n"  # as root, mosquitto would drop to user 'mosquitto', who cannot read our files
    return head + text + "\n"


@dataclass
class SiteBroker(MosquittoBroker):
    """A Mosquitto running the bridge example against ``central``: ``host:port``, or several separated
    by spaces (the nodes of a cluster; the example's ``round_robin true`` stays on whichever answers)."""

    central: str = ""
    example: Path = EXAMPLE

    def write_config(self) -> None:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            loopback_bridge_config(self.example.read_text(encoding="utf-8"), port=self.port,
                                   central=self.central, workdir=self.workdir),
            encoding="utf-8")


@contextlib.contextmanager
def bridged_site(workdir: Path) -> Iterator[tuple[SiteBroker, MosquittoBroker]]:
    """The site broker (bridge example) and the central broker, both running; both stopped on exit."""
    central = MosquittoBroker(workdir=workdir / "central")
    site = SiteBroker(workdir=workdir / "site", central=f"{central.host}:{central.port}")
    try:
        central.start()
        site.start()
        yield site, central
    finally:
        site.stop(kill=True)
        central.stop(kill=True)


def bridge_state_topic(site: str = EXAMPLE_SITE) -> str:
    """The example's notification topic: retained ``1`` while the bridge is connected, ``0`` when not."""
    return f"bx/v1/ops/{site}/_bridge/state"
